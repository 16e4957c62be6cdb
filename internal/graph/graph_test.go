package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// ks and hr write a Flux Kustomization or HelmRelease; deps are
// "name" or "namespace/name".
func ks(ns, name, path string, wait bool, deps ...string) string {
	return obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", ns, name,
		fmt.Sprintf("  path: %s\n  wait: %t\n  sourceRef: {kind: GitRepository, name: flux-system}\n", path, wait), deps)
}

func hr(ns, name string, deps ...string) string {
	return obj("helm.toolkit.fluxcd.io/v2", "HelmRelease", ns, name, "  interval: 30m\n", deps)
}

func obj(apiVersion, kind, ns, name, spec string, deps []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", apiVersion, kind, name)
	if ns != "" {
		fmt.Fprintf(&b, "  namespace: %s\n", ns)
	}
	b.WriteString("spec:\n" + spec)
	if len(deps) > 0 {
		b.WriteString("  dependsOn:\n")
		for _, d := range deps {
			if n, name, ok := strings.Cut(d, "/"); ok {
				fmt.Fprintf(&b, "  - name: %s\n    namespace: %s\n", name, n)
			} else {
				fmt.Fprintf(&b, "  - name: %s\n", d)
			}
		}
	}
	return b.String()
}

func docs(ds ...string) []byte { return []byte(strings.Join(ds, "---\n")) }

func build(t *testing.T, files map[string][]byte) *Graph {
	t.Helper()
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	g, err := Build("e", files, paths, "out")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func refStrings(rs []Ref) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func waveStrings(g *Graph) []string {
	var out []string
	for _, w := range g.Waves {
		out = append(out, strings.Join(refStrings(w), " "))
	}
	return out
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string][]byte
		edges    []string // object -> dependsOn (! when missing)
		parents  map[string]string
		waves    []string
		blocked  []string
		cycles   []string
		problems int
	}{{
		name: "dependsOn without namespace means the object's own namespace",
		files: map[string][]byte{
			"a.yaml": docs(hr("apps", "web", "db", "infra/cache"), hr("apps", "db"), hr("infra", "cache")),
		},
		edges: []string{
			"HelmRelease/apps/web -> HelmRelease/apps/db",
			"HelmRelease/apps/web -> HelmRelease/infra/cache",
		},
		waves: []string{"HelmRelease/apps/db HelmRelease/infra/cache", "HelmRelease/apps/web"},
	}, {
		name:  "metadata.namespace left out is default, and so is the dependency's",
		files: map[string][]byte{"a.yaml": docs(hr("", "web", "db"), hr("default", "db"))},
		edges: []string{"HelmRelease/default/web -> HelmRelease/default/db"},
		waves: []string{"HelmRelease/default/db", "HelmRelease/default/web"},
	}, {
		name:    "a dependsOn names the same kind: a HelmRelease cannot depend on a Kustomization",
		files:   map[string][]byte{"a.yaml": docs(ks("flux-system", "db", "./x", false), hr("flux-system", "web", "db"))},
		edges:   []string{"HelmRelease/flux-system/web -> HelmRelease/flux-system/db !"},
		waves:   []string{"Kustomization/flux-system/db"},
		blocked: []string{"HelmRelease/flux-system/web"}, problems: 2,
	}, {
		name: "dangling dependsOn blocks the object and what waits on it",
		files: map[string][]byte{"a.yaml": docs(
			hr("flux-system", "a", "ghost"), hr("flux-system", "b", "a"), hr("flux-system", "c"))},
		edges: []string{
			"HelmRelease/flux-system/a -> HelmRelease/flux-system/ghost !",
			"HelmRelease/flux-system/b -> HelmRelease/flux-system/a",
		},
		waves:   []string{"HelmRelease/flux-system/c"},
		blocked: []string{"HelmRelease/flux-system/a", "HelmRelease/flux-system/b"}, problems: 2,
	}, {
		name: "cycle",
		files: map[string][]byte{"a.yaml": docs(
			hr("flux-system", "a", "c"), hr("flux-system", "b", "a"), hr("flux-system", "c", "b"),
			hr("flux-system", "d", "c"), hr("flux-system", "e"))},
		edges: []string{
			"HelmRelease/flux-system/a -> HelmRelease/flux-system/c",
			"HelmRelease/flux-system/b -> HelmRelease/flux-system/a",
			"HelmRelease/flux-system/c -> HelmRelease/flux-system/b",
			"HelmRelease/flux-system/d -> HelmRelease/flux-system/c",
		},
		waves:   []string{"HelmRelease/flux-system/e"},
		blocked: []string{"HelmRelease/flux-system/a", "HelmRelease/flux-system/b", "HelmRelease/flux-system/c", "HelmRelease/flux-system/d"},
		cycles:  []string{"HelmRelease/flux-system/a HelmRelease/flux-system/b HelmRelease/flux-system/c"}, problems: 2,
	}, {
		name:    "self dependency is a cycle",
		files:   map[string][]byte{"a.yaml": docs(hr("flux-system", "a", "a"))},
		edges:   []string{"HelmRelease/flux-system/a -> HelmRelease/flux-system/a"},
		blocked: []string{"HelmRelease/flux-system/a"},
		cycles:  []string{"HelmRelease/flux-system/a"}, problems: 2,
	}, {
		name: "a HelmRelease waits for the Kustomization that applies it; the deepest spec.path wins",
		files: map[string][]byte{
			"clusters/e/infra.yaml":             []byte(ks("flux-system", "infra", "./out/environments/e", false)),
			"clusters/e/apps.yaml":              []byte(ks("flux-system", "apps", "./out/environments/e/apps", false, "infra")),
			"environments/e/apps/web.yaml":      []byte(hr("flux-system", "web")),
			"environments/e/base.yaml":          []byte(hr("flux-system", "base")),
			"environments/e/apps/x/deeper.yaml": []byte(hr("flux-system", "deeper", "web")),
		},
		edges: []string{
			"Kustomization/flux-system/apps -> Kustomization/flux-system/infra",
			"HelmRelease/flux-system/deeper -> HelmRelease/flux-system/web",
		},
		parents: map[string]string{
			"HelmRelease/flux-system/web":    "Kustomization/flux-system/apps",
			"HelmRelease/flux-system/deeper": "Kustomization/flux-system/apps",
			"HelmRelease/flux-system/base":   "Kustomization/flux-system/infra",
		},
		waves: []string{
			"Kustomization/flux-system/infra",
			"Kustomization/flux-system/apps HelmRelease/flux-system/base",
			"HelmRelease/flux-system/web",
			"HelmRelease/flux-system/deeper",
		},
	}, {
		name: "a dependency on a Kustomization with wait waits for everything it applies",
		files: map[string][]byte{
			"clusters/e/platform.yaml":        []byte(ks("flux-system", "platform", "./out/environments/e/platform", true)),
			"clusters/e/addons.yaml":          []byte(ks("flux-system", "addons", "./out/environments/e/addons", true, "platform")),
			"environments/e/platform/db.yaml": []byte(hr("flux-system", "db")),
			"environments/e/platform/ui.yaml": []byte(hr("flux-system", "ui", "db")),
			"environments/e/addons/bi.yaml":   []byte(hr("flux-system", "bi")),
		},
		edges: []string{
			"Kustomization/flux-system/addons -> Kustomization/flux-system/platform",
			"HelmRelease/flux-system/ui -> HelmRelease/flux-system/db",
		},
		parents: map[string]string{
			"HelmRelease/flux-system/db": "Kustomization/flux-system/platform",
			"HelmRelease/flux-system/ui": "Kustomization/flux-system/platform",
			"HelmRelease/flux-system/bi": "Kustomization/flux-system/addons",
		},
		waves: []string{
			"Kustomization/flux-system/platform",
			"HelmRelease/flux-system/db",
			"HelmRelease/flux-system/ui",
			"Kustomization/flux-system/addons",
			"HelmRelease/flux-system/bi",
		},
	}, {
		name: "without wait, a dependent starts once the Kustomization has applied",
		files: map[string][]byte{
			"clusters/e/platform.yaml":        []byte(ks("flux-system", "platform", "./out/environments/e/platform", false)),
			"clusters/e/addons.yaml":          []byte(ks("flux-system", "addons", "./out/environments/e/addons", false, "platform")),
			"environments/e/platform/db.yaml": []byte(hr("flux-system", "db")),
		},
		edges:   []string{"Kustomization/flux-system/addons -> Kustomization/flux-system/platform"},
		parents: map[string]string{"HelmRelease/flux-system/db": "Kustomization/flux-system/platform"},
		waves: []string{
			"Kustomization/flux-system/platform",
			"Kustomization/flux-system/addons HelmRelease/flux-system/db",
		},
	}, {
		name: "a Kustomization from another source applies nothing of this repository",
		files: map[string][]byte{
			"clusters/e/other.yaml": []byte(strings.Replace(ks("flux-system", "other", "./out/environments/e", false),
				"name: flux-system}", "name: upstream}", 1)),
			"environments/e/web.yaml": []byte(hr("flux-system", "web")),
		},
		waves: []string{"Kustomization/flux-system/other HelmRelease/flux-system/web"},
	}, {
		name: "objects that are not Flux Kustomizations or HelmReleases are left out",
		files: map[string][]byte{"a.yaml": docs(
			"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
			"apiVersion: example.com/v1\nkind: HelmRelease\nmetadata: {name: y}\n",
			"", hr("flux-system", "z"))},
		waves: []string{"HelmRelease/flux-system/z"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := build(t, tt.files)
			edges := []string{}
			for _, e := range g.Edges {
				s := e.Object.String() + " -> " + e.DependsOn.String()
				if e.Missing {
					s += " !"
				}
				edges = append(edges, s)
			}
			if tt.edges == nil {
				tt.edges = []string{}
			}
			if !reflect.DeepEqual(edges, tt.edges) {
				t.Errorf("edges:\n got %q\nwant %q", edges, tt.edges)
			}
			parents := map[string]string{}
			for _, n := range g.Nodes {
				if n.Parent != nil {
					parents[n.Ref.String()] = n.Parent.String()
				}
			}
			if tt.parents == nil {
				tt.parents = map[string]string{}
			}
			if !reflect.DeepEqual(parents, tt.parents) {
				t.Errorf("parents:\n got %v\nwant %v", parents, tt.parents)
			}
			if got := waveStrings(g); !reflect.DeepEqual(got, tt.waves) {
				t.Errorf("waves:\n got %q\nwant %q", got, tt.waves)
			}
			if got := refStrings(g.Blocked); !reflect.DeepEqual(got, append([]string{}, tt.blocked...)) {
				t.Errorf("blocked: got %q, want %q", got, tt.blocked)
			}
			var cycles []string
			for _, c := range g.Cycles {
				cycles = append(cycles, strings.Join(refStrings(c), " "))
			}
			if !reflect.DeepEqual(cycles, tt.cycles) {
				t.Errorf("cycles: got %q, want %q", cycles, tt.cycles)
			}
			if got := len(g.Problems()); got != tt.problems {
				t.Errorf("problems: got %d %q, want %d", got, g.Problems(), tt.problems)
			}
			// Every node is in exactly one wave or blocked.
			seen := map[Ref]int{}
			for _, w := range g.Waves {
				for _, r := range w {
					seen[r]++
				}
			}
			for _, r := range g.Blocked {
				seen[r]++
			}
			for _, n := range g.Nodes {
				if seen[n.Ref] != 1 {
					t.Errorf("%s is in %d waves", n.Ref, seen[n.Ref])
				}
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"invalid YAML", map[string][]byte{"a.yaml": []byte("kind: [")}, "out/a.yaml: yaml:"},
		{"declared twice", map[string][]byte{"a.yaml": []byte(hr("x", "a")), "b.yaml": []byte(hr("x", "a"))},
			"out/b.yaml: HelmRelease/x/a is also declared in out/a.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []string
			for p := range tt.files {
				paths = append(paths, p)
			}
			_, err := Build("e", tt.files, paths, "out")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWriteMissingAndCollisions(t *testing.T) {
	// flux-system/a-b and flux/system-a-b sanitize to the same id; a
	// missing dependency is drawn as a dashed node.
	g := build(t, map[string][]byte{"a.yaml": docs(
		hr("flux-system", "a-b"), hr("flux", "system-a-b", "ghost"))})
	m := g.Mermaid()
	for _, want := range []string{
		`    hr_flux__system_a_b["flux/system-a-b"]`,
		`    hr_flux_system__a_b["flux-system/a-b"]`,
		`    hr_flux__ghost["missing: HelmRelease/flux/ghost"]:::missing`,
		`    hr_flux__ghost --> hr_flux__system_a_b`,
		`    classDef missing`,
	} {
		if !strings.Contains(m, want+"\n") && !strings.Contains(m, want) {
			t.Errorf("mermaid lacks %q:\n%s", want, m)
		}
	}
	d := g.DOT()
	if !strings.Contains(d, `label="missing: HelmRelease/flux/ghost"`) || !strings.Contains(d, `style="dashed"`) {
		t.Errorf("dot lacks the missing node:\n%s", d)
	}
	var buf bytes.Buffer
	if err := Write(&buf, g, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int
		Edges         []struct{ Missing bool }
		Blocked       []string
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || len(doc.Edges) != 1 || !doc.Edges[0].Missing || len(doc.Blocked) != 1 {
		t.Errorf("json: %s", buf.String())
	}
	if err := Write(&buf, g, "svg"); err == nil {
		t.Error("Write accepted format svg")
	}
}

func TestIDsUnique(t *testing.T) {
	refs := []Ref{
		{KindHelmRelease, "a-b", "c"}, {KindHelmRelease, "a.b", "c"}, {KindHelmRelease, "a", "b-c"},
		{KindKustomization, "a-b", "c"}, {KindHelmRelease, "a_b", "c"},
	}
	ids := ids(refs)
	seen := map[string]bool{}
	for _, r := range refs {
		id := ids[r]
		if seen[id] || strings.ContainsAny(id, "-./ ") {
			t.Errorf("id %q of %s is reused or not a plain Mermaid id", id, r)
		}
		seen[id] = true
	}
}

// TestDeterministic builds the same graph from files given in two orders
// and checks every format is byte-identical.
func TestDeterministic(t *testing.T) {
	files := map[string][]byte{
		"clusters/e/p.yaml":        []byte(ks("flux-system", "p", "./out/environments/e/p", true)),
		"clusters/e/q.yaml":        []byte(ks("flux-system", "q", "./out/environments/e/q", true, "p")),
		"environments/e/p/a.yaml":  docs(hr("flux-system", "z"), hr("flux-system", "a", "z", "m")),
		"environments/e/p/m.yaml":  []byte(hr("flux-system", "m")),
		"environments/e/q/x.yaml":  []byte(hr("flux-system", "x", "gone")),
		"environments/e/q/y.yaml":  []byte(hr("flux-system", "y", "y")),
		"environments/e/q/zz.yaml": []byte(hr("other", "zz")),
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	rev := append([]string(nil), paths...)
	sort.Sort(sort.Reverse(sort.StringSlice(rev)))
	out := func(ps []string) string {
		g, err := Build("e", files, ps, "out")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for _, f := range Formats {
			if err := Write(&b, g, f); err != nil {
				t.Fatal(err)
			}
		}
		return b.String()
	}
	first := out(paths)
	for i := 0; i < 5; i++ {
		if got := out(rev); got != first {
			t.Fatalf("output differs between runs:\n%s\n----\n%s", first, got)
		}
	}
}

// FuzzBuild feeds arbitrary YAML to Build: it may return an error, never
// panic, and every node ends in exactly one wave or in Blocked.
func FuzzBuild(f *testing.F) {
	f.Add([]byte(docs(hr("flux-system", "a", "b"), hr("flux-system", "b", "a"))))
	f.Add([]byte(ks("flux-system", "k", "./out", true, "k")))
	f.Add([]byte("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nspec: {dependsOn: [{}, {name: ''}]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Build("e", map[string][]byte{"environments/e/a.yaml": b}, []string{"environments/e/a.yaml"}, "out")
		if err != nil {
			return
		}
		n := len(g.Blocked)
		for _, w := range g.Waves {
			n += len(w)
		}
		if n != len(g.Nodes) {
			t.Fatalf("%d nodes, %d placed or blocked", len(g.Nodes), n)
		}
		_ = g.Mermaid()
		_ = g.DOT()
		_ = g.Problems()
	})
}
