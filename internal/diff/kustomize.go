package diff

import (
	"fmt"
	"path"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// compareKustomizeFiles compares the kustomize configuration files
// (kustomization.yaml) of one environment's old and new trees and returns
// what the object changes do not already show (rules in the package
// comment):
//   - a file added or removed with its whole directory is left out;
//     one added to or removed from a directory that keeps other files is
//     listed (Flux generates a kustomization.yaml that takes every manifest
//     of a directory that has none);
//   - a resources entry added for a file or directory new in the tree, or
//     removed with its file or directory, is left out (the objects show
//     it); one removed while its target is still in the tree is listed,
//     with a deleted risk: Flux stops applying the target's objects;
//   - order changes of resources are left out: kustomize-controller
//     applies objects in its own order (by kind), not the list's;
//   - any other change is listed.
func compareKustomizeFiles(old, cur *tree) ([]FileDiff, error) {
	paths := map[string]bool{}
	for p := range old.kfiles {
		paths[p] = true
	}
	for p := range cur.kfiles {
		paths[p] = true
	}
	var out []FileDiff
	for _, p := range sortedSet(paths) {
		a, b := old.kfiles[p], cur.kfiles[p]
		switch {
		case a == b:
		case a == nil:
			if dirHasOther(old, p) {
				out = append(out, FileDiff{File: p, Change: ChangeAdded})
			}
		case b == nil:
			if dirHasOther(cur, p) {
				out = append(out, FileDiff{File: p, Change: ChangeRemoved})
			}
		default:
			cs, err := objectChanges(a, b)
			if err != nil {
				return nil, err
			}
			fd := FileDiff{File: p, Change: ChangeChanged}
			var kept []change
			for _, c := range cs {
				if len(c.path) == 0 || c.path[0].Name != "resources" || len(c.path) > 1 {
					kept = append(kept, c)
					continue
				}
				entry := ""
				switch c.kind {
				case FieldAdded:
					entry = scalarValue(c.to)
					if entry != "" && !exists(old, resolve(p, entry)) {
						continue // a new file: its objects show it
					}
				case FieldRemoved:
					entry = scalarValue(c.from)
					if entry != "" && !exists(cur, resolve(p, entry)) {
						continue // removed with its file: its objects show it
					}
					if entry != "" {
						fd.Risks = append(fd.Risks, droppedResourceRisk(cur, b, entry))
					}
				case FieldOrder:
					continue
				}
				kept = append(kept, c)
			}
			if len(kept) == 0 {
				continue
			}
			fd.Fields = fieldChanges(b, kept)
			fd.Risks = sortRisks(fd.Risks)
			out = append(out, fd)
		}
	}
	return out, nil
}

// scalarValue is n's value when n is a scalar, else "".
func scalarValue(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// resolve returns the output path of a resources entry of the kustomize
// file kfile; "" for a remote entry (a URL).
func resolve(kfile, entry string) string {
	if strings.Contains(entry, "://") || strings.HasPrefix(entry, "github.com/") {
		return ""
	}
	return path.Join(path.Dir(kfile), entry)
}

// exists reports whether p is a file of t or a directory holding one; a
// remote entry ("") is taken to exist.
func exists(t *tree, p string) bool {
	if p == "" || t.files[p] {
		return true
	}
	for f := range t.files {
		if strings.HasPrefix(f, p+"/") {
			return true
		}
	}
	return false
}

// dirHasOther reports whether the directory of kustomize file p holds
// another file in t.
func dirHasOther(t *tree, p string) bool {
	dir := path.Dir(p) + "/"
	for f := range t.files {
		if f != p && strings.HasPrefix(f, dir) {
			return true
		}
	}
	return false
}

// droppedResourceRisk is the deleted risk of a resources entry removed from
// kustomize file k while its target is still in the tree cur.
func droppedResourceRisk(cur *tree, k *object, entry string) Risk {
	target := resolve(k.file, entry)
	var refs []string
	for _, o := range sortedObjects(cur) {
		if o.file == target || strings.HasPrefix(o.file, target+"/") {
			refs = append(refs, o.ref())
		}
	}
	sort.Strings(refs)
	objs, them, they := "its objects", "them", "they stay"
	if len(refs) > 0 {
		objs = fmt.Sprintf("its %s (%s)", plural(len(refs), "object"), strings.Join(refs, ", "))
	}
	if len(refs) == 1 {
		them, they = "it", "it stays"
	}
	gone := fmt.Sprintf("if the Flux Kustomization that applies the directory has prune: true, Flux deletes %s from the cluster", them)
	if own := cur.owner(k); own != nil {
		if own.prune == "true" {
			gone = fmt.Sprintf("%s has prune: true, so Flux deletes %s from the cluster", own.ref, them)
		} else {
			gone = fmt.Sprintf("%s has prune: %s, so %s in the cluster, no longer managed", own.ref, orUnset(own.prune), they)
		}
	}
	return Risk{Class: ClassDeleted, Level: LevelHigh, Message: fmt.Sprintf(
		"resources no longer lists %s, which is still in the tree: Flux stops applying %s; %s", entry, objs, gone)}
}
