package compile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/config"
)

// TestHostClashes: each environment that would serve a host another
// serves gets one error, on its domain, naming the other; the FQDN, the
// dash- host (Superset on) and the connectors- host (Airbyte on) all count,
// and a host nobody else serves is fine.
func TestHostClashes(t *testing.T) {
	dir := t.TempDir()
	env := func(name, domain string, services ...string) *config.Environment {
		e := &config.Environment{Name: name, File: "environments/" + name + ".cue", Domain: domain, Services: map[string]config.Service{}}
		for _, s := range services {
			e.Services[s] = config.Service{Enabled: true}
		}
		src := "package environments\n\nenvironments: " + name + ": {\n\tdomain: \"" + domain + "\"\n}\n"
		if err := os.MkdirAll(filepath.Join(dir, "environments"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(e.File)), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name string
		envs []*config.Environment
		want map[string]string // environment -> the start of its message
	}{
		{"distinct", []*config.Environment{env("a", "a.example", "superset", "airbyte"), env("b", "b.example", "superset", "airbyte")}, nil},
		{"same FQDN", []*config.Environment{env("b", "x.example"), env("a", "x.example")}, map[string]string{
			"a": `domain "x.example": the FQDN x.example is also the FQDN of environment b (environments/b.cue:4:10)`,
			"b": `domain "x.example": the FQDN x.example is also the FQDN of environment a (environments/a.cue:4:10)`,
		}},
		{"FQDN that is a dash- host", []*config.Environment{env("a", "x.example", "superset"), env("b", "dash-x.example")}, map[string]string{
			"a": `domain "x.example": Superset's host dash-x.example is also the FQDN of environment b`,
			"b": `domain "dash-x.example": the FQDN dash-x.example is also Superset's host of environment a`,
		}},
		{"dash- host without Superset", []*config.Environment{env("a", "x.example"), env("b", "dash-x.example")}, nil},
		{"connectors- host", []*config.Environment{env("a", "x.example", "airbyte"), env("b", "connectors-x.example")}, map[string]string{
			"a": `domain "x.example": Airbyte's host connectors-x.example is also the FQDN of environment b`,
			"b": `domain "connectors-x.example": the FQDN connectors-x.example is also Airbyte's host of environment a`,
		}},
		{"three share one", []*config.Environment{env("a", "x.example"), env("b", "x.example"), env("c", "x.example")}, map[string]string{
			"a": "domain \"x.example\": the FQDN x.example is also the FQDN of environment b",
			"b": "domain \"x.example\": the FQDN x.example is also the FQDN of environment a",
			"c": "domain \"x.example\": the FQDN x.example is also the FQDN of environment a",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := hostClashes(dir, tc.envs)
			if len(got) != len(tc.want) {
				t.Fatalf("%d errors, want %d: %v", len(got), len(tc.want), got)
			}
			for name, want := range tc.want {
				d, ok := got[name]
				if !ok || !strings.HasPrefix(d.Message, want) || d.Rule != "dns.unique" || d.Pos.Line != 4 || d.Pos.Column != 10 ||
					d.Pos.Filename != filepath.Join(dir, "environments", name+".cue") || d.Path != "environments."+name+".domain" {
					t.Errorf("%s: %+v\nwant message %q at line 4, column 10 of its file", name, d, want)
				}
			}
		})
	}
}
