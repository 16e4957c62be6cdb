package compile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/rendercache"
	"github.com/katonic/katonic/internal/testrepo"
)

// repoRoot is the katonic repository: its environments/ are the examples
// and its out/ is their golden tree.
const repoRoot = "../.."

func renderRepo(t testing.TB) *compile.Result {
	t.Helper()
	res, err := compile.Compile(compile.Options{Dir: repoRoot, Render: true})
	if err != nil {
		t.Fatalf("compile: %v\n%v", err, res.Diags)
	}
	return res
}

// TestGolden compares a fresh render of the examples with the committed
// out/ tree, byte for byte, including the ownership manifest: out/ is the
// golden tree. KATONIC_UPDATE=1 rewrites it (the same as `katonic render`).
func TestGolden(t *testing.T) {
	res := renderRepo(t)
	if len(res.Envs) != 3 {
		t.Fatalf("want the three example environments, got %d", len(res.Envs))
	}
	out := filepath.Join(repoRoot, "out")
	if os.Getenv("KATONIC_UPDATE") != "" {
		if _, err := outdir.Write(out, res.Files, nil); err != nil {
			t.Fatal(err)
		}
	}
	changes, err := outdir.Plan(out, res.Files, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		t.Errorf("out/%s: %s (run `katonic render` or KATONIC_UPDATE=1 go test ./internal/compile)", c.Path, c.Kind)
	}
	manifest, err := outdir.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest) != len(res.Files) {
		t.Errorf("out/%s lists %d files, the render has %d", outdir.ManifestName, len(manifest), len(res.Files))
	}
}

// TestDeterminism renders the examples with GOMAXPROCS 1 and 4, twice
// each, and wants the same bytes every time.
func TestDeterminism(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var first map[string][]byte
	for _, procs := range []int{1, 4, 1, 4} {
		runtime.GOMAXPROCS(procs)
		res := renderRepo(t)
		if first == nil {
			first = res.Files
			continue
		}
		if len(res.Files) != len(first) {
			t.Fatalf("GOMAXPROCS=%d: %d files, first render %d", procs, len(res.Files), len(first))
		}
		for p, b := range first {
			if !bytes.Equal(res.Files[p], b) {
				t.Fatalf("GOMAXPROCS=%d: %s differs between renders", procs, p)
			}
		}
	}
}

// object is the part of a rendered object the tests read.
type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Path      string `json:"path"`
		SourceRef struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"sourceRef"`
		DependsOn []struct {
			Name string `json:"name"`
		} `json:"dependsOn"`
		Prune   *bool  `json:"prune"`
		Wait    *bool  `json:"wait"`
		Timeout string `json:"timeout"`
	} `json:"spec"`
}

// docs splits a rendered YAML stream into its objects.
func docs(t testing.TB, name string, b []byte) []object {
	t.Helper()
	var out []object
	for _, d := range strings.Split(string(b), "\n---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(d), &o); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.Kind != "" {
			out = append(out, o)
		}
	}
	return out
}

// TestKustomizeBuild builds, with kustomize's own krusty, every directory
// a Flux Kustomization in clusters/<env>/ points at (paths from the
// repository root, as Flux reads them), and clusters/<env>/ itself; and
// checks the Kustomizations' ordering and settings.
func TestKustomizeBuild(t *testing.T) {
	res := renderRepo(t)
	tmp := t.TempDir()
	if _, err := outdir.Write(filepath.Join(tmp, "out"), res.Files, nil); err != nil {
		t.Fatal(err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	fs := filesys.MakeFsOnDisk()
	for _, e := range res.Envs {
		name := e.Env.Name
		clusterDir := filepath.Join(tmp, "out", "clusters", name)
		rm, err := k.Run(fs, clusterDir)
		if err != nil {
			t.Fatalf("%s: kustomize build clusters/%s: %v", name, name, err)
		}
		ks := map[string]object{}
		for _, r := range rm.Resources() {
			b, err := r.AsYAML()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range docs(t, "clusters/"+name, b) {
				if o.Kind == "Kustomization" && o.APIVersion == "kustomize.toolkit.fluxcd.io/v1" {
					ks[o.Metadata.Name] = o
				}
			}
		}
		for _, layer := range []string{"infrastructure", "platform"} {
			if _, ok := ks[layer]; !ok {
				t.Errorf("%s: no Flux Kustomization %q", name, layer)
			}
		}
		for kname, o := range ks {
			if o.Spec.Prune == nil || !*o.Spec.Prune || o.Spec.Wait == nil || !*o.Spec.Wait || o.Spec.Timeout == "" {
				t.Errorf("%s: Kustomization %s needs prune, wait and timeout", name, kname)
			}
			for _, d := range o.Spec.DependsOn {
				if _, ok := ks[d.Name]; !ok {
					t.Errorf("%s: Kustomization %s depends on %s, which is not rendered", name, kname, d.Name)
				}
			}
			if o.Spec.SourceRef.Name != "flux-system" {
				continue // pipelines: built from its own GitRepository
			}
			if !strings.HasPrefix(o.Spec.Path, "./out/") {
				t.Errorf("%s: Kustomization %s path %q is not under ./out/", name, kname, o.Spec.Path)
				continue
			}
			dir := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(o.Spec.Path, "./")))
			m, err := k.Run(fs, dir)
			if err != nil {
				t.Errorf("%s: kustomize build %s: %v", name, o.Spec.Path, err)
				continue
			}
			if len(m.Resources()) == 0 {
				t.Errorf("%s: %s builds no objects", name, o.Spec.Path)
			}
		}
		// Ordering: infrastructure, then platform, then add-ons.
		if deps := ks["platform"].Spec.DependsOn; len(deps) != 1 || deps[0].Name != "infrastructure" {
			t.Errorf("%s: platform must depend on infrastructure, got %v", name, deps)
		}
		if a, ok := ks["addons"]; ok {
			if len(a.Spec.DependsOn) == 0 || a.Spec.DependsOn[0].Name != "platform" {
				t.Errorf("%s: addons must depend on platform, got %v", name, a.Spec.DependsOn)
			}
		}
	}
}

// TestReadmeListsSecrets keeps the README's table of Secrets in step with
// what the examples reference.
func TestReadmeListsSecrets(t *testing.T) {
	res := renderRepo(t)
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var names []string
	for _, e := range res.Envs {
		for _, s := range e.Secrets {
			key := s.Namespace + "/" + s.Name
			if !seen[key] {
				seen[key] = true
				names = append(names, key)
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if !bytes.Contains(readme, []byte("`"+n+"`")) {
			t.Errorf("README.md does not list the Secret `%s`", n)
		}
	}
	if len(names) == 0 {
		t.Fatal("the examples reference no Secrets: the test would prove nothing")
	}
}

// BenchmarkFleet renders a generated fleet of 100 environments (the three
// profiles in turn, every service on) and reports time and allocations per
// environment.
// BenchmarkFleet compiles and renders generated fleets (testrepo.Fleet:
// every profile, every service enabled) of 10, 100 and 1,000 environments
// in memory, and reports the cost per environment — total and per phase
// (CUE load, validation, render = objects + YAML) — so the curve shows
// whether cost stays flat as the fleet grows. docs/performance.md records
// the numbers and the method.
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("envs=%d", n), func(b *testing.B) {
			dir := testrepo.New(b, repoRoot, testrepo.Fleet(n))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var t compile.Timings
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := compile.Compile(compile.Options{Dir: dir, Render: true})
				if err != nil {
					b.Fatalf("%v\n%v", err, res.Diags)
				}
				if len(res.Envs) != n {
					b.Fatalf("rendered %d environments, want %d", len(res.Envs), n)
				}
				t.Load += res.Timings.Load
				t.Validate += res.Timings.Validate
				t.Render += res.Timings.Render
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			per := float64(b.N * n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/env")
			b.ReportMetric(float64(t.Load.Nanoseconds())/per, "load-ns/env")
			b.ReportMetric(float64(t.Validate.Nanoseconds())/per, "validate-ns/env")
			b.ReportMetric(float64(t.Render.Nanoseconds())/per, "render-ns/env")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/per, "allocs/env")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/per, "B/env")
		})
	}
}

// BenchmarkFleetWrite writes a rendered fleet of 1,000 environments into an
// output directory: first into an empty one (every file added), then again
// with nothing changed.
func BenchmarkFleetWrite(b *testing.B) {
	const n = 1000
	dir := testrepo.New(b, repoRoot, testrepo.Fleet(n))
	res, err := compile.Compile(compile.Options{Dir: dir, Render: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("empty", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			out := filepath.Join(b.TempDir(), "out")
			if _, err := outdir.Write(out, res.Files, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/env")
	})
	b.Run("unchanged", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "out")
		if _, err := outdir.Write(out, res.Files, nil); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := outdir.Write(out, res.Files, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/env")
	})
}

// TestShardsPartitionTheFleet: the shards of a fleet are disjoint and their
// union is the full render, byte for byte.
func TestShardsPartitionTheFleet(t *testing.T) {
	dir := testrepo.New(t, repoRoot, testrepo.Fleet(24))
	full, err := compile.Compile(compile.Options{Dir: dir, Render: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 5} {
		union := map[string][]byte{}
		envs := 0
		for k := 1; k <= n; k++ {
			res, err := compile.Compile(compile.Options{Dir: dir, Render: true, Shard: compile.Shard{Index: k, Of: n}})
			if err != nil {
				t.Fatal(err)
			}
			envs += len(res.Envs)
			for p, b := range res.Files {
				if _, dup := union[p]; dup {
					t.Errorf("%d shards: %s rendered by two shards", n, p)
				}
				union[p] = b
			}
		}
		if envs != len(full.Envs) || len(union) != len(full.Files) {
			t.Errorf("%d shards: %d environments, %d files; full render %d, %d", n, envs, len(union), len(full.Envs), len(full.Files))
		}
		for p, b := range full.Files {
			if !bytes.Equal(union[p], b) {
				t.Errorf("%d shards: %s differs from the full render", n, p)
			}
		}
	}
}

func TestParseShard(t *testing.T) {
	for in, ok := range map[string]bool{"1/1": true, "3/8": true, "0/2": false, "3/2": false, "1/0": false, "a/b": false, "1/2/3": false, "01/2": false, "": false} {
		_, err := compile.ParseShard(in)
		if (err == nil) != ok {
			t.Errorf("ParseShard(%q): err = %v", in, err)
		}
	}
}

// TestCacheIsByteIdentical: a cached compile gives exactly what an uncached
// one gives — files, environments, diagnostics — with nothing changed (the
// whole fleet from the cache), after one environment changed (only it
// rendered), and after the schema changed (nothing from the cache).
func TestCacheIsByteIdentical(t *testing.T) {
	const n = 12
	dir := testrepo.New(t, repoRoot, testrepo.Fleet(n))
	cache := &rendercache.Cache{Dir: t.TempDir()}
	check := func(step string, wantCached int) {
		t.Helper()
		fresh, err := compile.Compile(compile.Options{Dir: dir, Render: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := compile.Compile(compile.Options{Dir: dir, Render: true, Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		if got.Cached != wantCached {
			t.Errorf("%s: %d environments from the cache, want %d", step, got.Cached, wantCached)
		}
		if len(got.Files) != len(fresh.Files) {
			t.Errorf("%s: %d files, uncached %d", step, len(got.Files), len(fresh.Files))
		}
		for p, b := range fresh.Files {
			if !bytes.Equal(got.Files[p], b) {
				t.Errorf("%s: %s differs from an uncached render", step, p)
			}
		}
		if !reflect.DeepEqual(withoutSource(got.Envs), withoutSource(fresh.Envs)) || !reflect.DeepEqual(got.Diags, fresh.Diags) || !reflect.DeepEqual(got.Scope, fresh.Scope) {
			t.Errorf("%s: environments, diagnostics or scope differ from an uncached compile", step)
		}
	}
	check("cold", 0)
	check("warm", n)

	env := filepath.Join(dir, "environments", "fleet-0003.cue")
	b, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`maxNodes: 20`)) {
		t.Fatalf("%s has no maxNodes: 20", env)
	}
	if err := os.WriteFile(env, bytes.Replace(b, []byte(`maxNodes: 20`), []byte(`maxNodes: 21`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	check("one environment changed", n-1)
	check("warm again", n)

	schema := filepath.Join(dir, "schema", "environment.cue")
	b, err = os.ReadFile(schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(schema, append(b, "\n// a comment changes the key\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	check("schema changed", 0)

	// A schema file that is a symbolic link: CUE reads its target, which
	// its name does not cover, so nothing is cached while it is there; a
	// change of the target is seen at once.
	target := filepath.Join(dir, "shared", "linked-schema.cue")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("package schema\n\n#Environment: domain: =~\"example$\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "schema", "zz-linked.cue")); err != nil {
		t.Fatal(err)
	}
	check("schema file linked", 0)
	if err := os.WriteFile(target, []byte("package schema\n\n#Environment: domain: =~\"^nothing\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh, ferr := compile.Compile(compile.Options{Dir: dir, Render: true})
	got, gerr := compile.Compile(compile.Options{Dir: dir, Render: true, Cache: cache})
	if ferr == nil || gerr == nil || got.Cached != 0 || len(got.Diags) != n || !reflect.DeepEqual(got.Diags, fresh.Diags) {
		t.Errorf("linked schema file changed: cached compile %v, %d from the cache, %d diagnostics; uncached %v, %d diagnostics; want %d, the same",
			gerr, got.Cached, len(got.Diags), ferr, len(fresh.Diags), n)
	}
	if err := os.Remove(filepath.Join(dir, "schema", "zz-linked.cue")); err != nil {
		t.Fatal(err)
	}

	// Options are part of the key.
	one, err := compile.Compile(compile.Options{Dir: dir, Render: true, Cache: cache, Envs: []string{"fleet-0001"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Envs) != 1 || len(one.Scope) == 0 {
		t.Errorf("a cached full render answered a one-environment render: %d environments, scope %v", len(one.Envs), one.Scope)
	}
}

// withoutSource drops EnvResult.Source (CUE values, which a cache hit does
// not have and which are not comparable with reflect.DeepEqual) and
// EnvResult.Key (which only a cached compile has).
func withoutSource(envs []compile.EnvResult) []compile.EnvResult {
	out := make([]compile.EnvResult, len(envs))
	for i, e := range envs {
		e.Source = load.Env{}
		e.Key = ""
		out[i] = e
	}
	return out
}

// countProgress records what Compile tells a compile.Progress.
type countProgress struct {
	total int
	done  atomic.Int32
}

func (p *countProgress) Start(total int) { p.total = total }
func (p *countProgress) Done()           { p.done.Add(1) }

func TestProgressCountsEveryEnvironment(t *testing.T) {
	p := &countProgress{}
	res, err := compile.Compile(compile.Options{Dir: repoRoot, Render: true, Progress: p})
	if err != nil {
		t.Fatal(err)
	}
	if p.total != len(res.Envs) || int(p.done.Load()) != len(res.Envs) || len(res.Envs) == 0 {
		t.Errorf("progress: total %d, done %d; %d environments rendered", p.total, p.done.Load(), len(res.Envs))
	}
}

func TestCandidate(t *testing.T) {
	dir := testrepo.New(t, repoRoot, map[string]string{
		// Another environment that is broken plays no part.
		"environments/other.cue": "package environments\n\nenvironments: other: {profile: 1}\n",
	})
	good := []byte(strings.ReplaceAll(corpusGood, "good", "cand"))
	res, err := compile.Candidate(dir, "cand", good, compile.Options{Render: true})
	if err != nil {
		t.Fatalf("a valid candidate: %v\n%v", err, res.Diags)
	}
	if len(res.Envs) != 1 || res.Envs[0].Env.Name != "cand" || len(res.Envs[0].Secrets) == 0 || len(res.Files) == 0 {
		t.Errorf("candidate result: %+v", res.Envs)
	}
	if _, err := os.Stat(filepath.Join(dir, "environments", "cand.cue")); !os.IsNotExist(err) {
		t.Errorf("Candidate wrote environments/cand.cue (%v)", err)
	}

	bad := []byte(strings.Replace(string(good), "minNodes: 2, maxNodes: 2, cpu: 4", "minNodes: 1, maxNodes: 2, cpu: 4", 1))
	res, err = compile.Candidate(dir, "cand", bad, compile.Options{})
	if !errors.Is(err, compile.ErrInvalid) || len(res.Diags) != 1 {
		t.Fatalf("an invalid candidate: %v %v", err, res.Diags)
	}
	abs, _ := filepath.Abs(filepath.Join(dir, "environments", "cand.cue"))
	if got := res.Diags[0].Pos.Filename; got != abs {
		t.Errorf("diagnostic at %s, want %s", got, abs)
	}
}

// TestCacheSharedByClones: cache entries are keyed by content, so two
// clones of a repository share them; the diagnostics a clone gets from
// them name its own files, not the clone's that wrote the entries.
func TestCacheSharedByClones(t *testing.T) {
	env, err := os.ReadFile(filepath.Join(repoRoot, "environments", "acme-azure.cue"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"environments/acme-azure.cue": string(env)} // it has a warning
	a, b := testrepo.New(t, repoRoot, files), testrepo.New(t, repoRoot, files)
	cache := &rendercache.Cache{Dir: t.TempDir()}
	for i, dir := range []string{a, b, a} {
		res, err := compile.Compile(compile.Options{Dir: dir, Render: true, Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && res.Cached == 0 {
			t.Fatalf("compile %d: nothing from the cache", i)
		}
		all := slices.Clone(res.Diags)
		for _, e := range res.Envs {
			all = append(all, e.Diags...)
		}
		if len(all) == 0 {
			t.Fatalf("compile %d: no diagnostics", i)
		}
		for _, d := range all {
			if !strings.HasPrefix(d.Pos.Filename, dir+string(filepath.Separator)) {
				t.Errorf("compile %d in %s: a diagnostic names %s", i, dir, d.Pos.Filename)
			}
		}
	}
}
