package verify

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/render"
)

const (
	srcRefKustomization = "Flux Kustomization API: spec.sourceRef, spec.dependsOn, spec.decryption, spec.postBuild.substituteFrom"
	srcRefHelmRelease   = "Flux HelmRelease API: spec.chart.spec.sourceRef, spec.chartRef, spec.dependsOn, spec.valuesFrom"
	srcRefSource        = "Flux source API: spec.secretRef, spec.certSecretRef"
	srcRefSecrets       = "README, \"Secrets\" (render.Result.Secrets): the Secrets an operator creates before Flux reconciles"
	srcNamespace        = "Kubernetes: an object's namespace must exist before it is created"
	srcCycle            = "Flux dependsOn: a cycle means no object of it ever becomes ready"
)

// preexistingNamespaces exist in every cluster katonic targets: Kubernetes'
// own, and flux-system (created by flux bootstrap).
var preexistingNamespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system", render.FluxNamespace}

// refs runs layer 3 over the cluster's objects.
func (v *envVerifier) refs() {
	known := map[string]*object{}
	namespaces := map[string]bool{}
	for _, ns := range preexistingNamespaces {
		namespaces[ns] = true
	}
	for _, o := range v.objects {
		known[key(o.kind, o.namespace, o.name)] = o
		if o.is("", "Namespace") {
			namespaces[o.name] = true
		}
	}
	documented := map[string]bool{}
	for _, s := range v.env.Secrets {
		documented[key("Secret", s.Namespace, s.Name)] = true
	}
	exists := func(kind, ns, name string) bool {
		if kind == "GitRepository" && ns == render.FluxNamespace && name == render.FluxNamespace {
			return true // flux bootstrap's own source
		}
		_, ok := known[key(kind, ns, name)]
		return ok
	}

	// ref checks one reference held at field of o.
	ref := func(o *object, field, kind, ns, name string, allowed []string, src string) {
		if ns == "" {
			ns = o.namespace
		}
		switch {
		case name == "":
			v.add(LayerRefs, diag.Error, o, field, "verify.refs", src, "reference without a name")
		case allowed != nil && !slices.Contains(allowed, kind):
			v.add(LayerRefs, diag.Error, o, field, "verify.refs", src, "%s cannot reference a %s (want %s)", o.kind, kind, strings.Join(allowed, " or "))
		case kind == "Secret" && documented[key(kind, ns, name)]:
		case !exists(kind, ns, name):
			what := "is not rendered for this cluster"
			if kind == "Secret" {
				what = "is neither rendered nor a documented pre-existing Secret"
			}
			v.add(LayerRefs, diag.Error, o, field, "verify.refs.dangling", src, "%s/%s/%s %s", kind, ns, name, what)
		}
	}
	nsUsed := func(o *object, field, ns string) {
		if ns != "" && !namespaces[ns] {
			v.add(LayerRefs, diag.Error, o, field, "verify.refs.namespace", srcNamespace,
				"namespace %q is not created by any object of this cluster", ns)
		}
	}

	for _, o := range v.objects {
		nsUsed(o, "metadata.namespace", o.namespace)
		spec, _ := o.m["spec"].(map[string]any)
		str := func(keys ...string) string { s, _ := nested(spec, keys...).(string); return s }
		switch {
		case o.is(kustomizeGroup, "Kustomization"):
			ref(o, "spec.sourceRef", str("sourceRef", "kind"), str("sourceRef", "namespace"), str("sourceRef", "name"),
				[]string{"GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"}, srcRefKustomization)
			for i, d := range list(spec, "dependsOn") {
				ref(o, fmt.Sprintf("spec.dependsOn[%d].name", i), "Kustomization", stringAt(d, "namespace"), stringAt(d, "name"), nil, srcRefKustomization)
			}
			nsUsed(o, "spec.targetNamespace", str("targetNamespace"))
			if n := str("decryption", "secretRef", "name"); n != "" {
				ref(o, "spec.decryption.secretRef", "Secret", "", n, nil, srcRefKustomization)
			}
			postBuild, _ := nested(spec, "postBuild").(map[string]any)
			for i, s := range list(postBuild, "substituteFrom") {
				if opt, _ := s["optional"].(bool); !opt {
					ref(o, fmt.Sprintf("spec.postBuild.substituteFrom[%d]", i), stringAt(s, "kind"), "", stringAt(s, "name"), []string{"ConfigMap", "Secret"}, srcRefKustomization)
				}
			}
		case o.is(helmGroup, "HelmRelease"):
			if sr, ok := nested(spec, "chart", "spec", "sourceRef").(map[string]any); ok {
				ref(o, "spec.chart.spec.sourceRef", stringAt(sr, "kind"), stringAt(sr, "namespace"), stringAt(sr, "name"),
					[]string{"HelmRepository", "GitRepository", "Bucket"}, srcRefHelmRelease)
			}
			if cr, ok := spec["chartRef"].(map[string]any); ok {
				ref(o, "spec.chartRef", stringAt(cr, "kind"), stringAt(cr, "namespace"), stringAt(cr, "name"),
					[]string{"OCIRepository", "HelmChart", "ExternalArtifact"}, srcRefHelmRelease)
			}
			for i, d := range list(spec, "dependsOn") {
				ref(o, fmt.Sprintf("spec.dependsOn[%d].name", i), "HelmRelease", stringAt(d, "namespace"), stringAt(d, "name"), nil, srcRefHelmRelease)
			}
			for i, vf := range list(spec, "valuesFrom") {
				if opt, _ := vf["optional"].(bool); !opt {
					ref(o, fmt.Sprintf("spec.valuesFrom[%d].name", i), stringAt(vf, "kind"), "", stringAt(vf, "name"), []string{"ConfigMap", "Secret"}, srcRefHelmRelease)
				}
			}
			if create, _ := nested(spec, "install", "createNamespace").(bool); !create {
				nsUsed(o, "spec.targetNamespace", str("targetNamespace"))
				nsUsed(o, "spec.storageNamespace", str("storageNamespace"))
			}
		case o.group() == sourceGroup:
			for _, f := range []string{"secretRef", "certSecretRef", "proxySecretRef"} {
				if n := str(f, "name"); n != "" {
					ref(o, "spec."+f, "Secret", "", n, nil, srcRefSource)
				}
			}
		}
	}
	v.cycles("Kustomization")
	v.cycles("HelmRelease")
}

// cycles reports each dependsOn cycle among the cluster's objects of kind
// once, on its lexically first member.
func (v *envVerifier) cycles(kind string) {
	byID := map[string]*object{}
	edges := map[string][]string{}
	for _, o := range v.objects {
		if o.kind != kind || !strings.HasSuffix(o.group(), ".toolkit.fluxcd.io") {
			continue
		}
		id := o.namespace + "/" + o.name
		byID[id] = o
		spec, _ := o.m["spec"].(map[string]any)
		for _, d := range list(spec, "dependsOn") {
			ns := stringAt(d, "namespace")
			if ns == "" {
				ns = o.namespace
			}
			edges[id] = append(edges[id], ns+"/"+stringAt(d, "name"))
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	reported := map[string]bool{}
	var stack []string
	var visit func(id string)
	visit = func(id string) {
		color[id] = grey
		stack = append(stack, id)
		for _, next := range edges[id] {
			if _, ok := byID[next]; !ok {
				continue // dangling: the refs check reports it
			}
			switch color[next] {
			case white:
				visit(next)
			case grey:
				i := slices.Index(stack, next)
				cyc := append([]string(nil), stack[i:]...)
				// Rotate so the cycle starts at its smallest member: one
				// report per cycle, whatever the walk order.
				m := 0
				for j := range cyc {
					if cyc[j] < cyc[m] {
						m = j
					}
				}
				cyc = append(cyc[m:], cyc[:m]...)
				k := strings.Join(cyc, ",")
				if reported[k] {
					continue
				}
				reported[k] = true
				names := make([]string, 0, len(cyc)+1)
				for _, c := range cyc {
					names = append(names, byID[c].name)
				}
				names = append(names, byID[cyc[0]].name)
				v.add(LayerRefs, diag.Error, byID[cyc[0]], "spec.dependsOn", "verify.refs.cycle", srcCycle,
					"dependsOn cycle: %s", strings.Join(names, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		color[id] = black
	}
	for _, id := range ids {
		if color[id] == white {
			visit(id)
		}
	}
}

// list returns m[k] as a list of objects, skipping other elements.
func list(m map[string]any, k string) []map[string]any {
	raw, _ := m[k].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		if mm, ok := x.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

func stringAt(m map[string]any, k string) string { s, _ := m[k].(string); return s }
