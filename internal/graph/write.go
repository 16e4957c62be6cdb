package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/emicklei/dot"
)

// Formats lists the output formats of Write, the first the default.
var Formats = []string{"mermaid", "dot", "json"}

// Write writes g to w in format ("mermaid", "dot" or "json"). It returns
// an error for an unknown format or when w fails.
func Write(w io.Writer, g *Graph, format string) error {
	switch format {
	case "mermaid":
		_, err := io.WriteString(w, g.Mermaid())
		return err
	case "dot":
		_, err := io.WriteString(w, g.DOT())
		return err
	case "json":
		return g.writeJSON(w)
	}
	return fmt.Errorf("unknown format %q: want %s", format, strings.Join(Formats, ", "))
}

// tree is the nesting of the graph: which objects each Kustomization
// applies, and the objects no Kustomization of the graph applies (roots),
// both in Nodes order; missing are the dependsOn targets that do not
// exist, sorted.
type tree struct {
	roots    []*Node
	children map[Ref][]*Node
	missing  []Ref
	ids      map[Ref]string
	labels   map[Ref]string
}

func (g *Graph) tree() *tree {
	t := &tree{children: map[Ref][]*Node{}}
	refs := make([]Ref, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		refs = append(refs, n.Ref)
		if n.Parent != nil {
			t.children[*n.Parent] = append(t.children[*n.Parent], n)
		} else {
			t.roots = append(t.roots, n)
		}
	}
	seen := map[Ref]bool{}
	for _, e := range g.Edges {
		if e.Missing && !seen[e.DependsOn] {
			seen[e.DependsOn] = true
			t.missing = append(t.missing, e.DependsOn)
		}
	}
	sortRefs(t.missing)
	refs = append(refs, t.missing...)
	t.ids = ids(refs)
	t.labels = labels(refs)
	return t
}

// ids gives each ref a Mermaid node id: "ks_" or "hr_", then namespace and
// name with every character but [a-z0-9] replaced by "_"; a collision
// (flux-system/a-b and flux/system-a-b) gets "_2", "_3"… in refs order.
// Ids never contain "-", so they cannot be read as part of an arrow, and
// never equal Mermaid's keyword "end".
func ids(refs []Ref) map[Ref]string {
	out := map[Ref]string{}
	used := map[string]bool{}
	for _, r := range refs {
		prefix := "hr_"
		if r.Kind == KindKustomization {
			prefix = "ks_"
		}
		base := prefix + sanitize(r.Namespace) + "__" + sanitize(r.Name)
		id := base
		for i := 2; used[id]; i++ {
			id = fmt.Sprintf("%s_%d", base, i)
		}
		used[id] = true
		out[r] = id
	}
	return out
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}

// labels are the names shown: "Kustomization name" or the HelmRelease's
// name, with "namespace/" before the name unless every object shares one
// namespace.
func labels(refs []Ref) map[Ref]string {
	one := true
	for _, r := range refs {
		one = one && r.Namespace == refs[0].Namespace
	}
	out := map[Ref]string{}
	for _, r := range refs {
		name := r.Name
		if !one {
			name = r.Namespace + "/" + r.Name
		}
		if r.Kind == KindKustomization {
			name = "Kustomization " + name
		}
		out[r] = name
	}
	return out
}

// Mermaid returns g as a Mermaid flowchart (GitHub renders it in pull
// requests and Markdown files). A Kustomization that applies objects of the
// graph is a subgraph holding them, the others are rounded nodes; an arrow
// A --> B says B dependsOn A; a dependsOn target that does not exist is a
// dashed node.
//
// It is written here rather than with emicklei/dot's MermaidFlowchart,
// which (v1.6.2) drops subgraphs and the nodes in them and numbers nodes
// by creation order, so neither the grouping nor stable ids would survive.
func (g *Graph) Mermaid() string {
	t := g.tree()
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	fmt.Fprintf(&b, "    %%%% katonic graph %s: the reconciliation order Flux follows.\n", g.Environment)
	b.WriteString("    %% A --> B: B dependsOn A. A box is a Kustomization and the HelmReleases it applies.\n")
	var node func(n *Node, indent string)
	node = func(n *Node, indent string) {
		id, label := t.ids[n.Ref], quote(t.labels[n.Ref])
		kids := t.children[n.Ref]
		switch {
		case len(kids) > 0:
			fmt.Fprintf(&b, "%ssubgraph %s [%s]\n", indent, id, label)
			for _, k := range kids {
				node(k, indent+"    ")
			}
			fmt.Fprintf(&b, "%send\n", indent)
		case n.Kind == KindKustomization:
			fmt.Fprintf(&b, "%s%s([%s])\n", indent, id, label)
		default:
			fmt.Fprintf(&b, "%s%s[%s]\n", indent, id, label)
		}
	}
	for _, n := range t.roots {
		node(n, "    ")
	}
	for _, r := range t.missing {
		fmt.Fprintf(&b, "    %s[%s]:::missing\n", t.ids[r], quote("missing: "+r.String()))
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "    %s --> %s\n", t.ids[e.DependsOn], t.ids[e.Object])
	}
	if len(t.missing) > 0 {
		b.WriteString("    classDef missing stroke:#c00,stroke-dasharray:5 5\n")
	}
	return b.String()
}

// quote makes s a Mermaid string: double quotes around it, and a double
// quote inside written as the entity #quot; (Mermaid's escape).
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}

// DOT returns g in Graphviz DOT, built with github.com/emicklei/dot: a
// Kustomization that applies objects of the graph is a cluster holding
// itself and them; an edge A -> B says B dependsOn A; a dependsOn target
// that does not exist is a dashed red node. Nodes and clusters are created
// in Nodes order, which fixes emicklei/dot's numbering, so the output is
// the same on every run.
func (g *Graph) DOT() string {
	t := g.tree()
	root := dot.NewGraph(dot.Directed)
	root.ID("reconciliation")
	root.Attr("label", "katonic graph "+g.Environment+": B dependsOn A is drawn A -> B")
	nodes := map[Ref]dot.Node{}
	var add func(in *dot.Graph, n *Node)
	add = func(in *dot.Graph, n *Node) {
		kids := t.children[n.Ref]
		if len(kids) > 0 {
			sub := in.Subgraph(t.ids[n.Ref], dot.ClusterOption{})
			sub.Attr("label", t.labels[n.Ref])
			in = sub
		}
		dn := in.Node(t.ids[n.Ref]).Label(t.labels[n.Ref]).Box()
		if n.Kind == KindKustomization {
			dn.Attr("style", "rounded")
		}
		nodes[n.Ref] = dn
		for _, k := range kids {
			add(in, k)
		}
	}
	for _, n := range t.roots {
		add(root, n)
	}
	for _, r := range t.missing {
		nodes[r] = root.Node(t.ids[r]).Label("missing: "+r.String()).Box().Attr("style", "dashed").Attr("color", "red")
	}
	for _, e := range g.Edges {
		root.Edge(nodes[e.DependsOn], nodes[e.Object])
	}
	return root.String()
}

// jsonGraph is the -o json document (schemaVersion 1).
type jsonGraph struct {
	SchemaVersion int        `json:"schemaVersion"`
	Environment   string     `json:"environment"`
	Nodes         []jsonNode `json:"nodes"`
	Edges         []jsonEdge `json:"edges"`
	Waves         [][]string `json:"waves"`
	Blocked       []string   `json:"blocked"`
	Cycles        [][]string `json:"cycles"`
}

type jsonNode struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	File      string   `json:"file"`
	Path      string   `json:"path,omitempty"`
	Parent    string   `json:"parent,omitempty"`
	DependsOn []string `json:"dependsOn"`
}

type jsonEdge struct {
	Object    string `json:"object"`
	DependsOn string `json:"dependsOn"`
	Missing   bool   `json:"missing"`
}

func strs(rs []Ref) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func (g *Graph) writeJSON(w io.Writer) error {
	doc := jsonGraph{SchemaVersion: SchemaVersion, Environment: g.Environment,
		Nodes: []jsonNode{}, Edges: []jsonEdge{}, Waves: [][]string{}, Blocked: strs(g.Blocked), Cycles: [][]string{}}
	for _, n := range g.Nodes {
		jn := jsonNode{ID: n.Ref.String(), Kind: n.Kind, Namespace: n.Namespace, Name: n.Name, File: n.File, Path: n.Path, DependsOn: strs(n.DependsOn)}
		if n.Parent != nil {
			jn.Parent = n.Parent.String()
		}
		doc.Nodes = append(doc.Nodes, jn)
	}
	for _, e := range g.Edges {
		doc.Edges = append(doc.Edges, jsonEdge{e.Object.String(), e.DependsOn.String(), e.Missing})
	}
	for _, wv := range g.Waves {
		doc.Waves = append(doc.Waves, strs(wv))
	}
	for _, c := range g.Cycles {
		doc.Cycles = append(doc.Cycles, strs(c))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
