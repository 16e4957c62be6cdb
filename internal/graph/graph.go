// Package graph computes the reconciliation order of one rendered
// environment — its Flux Kustomizations and HelmReleases, their dependsOn
// edges and which Kustomization applies which HelmRelease — and writes it
// as Mermaid, Graphviz DOT or JSON.
//
// The graph is read from the rendered YAML, never from a second model of
// the dependencies, so it shows what Flux will do with out/: an object
// reconciles once every object of its spec.dependsOn is Ready (Flux
// "Kustomization dependencies" and "HelmRelease dependencies"), and an
// object applied by a Kustomization exists only once that Kustomization has
// applied it.
package graph

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// SchemaVersion is the version of the JSON document Write emits; it
// changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// The Flux kinds the graph holds, with the API groups that serve them
// (Flux CRDs: kustomize.toolkit.fluxcd.io, helm.toolkit.fluxcd.io).
const (
	KindKustomization = "Kustomization"
	KindHelmRelease   = "HelmRelease"

	groupKustomize = "kustomize.toolkit.fluxcd.io"
	groupHelm      = "helm.toolkit.fluxcd.io"
)

// Ref identifies a Flux object of the graph.
type Ref struct {
	Kind, Namespace, Name string
}

// String is "Kind/namespace/name", the form used in JSON and messages.
func (r Ref) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

func (r Ref) less(o Ref) bool {
	if r.Kind != o.Kind {
		// Kustomizations first: they apply the HelmReleases.
		return r.Kind == KindKustomization
	}
	if r.Namespace != o.Namespace {
		return r.Namespace < o.Namespace
	}
	return r.Name < o.Name
}

// Node is one Flux Kustomization or HelmRelease of the environment.
type Node struct {
	Ref `json:"-"`
	// File is the slash path of the YAML file that holds the object,
	// relative to the repository root (e.g. "out/clusters/acme/platform.yaml").
	File string
	// Path is a Kustomization's spec.path as written (e.g.
	// "./out/environments/acme/platform"); empty for a HelmRelease.
	Path string
	// Parent is the Kustomization of this graph that applies the object:
	// the one from the repository's own source (GitRepository
	// flux-system/flux-system, what flux bootstrap creates) whose spec.path
	// holds File, the deepest if several do. Nil when no Kustomization of
	// the graph applies it (the clusters/ Kustomizations are applied by
	// flux bootstrap's own flux-system Kustomization).
	Parent *Ref
	// Wait is a Kustomization's spec.wait: it becomes Ready only once
	// every object it applied is Ready (Flux "Health assessment").
	Wait bool
	// DependsOn are spec.dependsOn, a missing namespace defaulted to the
	// object's own (Flux DependencyReference: "defaults to the namespace
	// of the resource object that contains the reference"), in file order.
	DependsOn []Ref

	ownSource bool // a Kustomization whose sourceRef is GitRepository flux-system/flux-system
}

// Edge is one spec.dependsOn entry: Object waits until DependsOn is Ready.
type Edge struct {
	Object, DependsOn Ref
	// Missing is true when the environment has no such object: Flux then
	// never reconciles Object ("dependency not found").
	Missing bool
}

// Graph is the reconciliation order of one environment.
type Graph struct {
	// Environment is the environment's name.
	Environment string
	// Nodes are every Kustomization and HelmRelease, Kustomizations first,
	// then by namespace and name.
	Nodes []*Node
	// Edges are the dependsOn edges sorted by object, then dependency.
	Edges []Edge
	// Waves are the objects in topological layers: wave i holds the
	// objects that can start reconciling, in parallel, once the objects of
	// the waves before it that they wait on are Ready. An object waits on
	// its dependsOn, on the Kustomization that applies it, and — for a
	// dependency that is a Kustomization with spec.wait — on every object
	// that Kustomization applies. Each wave is sorted like Nodes.
	Waves [][]Ref
	// Blocked are the objects in no wave: they wait, directly or through
	// others, on a cycle or on a missing dependency, so Flux never
	// reconciles them. Sorted like Nodes.
	Blocked []Ref
	// Cycles are the dependsOn cycles, each a sorted list of the objects
	// of one strongly connected component; sorted by first member.
	Cycles [][]Ref
}

// Build reads the Flux Kustomizations and HelmReleases of the files named
// by paths (slash paths relative to the output directory, as in
// compile.EnvResult.Files) from files (compile.Result.Files) and returns
// their graph. out is the output directory's path from the repository
// root ("out"), the prefix of spec.path and of Node.File. A dangling
// dependsOn or a cycle is not an error: they are recorded in Edges,
// Blocked and Cycles. It returns an error when a file is not valid YAML or
// an object is declared twice.
func Build(env string, files map[string][]byte, paths []string, out string) (*Graph, error) {
	g := &Graph{Environment: env}
	byRef := map[Ref]*Node{}
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	for _, p := range sorted {
		objs, err := decode(files[p])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(out, p), err)
		}
		for _, o := range objs {
			n := o.node()
			if n == nil {
				continue
			}
			n.File = path.Join(out, p)
			if prev, ok := byRef[n.Ref]; ok {
				return nil, fmt.Errorf("%s: %s is also declared in %s", n.File, n.Ref, prev.File)
			}
			byRef[n.Ref] = n
			g.Nodes = append(g.Nodes, n)
		}
	}
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].less(g.Nodes[j].Ref) })
	g.setParents()
	for _, n := range g.Nodes {
		for _, d := range n.DependsOn {
			_, ok := byRef[d]
			g.Edges = append(g.Edges, Edge{Object: n.Ref, DependsOn: d, Missing: !ok})
		}
	}
	sort.Slice(g.Edges, func(i, j int) bool {
		a, b := g.Edges[i], g.Edges[j]
		if a.Object != b.Object {
			return a.Object.less(b.Object)
		}
		return a.DependsOn.less(b.DependsOn)
	})
	g.Cycles = cycles(g.Nodes, byRef)
	g.Waves, g.Blocked = waves(g.Nodes, byRef)
	return g, nil
}

// setParents finds the Kustomization that applies each node: the deepest
// spec.path, from the repository's own source, that holds the node's file.
func (g *Graph) setParents() {
	type dir struct {
		ref  Ref
		path string // cleaned, no "./", relative to the repository root
	}
	var dirs []dir
	for _, n := range g.Nodes {
		if n.Kind == KindKustomization && n.Path != "" && n.ownSource {
			dirs = append(dirs, dir{n.Ref, strings.TrimPrefix(path.Clean(n.Path), "./")})
		}
	}
	for _, n := range g.Nodes {
		best := -1
		for i, d := range dirs {
			if d.ref == n.Ref || !(d.path == "." || strings.HasPrefix(n.File, d.path+"/")) {
				continue
			}
			if best < 0 || len(d.path) > len(dirs[best].path) {
				best = i
			}
		}
		if best >= 0 {
			r := dirs[best].ref
			n.Parent = &r
		}
	}
}

// cycles returns the dependsOn cycles: the strongly connected components
// with more than one node, or one node that depends on itself (Tarjan's
// algorithm, visiting nodes and edges in sorted order so the result is
// deterministic).
func cycles(nodes []*Node, byRef map[Ref]*Node) [][]Ref {
	index := map[Ref]int{}
	low := map[Ref]int{}
	on := map[Ref]bool{}
	var stack []Ref
	var out [][]Ref
	next := 0
	var visit func(n *Node)
	visit = func(n *Node) {
		index[n.Ref], low[n.Ref] = next, next
		next++
		stack = append(stack, n.Ref)
		on[n.Ref] = true
		for _, d := range n.DependsOn {
			dn, ok := byRef[d]
			if !ok {
				continue
			}
			if _, seen := index[d]; !seen {
				visit(dn)
				low[n.Ref] = min(low[n.Ref], low[d])
			} else if on[d] {
				low[n.Ref] = min(low[n.Ref], index[d])
			}
		}
		if low[n.Ref] != index[n.Ref] {
			return
		}
		var scc []Ref
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			on[top] = false
			scc = append(scc, top)
			if top == n.Ref {
				break
			}
		}
		self := false
		for _, d := range n.DependsOn {
			self = self || d == n.Ref
		}
		if len(scc) > 1 || self {
			sortRefs(scc)
			out = append(out, scc)
		}
	}
	for _, n := range nodes {
		if _, seen := index[n.Ref]; !seen {
			visit(n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0].less(out[j][0]) })
	return out
}

// waves layers the nodes: a node's wave is one more than the latest wave
// of what it waits on (see Graph.Waves). Nodes that wait on a missing
// object or on a cycle are never placed and are returned as blocked.
func waves(nodes []*Node, byRef map[Ref]*Node) ([][]Ref, []Ref) {
	// waits[n] are the objects n waits on; a missing dependency is kept,
	// and since it is never placed, n is never placed either.
	waits := map[Ref][]Ref{}
	children := map[Ref][]Ref{}
	for _, n := range nodes {
		if n.Parent != nil {
			children[*n.Parent] = append(children[*n.Parent], n.Ref)
		}
	}
	// descendants of a Kustomization with spec.wait: everything it applies,
	// and what those apply in turn when they wait too.
	var applied func(r Ref, seen map[Ref]bool) []Ref
	applied = func(r Ref, seen map[Ref]bool) []Ref {
		if seen[r] {
			return nil
		}
		seen[r] = true
		var out []Ref
		for _, c := range children[r] {
			out = append(out, c)
			if cn := byRef[c]; cn != nil && cn.Wait {
				out = append(out, applied(c, seen)...)
			}
		}
		return out
	}
	for _, n := range nodes {
		w := append([]Ref(nil), n.DependsOn...)
		if n.Parent != nil {
			w = append(w, *n.Parent)
		}
		for _, d := range n.DependsOn {
			if dn := byRef[d]; dn != nil && dn.Wait {
				w = append(w, applied(d, map[Ref]bool{})...)
			}
		}
		waits[n.Ref] = w
	}
	placed := map[Ref]bool{}
	var out [][]Ref
	for {
		var wave []Ref
		for _, n := range nodes {
			if placed[n.Ref] {
				continue
			}
			ready := true
			for _, d := range waits[n.Ref] {
				ready = ready && placed[d]
			}
			if ready {
				wave = append(wave, n.Ref)
			}
		}
		if len(wave) == 0 {
			break
		}
		for _, r := range wave {
			placed[r] = true
		}
		out = append(out, wave)
	}
	var blocked []Ref
	for _, n := range nodes {
		if !placed[n.Ref] {
			blocked = append(blocked, n.Ref)
		}
	}
	return out, blocked
}

func sortRefs(rs []Ref) { sort.Slice(rs, func(i, j int) bool { return rs[i].less(rs[j]) }) }

// Problems describes, one sentence each, what keeps objects from ever
// reconciling: dangling dependsOn and cycles, then the blocked objects.
// Sorted; empty when the graph is sound. katonic verify's refs layer
// reports the same faults as errors with positions.
func (g *Graph) Problems() []string {
	var ps []string
	for _, e := range g.Edges {
		if e.Missing {
			ps = append(ps, fmt.Sprintf("%s: spec.dependsOn: %s does not exist in the environment: Flux never reconciles %s [Flux dependsOn: a dependency must exist and be Ready]", e.Object, e.DependsOn, e.Object))
		}
	}
	for _, c := range g.Cycles {
		ps = append(ps, fmt.Sprintf("dependsOn cycle among %s: none of them ever becomes Ready [Flux dependsOn]", joinRefs(c)))
	}
	if len(g.Blocked) > 0 {
		ps = append(ps, fmt.Sprintf("never reconciled (waiting on a cycle or a missing dependency): %s", joinRefs(g.Blocked)))
	}
	return ps
}

func joinRefs(rs []Ref) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// object is the part of a Flux object the graph reads.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec struct {
		Path      string `yaml:"path"`
		Wait      bool   `yaml:"wait"`
		SourceRef struct {
			Kind      string `yaml:"kind"`
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"sourceRef"`
		DependsOn []struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"dependsOn"`
	} `yaml:"spec"`
}

// node returns the graph node of o, or nil when o is not a Flux
// Kustomization or HelmRelease. A namespace left out is "default", as the
// API server does for namespaced objects.
func (o *object) node() *Node {
	group, _, _ := strings.Cut(o.APIVersion, "/")
	var kind string
	switch {
	case o.Kind == KindKustomization && group == groupKustomize:
		kind = KindKustomization
	case o.Kind == KindHelmRelease && group == groupHelm:
		kind = KindHelmRelease
	default:
		return nil
	}
	ns := o.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	n := &Node{Ref: Ref{kind, ns, o.Metadata.Name}}
	for _, d := range o.Spec.DependsOn {
		dns := d.Namespace
		if dns == "" {
			dns = ns
		}
		n.DependsOn = append(n.DependsOn, Ref{kind, dns, d.Name})
	}
	if kind == KindKustomization {
		n.Path = o.Spec.Path
		n.Wait = o.Spec.Wait
		src := o.Spec.SourceRef
		srcNS := src.Namespace
		if srcNS == "" {
			srcNS = ns
		}
		n.ownSource = src.Kind == "GitRepository" && src.Name == "flux-system" && srcNS == "flux-system"
	}
	return n
}

// decode reads every YAML document of b into an object; empty documents
// are skipped.
func decode(b []byte) ([]*object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []*object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if o.Kind != "" {
			out = append(out, &o)
		}
	}
}
