package diff

import (
	"fmt"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Kinds of volume settings.
const (
	volSize    = "size"
	volClass   = "class"
	volEnabled = "enabled"
)

// volumeSettings returns the volume settings of o by dotted path: sizes
// (a "storage" under resources.requests: PersistentVolumeClaims,
// StatefulSet volumeClaimTemplates, Prometheus' storageSpec; a "size"
// under "persistence" or "persistentVolume": the charts' values), storage
// classes (keys storageClass, storageClassName, defaultStorageClass) and
// persistence switches ("enabled" under "persistence"). A HelmRelease's
// are read in spec.values, other objects' everywhere; a StorageClass has
// none (storageClassRisks).
func volumeSettings(o *object) map[string][2]string {
	root, base := o.root, ""
	switch {
	case o.kind == "HelmRelease" && strings.HasPrefix(o.apiVersion, helmAPIPrefix):
		root, base = lookup(o.root, "spec", "values"), "spec.values"
	case o.kind == "StorageClass":
		return nil
	}
	out := map[string][2]string{}
	var visit func(n *yaml.Node, p []string)
	visit = func(n *yaml.Node, p []string) {
		n = deref(n)
		if n == nil {
			return
		}
		switch n.Kind {
		case yaml.SequenceNode:
			for i, c := range n.Content {
				visit(c, append(p[:len(p):len(p)], fmt.Sprintf("[%d]", i)))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, deref(n.Content[i+1])
				q := append(p[:len(p):len(p)], k)
				if v != nil && v.Kind == yaml.ScalarNode {
					if kind := volumeKey(p, k); kind != "" {
						out[joinPath(base, q)] = [2]string{kind, v.Value}
					}
					continue
				}
				visit(v, q)
			}
		}
	}
	visit(root, nil)
	return out
}

// volumeKey says which volume setting key k under path p is, or "".
func volumeKey(p []string, k string) string {
	parent, grand := "", ""
	if len(p) > 0 {
		parent = p[len(p)-1]
	}
	if len(p) > 1 {
		grand = p[len(p)-2]
	}
	persistence := parent == "persistence" || parent == "persistentVolume"
	switch {
	case k == "storage" && parent == "requests" && grand == "resources",
		k == "size" && persistence:
		return volSize
	case k == "storageClass" || k == "storageClassName" || k == "defaultStorageClass":
		return volClass
	case k == "enabled" && persistence:
		return volEnabled
	}
	return ""
}

// joinPath writes base and the keys p as a dotted path (list indexes
// written [i], keys that need it quoted, as formatPath does).
func joinPath(base string, p []string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, k := range p {
		switch {
		case strings.HasPrefix(k, "["):
			b.WriteString(k)
		case plainKey(k):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		default:
			fmt.Fprintf(&b, "[%q]", k)
		}
	}
	return b.String()
}

// storageRisks are the storage rules on a changed object (the package
// comment has them and their sources).
func storageRisks(a, b *object) []Risk {
	if b.kind == "StorageClass" && b.apiVersion == "storage.k8s.io/v1" {
		return storageClassRisks(a, b)
	}
	sa, sb := volumeSettings(a), volumeSettings(b)
	paths := map[string]bool{}
	for p := range sa {
		paths[p] = true
	}
	for p := range sb {
		paths[p] = true
	}
	var rs []Risk
	for _, p := range sortedSet(paths) {
		x, y := sa[p], sb[p]
		if x[1] == y[1] {
			continue
		}
		kind := x[0]
		if kind == "" {
			kind = y[0]
		}
		old, cur := orUnset(x[1]), orUnset(y[1])
		switch kind {
		case volSize:
			qa, errA := resource.ParseQuantity(x[1])
			qb, errB := resource.ParseQuantity(y[1])
			switch {
			case errA == nil && errB == nil && qb.Cmp(qa) < 0:
				rs = append(rs, Risk{Class: ClassStorage, Level: LevelHigh, Message: fmt.Sprintf(
					"volume size %s → %s at %s: a PersistentVolumeClaim cannot shrink, so the apply or upgrade fails (a StatefulSet's volumeClaimTemplates cannot change at all), and new volumes get less room for the same data",
					old, cur, p)})
			case errA == nil && errB == nil && qb.Cmp(qa) == 0:
				// the same size written another way
			case errA == nil && errB == nil:
				rs = append(rs, Risk{Class: ClassStorage, Level: LevelMedium, Message: fmt.Sprintf(
					"volume size %s → %s at %s: existing claims grow only where their StorageClass allows volume expansion, and a StatefulSet's volumeClaimTemplates cannot change in place (the upgrade fails until the StatefulSet is recreated, its claims expanded by hand)",
					old, cur, p)})
			default:
				rs = append(rs, Risk{Class: ClassStorage, Level: LevelMedium, Message: fmt.Sprintf(
					"volume size %s → %s at %s (the chart's default where unset): existing claims cannot shrink, and a StatefulSet's volumeClaimTemplates cannot change in place",
					old, cur, p)})
			}
		case volClass:
			rs = append(rs, Risk{Class: ClassStorage, Level: LevelHigh, Message: fmt.Sprintf(
				"storage class %s → %s at %s (the cluster's default class where unset): a claim's class cannot change, so existing volumes keep theirs and a StatefulSet's volumeClaimTemplates update fails; moving the data to the new class is a migration",
				old, cur, p)})
		case volEnabled:
			if y[1] == "false" && x[1] != "false" {
				rs = append(rs, Risk{Class: ClassStorage, Level: LevelHigh, Message: fmt.Sprintf(
					"persistence %s → %s at %s: the pods keep their data in a volume that lives and dies with the pod (emptyDir), and the existing volumes are no longer used",
					old, cur, p)})
			}
		}
	}
	return rs
}

// storageClassImmutable are the StorageClass fields the API server refuses
// to update (Kubernetes storage validation, ValidateStorageClassUpdate).
var storageClassImmutable = []string{"parameters", "provisioner", "reclaimPolicy", "volumeBindingMode"}

// defaultClassAnnotation marks the cluster's default StorageClass
// (Kubernetes, "Change the default StorageClass").
const defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// storageClassRisks flags a StorageClass's immutable fields changed (high:
// the apply fails, or with the Flux Kustomization's spec.force the class is
// deleted and recreated) and its default-class annotation changed (medium:
// claims without a class get another one).
func storageClassRisks(a, b *object) []Risk {
	var rs []Risk
	var changed []string
	for _, f := range storageClassImmutable {
		if !equalNodes(lookup(a.root, f), lookup(b.root, f)) {
			changed = append(changed, f)
		}
	}
	sort.Strings(changed)
	if len(changed) > 0 {
		rs = append(rs, Risk{Class: ClassStorage, Level: LevelHigh, Message: fmt.Sprintf(
			"StorageClass %s: %s cannot change: the API server refuses the update, so Flux's apply fails (with spec.force on the Flux Kustomization, it deletes and recreates the class); existing volumes keep the old settings",
			b.name, strings.Join(changed, ", "))})
	}
	da := scalar(a.root, "metadata", "annotations", defaultClassAnnotation)
	db := scalar(b.root, "metadata", "annotations", defaultClassAnnotation)
	if da != db && (da == "true" || db == "true") {
		rs = append(rs, Risk{Class: ClassStorage, Level: LevelMedium, Message: fmt.Sprintf(
			"StorageClass %s: %s %s → %s: new claims that name no class get another one",
			b.name, defaultClassAnnotation, orUnset(da), orUnset(db))})
	}
	return rs
}
