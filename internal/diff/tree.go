package diff

import (
	"path"
	"sort"
	"strings"

	"github.com/gonvenience/ytbx"
	yaml "go.yaml.in/yaml/v3"
)

// objKey pairs objects across the two trees.
type objKey struct {
	env, apiVersion, kind, namespace, name string
}

// less orders keys by environment, apiVersion, kind, namespace and name.
func (k objKey) less(l objKey) bool {
	a := [...]string{k.env, k.apiVersion, k.kind, k.namespace, k.name}
	b := [...]string{l.env, l.apiVersion, l.kind, l.namespace, l.name}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// object is one Kubernetes object of a rendered tree.
type object struct {
	objKey
	service string
	file    string
	doc     *yaml.Node // the DocumentNode, as dyff takes it
	root    *yaml.Node // doc.Content[0], a MappingNode
}

// diff returns the ObjectDiff header of o.
func (o *object) diff(change string) ObjectDiff {
	return ObjectDiff{Env: o.env, Service: o.service, APIVersion: o.apiVersion, Kind: o.kind,
		Namespace: o.namespace, Name: o.name, File: o.file, Change: change}
}

// ref is Kind/namespace/name of o.
func (o *object) ref() string { return o.diff("").Ref() }

// tree is one parsed side.
type tree struct {
	objects map[objKey]*object
	// kfiles are kustomize's configuration files (kustomization.yaml) by
	// path: not objects of the cluster (see the package comment).
	kfiles map[string]*object
	// files are the paths of every file read, for kustomization.yaml
	// resources entries.
	files map[string]bool
	// envs are the environments with at least one object or kustomize file
	// outside clusters/<env>/flux-system/ (flux bootstrap's, not katonic's).
	envs map[string]bool
	// kustomizations are the Flux Kustomizations per environment, for owner.
	kustomizations map[string][]*object
}

// kustomizeAPIPrefix is the group of kustomize's own configuration files
// (kustomization.yaml), which carry no metadata.name.
const kustomizeAPIPrefix = "kustomize.config.k8s.io/"

// isKustomizeConfig reports whether o is kustomize's own configuration
// (a kustomization.yaml), not an object of the cluster.
func isKustomizeConfig(o *object) bool { return strings.HasPrefix(o.apiVersion, kustomizeAPIPrefix) }

// bootstrapFile reports whether p (a cleaned output path) is under
// clusters/<env>/flux-system/, which `flux bootstrap` writes.
func bootstrapFile(p string) bool {
	parts := strings.Split(p, "/")
	return len(parts) > 3 && parts[0] == "clusters" && parts[2] == "flux-system"
}

// fluxKustomizationPrefix is the API group of Flux Kustomizations.
const fluxKustomizationPrefix = "kustomize.toolkit.fluxcd.io/"

// classify maps an output path to its environment, layer and file stem;
// ok is false for files Compare does not read (see the package comment).
func classify(p string) (env, layer, stem string, ok bool) {
	ext := path.Ext(p)
	if ext != ".yaml" && ext != ".yml" {
		return "", "", "", false
	}
	parts := strings.Split(p, "/")
	if len(parts) < 3 || parts[1] == "" {
		return "", "", "", false
	}
	stem = strings.TrimSuffix(parts[len(parts)-1], ext)
	switch parts[0] {
	case "clusters":
		return parts[1], "clusters", stem, true
	case "environments":
		if len(parts) > 3 {
			layer = parts[2]
		}
		return parts[1], layer, stem, true
	}
	return "", "", "", false
}

// serviceOf returns the service of a file (rules in the package comment).
func serviceOf(layer, stem string) string {
	switch {
	case layer == "clusters", stem == "kustomization":
		return "flux"
	case layer == "infrastructure":
		return "infrastructure"
	}
	return stem
}

// newTree returns an empty tree.
func newTree() *tree {
	return &tree{objects: map[objKey]*object{}, kfiles: map[string]*object{}, files: map[string]bool{},
		envs: map[string]bool{}, kustomizations: map[string][]*object{}}
}

// sideFile is one file of a Side that Compare reads.
type sideFile struct {
	name             string // the key in Side.Files
	path             string // path.Clean(name)
	env, layer, stem string // classify(path)
}

// sideFiles returns the files of s that Compare reads, sorted by name.
func sideFiles(s Side) []sideFile {
	var out []sideFile
	for name := range s.Files {
		p := path.Clean(name)
		if env, layer, stem, ok := classify(p); ok {
			out = append(out, sideFile{name: name, path: p, env: env, layer: layer, stem: stem})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// parseFile reads the objects of file f, whose content is b. side names
// the side in errors.
func parseFile(f sideFile, b []byte, side string) ([]*object, error) {
	p := f.path
	docs, err := ytbx.LoadYAMLDocuments(b)
	if err != nil {
		return nil, errorf("%s tree: %s: %v", side, p, err)
	}
	var out []*object
	for i, doc := range docs {
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return nil, errorf("%s tree: %s: document %d is not a Kubernetes object (not a mapping)", side, p, i+1)
		}
		o := &object{service: serviceOf(f.layer, f.stem), file: p, doc: doc, root: root}
		o.env = f.env
		o.apiVersion = scalar(root, "apiVersion")
		o.kind = scalar(root, "kind")
		o.namespace = scalar(root, "metadata", "namespace")
		o.name = scalar(root, "metadata", "name")
		if o.apiVersion == "" || o.kind == "" {
			return nil, errorf("%s tree: %s: document %d is not a Kubernetes object (no apiVersion or kind)", side, p, i+1)
		}
		if o.name == "" {
			if !isKustomizeConfig(o) {
				return nil, errorf("%s tree: %s: document %d (%s %s) has no metadata.name", side, p, i+1, o.apiVersion, o.kind)
			}
			o.name = p
		}
		out = append(out, o)
	}
	return out, nil
}

// add puts o in t, a kustomize configuration file under its path; an
// object already there under its key is an error.
func (t *tree) add(o *object, side string) error {
	if !bootstrapFile(o.file) {
		t.envs[o.env] = true
	}
	if isKustomizeConfig(o) {
		if prev, dup := t.kfiles[o.file]; dup {
			return errorf("%s tree: %s holds two kustomize configurations (%s %s and %s %s)", side, o.file, prev.apiVersion, prev.kind, o.apiVersion, o.kind)
		}
		t.kfiles[o.file] = o
		return nil
	}
	if prev, dup := t.objects[o.objKey]; dup {
		return errorf("%s tree: %s %s in environment %s is defined twice: %s and %s", side, o.apiVersion, o.ref(), o.env, prev.file, o.file)
	}
	t.objects[o.objKey] = o
	if o.kind == "Kustomization" && strings.HasPrefix(o.apiVersion, fluxKustomizationPrefix) {
		t.kustomizations[o.env] = append(t.kustomizations[o.env], o)
	}
	return nil
}

// checkSide reads every file of s in name order, as the whole side, and
// returns the first error: a file that is not YAML, a document that is not
// a Kubernetes object, an object defined twice. Compare calls it only once
// a per-environment pass has failed, so the error it reports does not
// depend on the order environments were compared in. It keeps the object
// keys, not the documents.
func checkSide(s Side, side string) error {
	t := newTree()
	for _, f := range sideFiles(s) {
		objs, err := parseFile(f, s.Files[f.name], side)
		if err != nil {
			return err
		}
		for _, o := range objs {
			o.doc, o.root = nil, nil
			if err := t.add(o, side); err != nil {
				return err
			}
		}
	}
	return nil
}

// ownerInfo is the Flux Kustomization that applies a file.
type ownerInfo struct {
	ref   string // Kustomization/namespace/name
	prune string // spec.prune as written: "true", "false" or ""
}

// owner returns the Flux Kustomization of t, in o's environment, whose
// spec.path is the deepest directory holding o's file, or nil. spec.path is
// relative to the repository root and the file to the output directory, so
// a path matches a directory when it equals it or ends with "/" + it.
func (t *tree) owner(o *object) *ownerInfo {
	var best *object
	bestLen := -1
	for _, k := range t.kustomizations[o.env] {
		p := strings.TrimPrefix(path.Clean(scalar(k.root, "spec", "path")), "./")
		for dir := path.Dir(o.file); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if p == dir || strings.HasSuffix(p, "/"+dir) {
				if len(dir) > bestLen || (len(dir) == bestLen && k.ref() < best.ref()) {
					best, bestLen = k, len(dir)
				}
				break
			}
		}
	}
	if best == nil {
		return nil
	}
	return &ownerInfo{ref: best.ref(), prune: scalar(best.root, "spec", "prune")}
}

// lookup follows keys through mapping nodes; nil when a key is missing.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return deref(n)
}

// scalar is the value of the scalar at keys, or "".
func scalar(n *yaml.Node, keys ...string) string {
	v := lookup(n, keys...)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}
