package provenance

import (
	"encoding/json"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
)

// layered builds an environment value the way katonic's loader does: the
// environment's file unified with a profile's defaults and the schema,
// each compiled under its own file name so positions name the layer.
func layered(t *testing.T) cue.Value {
	t.Helper()
	ctx := cuecontext.New()
	schema := ctx.CompileString(`
loadBalancer: "external" | "internal"
bootDiskGiB: *128 | int & >0
size: string
cpu: int & >0
if size == "big" {cpu: table[size]}
table: big: 8
nested: {a: *1 | int, b: string}
`, cue.Filename("schema/environment.cue"))
	profile := ctx.CompileString(`
loadBalancer: *"internal" | _
`, cue.Filename("profiles/azure-private.cue"))
	env := ctx.CompileString(`
loadBalancer: "external"
size: "big"
nested: b: "x"
`, cue.Filename("environments/acme.cue"))
	v := schema.Unify(profile).Unify(env)
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExplain(t *testing.T) {
	v := layered(t)
	tests := []struct {
		path       string
		value      string
		from       Role
		setBy      string // first SetBy position
		overridden []string
		origin     string
	}{
		// An environment overrides its profile's default.
		{"loadBalancer", `"external"`, RoleSet, "environments/acme.cue:2:1", []string{"profiles/azure-private.cue:2:1"}, ""},
		// Nobody sets it: the schema's default is taken.
		{"bootDiskGiB", `128`, RoleDefault, "schema/environment.cue:3:1", nil, ""},
		// Derived by the schema from another field; the value itself is
		// written in the table.
		{"cpu", `8`, RoleSet, "schema/environment.cue:6:19", nil, "schema/environment.cue:7:13"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			ex, err := Explain(v, tt.path, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(ex) != 1 {
				t.Fatalf("got %d explanations", len(ex))
			}
			e := ex[0]
			if string(e.Value) != tt.value || e.From != tt.from {
				t.Errorf("value %s from %s, want %s from %s", e.Value, e.From, tt.value, tt.from)
			}
			if set := e.SetBy(); len(set) == 0 || set[0].Pos() != tt.setBy {
				t.Errorf("set by %v, want %s", set, tt.setBy)
			}
			var over []string
			for _, c := range e.Overridden() {
				over = append(over, c.Pos())
			}
			if strings.Join(over, ",") != strings.Join(tt.overridden, ",") {
				t.Errorf("overridden %v, want %v", over, tt.overridden)
			}
			if e.Origin != tt.origin {
				t.Errorf("origin %q, want %q", e.Origin, tt.origin)
			}
			if e.Conjuncts[0].Layer != layerOf(e.Conjuncts[0].File) {
				t.Errorf("layer of %s", e.Conjuncts[0].File)
			}
		})
	}
}

func TestExplainStructAndErrors(t *testing.T) {
	v := layered(t)
	ex, err := Explain(v, "nested", "")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range ex {
		paths = append(paths, e.Path+"="+string(e.Value)+"/"+string(e.From))
	}
	if got, want := strings.Join(paths, " "), `nested.a=1/default nested.b="x"/set`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := Explain(v, "nested.c", ""); err == nil || !strings.Contains(err.Error(), "the fields of nested: a, b") {
		t.Errorf("missing field: %v", err)
	}
	if _, err := Explain(v, "a..b", ""); err == nil {
		t.Error("bad path accepted")
	}
	// A label that is not an identifier, unquoted as people type it.
	ctx := v.Context()
	w := ctx.CompileString(`services: "file-manager": enabled: *true | bool`, cue.Filename("schema/services.cue"))
	for _, p := range []string{`services.file-manager.enabled`, `services."file-manager".enabled`} {
		ex, err := Explain(w, p, "")
		if err != nil || len(ex) != 1 || ex[0].Path != `services."file-manager".enabled` {
			t.Errorf("%s: %v %v", p, ex, err)
		}
	}
	b, err := json.Marshal(ex)
	if err != nil || !strings.Contains(string(b), `"role":"default"`) {
		t.Errorf("json %s %v", b, err)
	}
}

// FuzzExplain: any path a user types gets an explanation or an error,
// never a panic.
func FuzzExplain(f *testing.F) {
	for _, s := range []string{"loadBalancer", "nested", "nested.a", "a..b", `"quoted".x`, "#def", "list[0]", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		v := layered(t)
		ex, err := Explain(v, path, "")
		if err == nil && len(ex) == 0 {
			t.Errorf("%q: no explanation and no error", path)
		}
	})
}
