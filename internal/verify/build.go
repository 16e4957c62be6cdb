package verify

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	fluxfs "github.com/fluxcd/pkg/kustomize/filesys"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resmap"

	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/render"
)

// Sources of the build layer's rules.
const (
	srcKustomizeController = "kustomize-controller build (github.com/fluxcd/pkg/kustomize)"
	srcPostBuild           = "Flux Kustomization spec.postBuild, kustomize-controller variable substitution"
	bootstrapSource        = "GitRepository/flux-system" // created by flux bootstrap
)

// object is one Kubernetes object of the cluster, as built.
type object struct {
	m                                 map[string]any
	apiVersion, kind, namespace, name string
	// via names what built it: "clusters/<env>" for the cluster entry, else
	// the Flux Kustomization's id.
	via string
	// file is the absolute path the object came from, when known without
	// the index (the cluster entry's directory).
	file string
}

func newObject(m map[string]any, via, file string) *object {
	u := unstructured.Unstructured{Object: m}
	return &object{m: m, apiVersion: u.GetAPIVersion(), kind: u.GetKind(),
		namespace: u.GetNamespace(), name: u.GetName(), via: via, file: file}
}

// id is Kind/namespace/name, or Kind/name for cluster-scoped objects.
func (o *object) id() string {
	if o.namespace == "" {
		return o.kind + "/" + o.name
	}
	return o.kind + "/" + o.namespace + "/" + o.name
}

// group returns the API group of o ("" for the core group).
func (o *object) group() string {
	if i := strings.IndexByte(o.apiVersion, '/'); i >= 0 {
		return o.apiVersion[:i]
	}
	return ""
}

func (o *object) is(group, kind string) bool { return o.kind == kind && o.group() == group }

const (
	kustomizeGroup = "kustomize.toolkit.fluxcd.io"
	helmGroup      = "helm.toolkit.fluxcd.io"
	sourceGroup    = "source.toolkit.fluxcd.io"
)

// build runs layer 1: it builds clusters/<env>/ (what flux bootstrap's
// Kustomization points at), then every Flux Kustomization it finds, breadth
// first, the way kustomize-controller would, collecting their objects.
func (v *envVerifier) build() {
	name := v.env.Env.Name
	entry := path.Join(v.tree.out, "clusters", name)
	entryAbs := v.tree.abs(entry)
	v.index.indexDir(entryAbs)
	v.index.indexDir(v.tree.abs(path.Join(v.tree.out, "environments", name)))
	if fi, err := os.Stat(entryAbs); err != nil || !fi.IsDir() {
		v.add(LayerBuild, diag.Error, nil, "", "verify.build.path", srcKustomizeController,
			"%s: cluster directory %s does not exist; run 'katonic render'", name, diag.Rel(v.opts.WorkDir, v.tree.shown(entryAbs)))
		return
	}
	bootstrap := unstructured.Unstructured{Object: map[string]any{
		"apiVersion": kustomizeGroup + "/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": render.FluxNamespace, "namespace": render.FluxNamespace},
		"spec":     map[string]any{"path": "./" + entry, "prune": true, "sourceRef": map[string]any{"kind": "GitRepository", "name": render.FluxNamespace}},
	}}
	objs, err := v.kustomize(bootstrap, entryAbs)
	if err != nil {
		v.add(LayerBuild, diag.Error, nil, "", "verify.build", srcKustomizeController,
			"%s: building %s: %v", name, diag.Rel(v.opts.WorkDir, v.tree.shown(entryAbs)), err)
		return
	}
	queue := []*object{}
	for _, m := range objs {
		o := newObject(m, "clusters/"+name, "")
		v.objects = append(v.objects, o)
		queue = append(queue, o)
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		if !o.is(kustomizeGroup, "Kustomization") || seen[o.id()] {
			continue
		}
		seen[o.id()] = true
		for _, m := range v.buildKustomization(o) {
			child := newObject(m, o.id(), "")
			v.objects = append(v.objects, child)
			queue = append(queue, child)
		}
	}
	v.rep.Objects = len(v.objects)
}

// buildKustomization builds one Flux Kustomization o and returns its
// objects, recording findings for what would fail in the cluster.
func (v *envVerifier) buildKustomization(o *object) []map[string]any {
	src, _ := nested(o.m, "spec", "sourceRef").(map[string]any)
	srcKind, _ := src["kind"].(string)
	srcName, _ := src["name"].(string)
	srcNS, _ := src["namespace"].(string)
	if srcNS == "" {
		srcNS = o.namespace
	}
	if srcKind+"/"+srcName != bootstrapSource || srcNS != render.FluxNamespace {
		// The objects come from another artifact (e.g. the Kubeflow Pipelines
		// GitRepository): not available offline. The refs layer still checks
		// that the source is declared.
		v.remote[o.id()] = srcKind + "/" + srcNS + "/" + srcName
		return nil
	}
	p, _ := nested(o.m, "spec", "path").(string)
	rel := path.Clean(strings.TrimPrefix(p, "./"))
	if p == "" {
		rel = "."
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) && rel != "." {
		v.add(LayerBuild, diag.Error, o, "spec.path", "verify.build.path", srcKustomizeController,
			"path %q leaves the source artifact; kustomize-controller refuses paths outside the repository root", p)
		return nil
	}
	dir := v.tree.abs(rel)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		v.add(LayerBuild, diag.Error, o, "spec.path", "verify.build.path", srcKustomizeController,
			"path %q does not exist in the repository (kustomize-controller: kustomization path not found)", p)
		return nil
	}
	v.index.indexDir(dir)
	v.rep.Kustomizations++
	objs, err := v.kustomize(unstructured.Unstructured{Object: o.m}, dir)
	if err != nil {
		v.add(LayerBuild, diag.Error, o, "spec.path", "verify.build", srcKustomizeController,
			"building %q: %v", p, trimRoot(err.Error(), v.tree.root))
		return nil
	}
	return objs
}

// kustomize builds dir for the Flux Kustomization ks like kustomize-controller:
// the generator applies the Flux spec (targetNamespace, patches, images,
// components, …) to the directory's kustomization.yaml, or generates one,
// into an in-memory layer over a read-only view of the repository confined
// to its root; then kustomize builds it with plugins off, and, when
// spec.postBuild is set, variables are substituted strictly without a
// cluster (dry run): a variable without a value is an error.
func (v *envVerifier) kustomize(ks unstructured.Unstructured, dir string) ([]map[string]any, error) {
	gen := fluxkustomize.NewGenerator(v.tree.root, ks)
	manifest, kfile, _, err := gen.GenerateManifest(dir)
	if err != nil {
		return nil, err
	}
	disk, err := fluxfs.MakeFsOnDiskSecure(v.tree.root)
	if err != nil {
		return nil, err
	}
	fs := fluxfs.MakeFsInMemory(disk)
	if err := fs.WriteFile(kfile, manifest); err != nil {
		return nil, err
	}
	rm, err := fluxkustomize.Build(fs, dir)
	if err != nil {
		return nil, err
	}
	if _, ok := nested(ks.Object, "spec", "postBuild").(map[string]any); ok {
		if err := substitute(ks, rm); err != nil {
			return nil, err
		}
	}
	var out []map[string]any
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// substitute runs post-build variable substitution over every resource, as
// kustomize-controller does, in dry-run and strict mode. Variables from
// spec.postBuild.substituteFrom live in the cluster and are unknown offline,
// so when a Kustomization has any, substitution is not strict.
func substitute(ks unstructured.Unstructured, rm resmap.ResMap) error {
	from, _ := nested(ks.Object, "spec", "postBuild", "substituteFrom").([]any)
	strict := len(from) == 0
	for _, r := range rm.Resources() {
		// SubstituteVariables updates r in place.
		if _, err := fluxkustomize.SubstituteVariables(context.Background(), nil, ks, r,
			fluxkustomize.SubstituteWithDryRun(true), fluxkustomize.SubstituteWithStrict(strict)); err != nil {
			return &substError{res: r.CurId().String(), err: err}
		}
	}
	return nil
}

type substError struct {
	res string
	err error
}

func (e *substError) Error() string {
	return "post-build substitution in " + e.res + ": " + e.err.Error() +
		" (kustomize-controller with strict substitution refuses it; without, the variable becomes an empty string)"
}

// nested returns the value at keys in m, or nil.
func nested(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// trimRoot makes error messages that name files under root relative.
func trimRoot(msg, root string) string {
	return strings.ReplaceAll(msg, root+string(filepath.Separator), "")
}
