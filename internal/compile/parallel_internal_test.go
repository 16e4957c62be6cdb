package compile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/testrepo"
)

// TestParallelBuildsMatchLoad: a render builds and validates the
// environments on every core, each goroutine with its own CUE context
// (buildAndValidate), where the other commands let the load build them on
// one. Both give the same environments and the same diagnostics, for a
// fleet over parallelBuilds with environments broken three ways: a file
// that does not evaluate (a reference to nothing), a value the schema
// refuses, and a rule of katonic's (a pool under its profile's minimum).
// Builders are retired after two environments here, to cover that too.
func TestParallelBuildsMatchLoad(t *testing.T) {
	defer func(n int) { buildsPerBuilder = n }(buildsPerBuilder)
	buildsPerBuilder = 2

	files := testrepo.Fleet(parallelBuilds + 8)
	edit := func(name, old, new string) {
		t.Helper()
		p := "environments/" + name + ".cue"
		if !strings.Contains(files[p], old) {
			t.Fatalf("%s has no %q", p, old)
		}
		files[p] = strings.Replace(files[p], old, new, 1)
	}
	edit("fleet-0003", `loadBalancer:      "internal"`, `loadBalancer:      nothing.here`)
	edit("fleet-0010", `kubernetesVersion: "1.28.4"`, `kubernetesVersion: 1.28`)
	edit("fleet-0012", `platform: {minNodes: 3, maxNodes: 3, cpu: 4, memoryGiB: 16}`, `platform: {minNodes: 1, maxNodes: 3, cpu: 4, memoryGiB: 16}`)
	dir := testrepo.New(t, "../..", files)

	render, rerr := Compile(Options{Dir: dir, Render: true})
	vet, verr := Compile(Options{Dir: dir})
	if rerr != ErrInvalid || verr != ErrInvalid {
		t.Fatalf("errors: render %v, vet %v; want both ErrInvalid", rerr, verr)
	}
	if render.Diags.Errors() < 3 {
		t.Errorf("want an error for each broken environment, got %v", render.Diags)
	}
	for _, name := range []string{"fleet-0003", "fleet-0010", "fleet-0012"} {
		found := false
		for _, d := range render.Diags {
			found = found || strings.Contains(d.Pos.Filename, name)
		}
		if !found {
			t.Errorf("no diagnostic in %s.cue: %v", name, render.Diags)
		}
	}
	if !reflect.DeepEqual(render.Diags, vet.Diags) {
		t.Errorf("diagnostics differ:\nrender (parallel builds): %v\nvet (the load's builds): %v", render.Diags, vet.Diags)
	}
	if !reflect.DeepEqual(configs(render.Envs), configs(vet.Envs)) {
		t.Errorf("environments differ: render %d, vet %d", len(render.Envs), len(vet.Envs))
	}
}

// configs returns each environment's configuration and diagnostics.
func configs(envs []EnvResult) []EnvResult {
	out := make([]EnvResult, len(envs))
	for i, e := range envs {
		out[i] = EnvResult{Env: e.Env, Diags: e.Diags}
	}
	return out
}
