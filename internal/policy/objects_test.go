package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/render"
	"github.com/katonic/katonic/internal/testrepo"
)

// TestEvaluateObjects: over the render's objects (EvaluateObjects, as
// katonic render evaluates), the policies get the same input as over the
// rendered YAML (Evaluate, as katonic policy and verify do), and give the
// same violations at the same lines, for every example environment.
func TestEvaluateObjects(t *testing.T) {
	// A policy that every HelmRelease violates at a nested path, so that
	// lines are looked up in every platform and addons file.
	every := `package policy

policies: "every-release": {
	severity: "warning"
	message:  "every HelmRelease"
	source:   "this test"
	violations: [for o in input.objects if o.kind == "HelmRelease" {
		object: o.id
		path:   "spec.interval"
		detail: o.name
	}]
}
`
	files := map[string]string{"policy/every.cue": every}
	envs, err := filepath.Glob(filepath.Join(repoRoot, "environments", "*.cue"))
	if err != nil || len(envs) == 0 {
		t.Fatalf("no example environments: %v", err)
	}
	for _, p := range envs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files["environments/"+filepath.Base(p)] = string(b)
	}
	dir := testrepo.New(t, repoRoot, files)
	set, d, err := Load(dir)
	if err != nil {
		t.Fatalf("%v: %v", err, d)
	}
	type rendered struct {
		env     compile.EnvResult
		files   map[string][]byte
		objects map[string][]map[string]any
	}
	var mu sync.Mutex
	var got []rendered
	res, err := compile.Compile(compile.Options{Dir: dir, Render: true, Rendered: func(e compile.EnvResult, r *render.Result) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, rendered{e, r.Files, r.Objects}) // r.Objects is read here: compile drops it after
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(res.Envs) || len(got) != len(envs) {
		t.Fatalf("Rendered called for %d environments, want %d", len(got), len(res.Envs))
	}
	for _, g := range got {
		name := g.env.Env.Name
		if len(g.objects) == 0 {
			t.Fatalf("%s: no objects", name)
		}
		fromYAML, _, _, err := buildInput(g.env, g.files, nil, "out")
		if err != nil {
			t.Fatal(err)
		}
		fromObjects, _, _, err := buildInput(g.env, g.files, g.objects, "out")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromObjects, fromYAML) {
			t.Errorf("%s: the input from the objects differs from the input from the YAML", name)
			for i := range min(len(fromObjects.Leaves), len(fromYAML.Leaves)) {
				if fromObjects.Leaves[i] != fromYAML.Leaves[i] {
					t.Errorf("first different leaf: %+v, from the YAML %+v", fromObjects.Leaves[i], fromYAML.Leaves[i])
					break
				}
			}
		}
		want, err := set.Evaluate(g.env, g.files, "out")
		if err != nil {
			t.Fatal(err)
		}
		have, err := set.EvaluateObjects(g.env, g.files, g.objects, "out")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(have, want) {
			t.Errorf("%s: EvaluateObjects = %+v\nEvaluate = %+v", name, have, want)
		}
		if len(have.Errors) > 0 {
			t.Errorf("%s: %v", name, have.Errors)
		}
		n := 0
		for _, v := range have.Violations {
			if v.Policy == "every-release" {
				n++
				if v.Line <= 1 {
					t.Errorf("%s: %s at line %d, want the line of its spec.interval", name, v.Object, v.Line)
				}
			}
		}
		if n != len(g.env.Releases) {
			t.Errorf("%s: %d violations of every-release, want one per HelmRelease (%d)", name, n, len(g.env.Releases))
		}
	}
}
