package diff

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// fleetScenario is a change over several environments, with something on
// each side that the other lacks: an environment only in the old tree
// (aaa-gone, globex-cloud), one only in the new (zzz-new), an unchanged copy
// (acme-copy), and in acme-azure and tesla-onprem objects added, removed,
// changed and moved between files, an empty file, and environment-level
// risks.
func fleetScenario(t *testing.T) (from, to Side) {
	t.Helper()
	from, to = base(t), base(t)
	renameEnv(from, "acme-azure", "acme-copy")
	renameEnv(to, "acme-azure", "acme-copy")
	from.Files["clusters/aaa-gone/extra.yaml"] = []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gone\n  namespace: flux-system\ndata:\n  a: b\n")
	to.Files["environments/zzz-new/addons/extra.yaml"] = []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n  namespace: default\n")

	mutateAll(t, from, to)
	// An object only in the new tree: dropped from the old one.
	dropDoc(t, from, acmeNS, func(d string) bool { return strings.Contains(d+"\n", "  name: application\n") })
	// A file moved: its objects change file.
	to.Files["environments/acme-azure/platform/superset.yaml"] = to.Files[acmeSuperset]
	delete(to.Files, acmeSuperset)
	// An empty file on one side only.
	from.Files["environments/acme-azure/platform/empty.yaml"] = []byte("# nothing\n---\n")

	// tesla-onprem: an internal load balancer made external, a pool shrunk,
	// a host added and one replaced.
	to.Envs["tesla-onprem"].LoadBalancer = "internal"
	p := to.Envs["tesla-onprem"].NodePools["platform"]
	p.MinNodes--
	to.Envs["tesla-onprem"].NodePools["platform"] = p
	replace(t, to, teslaSuper, "      - dash-katonic.tesla.com\n      ingressClassName", "      - dash-katonic.tesla.com\n      - extra.tesla.com\n      ingressClassName", 1)
	replace(t, to, teslaSuper, "dash-katonic.tesla.com", "dash.tesla.com", -1)
	return from, to
}

// TestFleetGolden pins the report of fleetScenario (the JSON form is the whole Report; the text form its order):
// testdata/fleet.{json,txt} were written by the implementation that
// parsed both trees whole before pairing, so the per-environment Compare
// must give the same bytes. KATONIC_UPDATE=1 rewrites them.
func TestFleetGolden(t *testing.T) {
	from, to := fleetScenario(t)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	text, _, js := outputs(t, rep)
	// One goroutine or several: the same report.
	prev := runtime.GOMAXPROCS(1)
	one, err := Compare(from, to, Options{})
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, js1 := outputs(t, one); js1 != js {
		t.Errorf("the report with GOMAXPROCS=1 differs from the one with %d", prev)
	}
	for _, g := range []struct{ file, got string }{{"fleet.json", js}, {"fleet.txt", text}} {
		p := filepath.Join("testdata", g.file)
		if os.Getenv("KATONIC_UPDATE") != "" {
			if err := os.WriteFile(p, []byte(g.got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if g.got != string(want) {
			t.Errorf("%s differs from the report (KATONIC_UPDATE=1 rewrites it):\n%s", p, firstDiff(string(want), g.got))
		}
	}
}

// firstDiff shows the first line where want and got differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\nwant " + a + "\ngot  " + b
		}
	}
	return "(same lines)"
}

// TestErrorOrder pins which error Compare returns when there are several:
// the old tree's before the new tree's, and within a tree the first file in
// path order (clusters/ before environments/), whatever the environments'
// order.
func TestErrorOrder(t *testing.T) {
	tests := []struct {
		name     string
		old, new map[string]string
		want     string
	}{
		{
			name: "old tree first",
			old:  map[string]string{"environments/tesla-onprem/platform/bad.yaml": "a: ["},
			new:  map[string]string{"environments/acme-azure/platform/again.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: airbyte\n"},
			want: "diff: old tree: environments/tesla-onprem/platform/bad.yaml:",
		},
		{
			name: "path order",
			new: map[string]string{
				"environments/acme-azure/platform/bad.yaml": "a: [",
				"clusters/tesla-onprem/bad.yaml":            "- a\n",
			},
			want: "diff: new tree: clusters/tesla-onprem/bad.yaml: document 1 is not a Kubernetes object (not a mapping)",
		},
		{
			name: "first duplicate",
			new: map[string]string{
				"environments/tesla-onprem/platform/again.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: airbyte\n",
				"environments/acme-azure/zz/again.yaml":         "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: airbyte\n",
			},
			want: "diff: new tree: v1 Namespace/airbyte in environment acme-azure is defined twice: environments/acme-azure/infrastructure/namespaces.yaml and environments/acme-azure/zz/again.yaml",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from, to := base(t), base(t)
			for p, c := range tc.old {
				from.Files[p] = []byte(c)
			}
			for p, c := range tc.new {
				to.Files[p] = []byte(c)
			}
			_, err := Compare(from, to, Options{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one starting %q", err, tc.want)
			}
		})
	}
}
