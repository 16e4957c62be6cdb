package compile_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/rendercache"
	"github.com/katonic/katonic/internal/testrepo"
)

// edit is one change to a repository made of corpusGood and equivGood: the
// files to write (paths relative to the repository; "" removes the file).
type edit struct {
	name  string
	files map[string]string
}

// equivGood is a second valid environment, which no edit of another file
// may change.
var equivGood = strings.ReplaceAll(corpusGood, "good", "calm")

// equivEdits are every file-only case of the bad-input corpus, and the
// changes a cache could get wrong: an environment edited, added, removed
// or renamed; declarations in one file that reach for another
// environment; the schema, the profiles and the secrets changed.
func equivEdits() []edit {
	var out []edit
	for _, tc := range corpus {
		if tc.setup == nil {
			out = append(out, edit{tc.name, tc.files})
		}
	}
	schema, err := os.ReadFile(filepath.Join(repoRoot, "schema", "environment.cue"))
	if err != nil {
		panic(err)
	}
	profile, err := os.ReadFile(filepath.Join(repoRoot, "profiles", "cloud.cue"))
	if err != nil {
		panic(err)
	}
	return append(out,
		edit{"calm with a warning", map[string]string{"environments/calm.cue": strings.Replace(equivGood,
			"compute: {minNodes: 1, maxNodes: 2, cpu: 8,", "compute: {minNodes: 1, maxNodes: 2, cpu: 6,", 1)}},
		edit{"good edited", map[string]string{"environments/good.cue": strings.Replace(corpusGood, "good.example", "edited.example", 1)}},
		edit{"good removed", map[string]string{"environments/good.cue": ""}},
		edit{"good renamed", map[string]string{"environments/good.cue": "", "environments/moved.cue": strings.ReplaceAll(corpusGood, "good", "moved")}},
		edit{"environment added", map[string]string{"environments/fresh.cue": strings.ReplaceAll(corpusGood, "good", "fresh")}},
		edit{"hidden field read from another file", map[string]string{
			"environments/zz.cue":   "package environments\n\n_domain: \"hidden.example\"\n",
			"environments/calm.cue": strings.Replace(equivGood, `domain:            "calm.example"`, `domain:            _domain`, 1)}},
		edit{"embedding that turns a service off elsewhere", map[string]string{
			"environments/zz.cue": "package environments\n\n{environments: calm: services: superset: enabled: false}\n"}},
		edit{"reference to another environment", map[string]string{
			"environments/calm.cue": strings.Replace(equivGood, `domain:            "calm.example"`, `domain:            environments.good.domain`, 1)}},
		// A file the cache must not leave unread once unchanged: it
		// declares more than its own environment.
		edit{"calm declares a second environment", map[string]string{"environments/calm.cue": equivGood +
			strings.Replace(strings.Replace(equivGood, "package environments\n", "", 1), "environments: calm:", `environments: "Calm_2":`, 1)}},
		edit{"calm declares good too", map[string]string{"environments/calm.cue": equivGood +
			strings.Replace(corpusGood, "package environments\n", "", 1)}},
		edit{"schema changed", map[string]string{"schema/environment.cue": string(schema) + "\n// changed\n"}},
		edit{"profile default changed", map[string]string{"profiles/cloud.cue": strings.Replace(string(profile), "package profiles", "package profiles\n\n// changed", 1)}},
		edit{"secret added", map[string]string{"secrets/good/plain.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: plain\nstringData:\n  password: hunter2\n"}},
		edit{"secrets of no environment", map[string]string{"secrets/nobody/x.yaml": "x: 1\n"}},
	)
}

// FuzzCacheEquivalence applies a sequence of edits (each byte of ops picks
// one, or, for 0xff, puts the repository back as it was) and, after each,
// compiles with a warm render cache and without one, for the whole
// repository and for one environment: the results — error, diagnostics,
// environments, files, scope — must be identical. The cache is shared by
// every step, so an entry written for one state of the repository is
// offered to every later one.
func FuzzCacheEquivalence(f *testing.F) {
	edits := equivEdits()
	// Seeds: every edit once, each after a few others and undone after
	// (under the race detector, a fifth of them: the others cost a
	// minute there, and .ci/run's fuzz step runs them all).
	const step = 5
	seeds := step
	if raceEnabled {
		seeds = 1
	}
	for start := 0; start < seeds; start++ {
		var ops []byte
		for i := start; i < len(edits); i += step {
			ops = append(ops, byte(i), 0xff)
		}
		f.Add(ops)
	}
	// An environment with a warning, unchanged while another one changes:
	// it comes from the last compile's entry, warning and all. A file
	// declaring more than its environment, unchanged while another one
	// changes: it is read again.
	index := map[string]byte{}
	for i, e := range edits {
		index[e.name] = byte(i)
	}
	for _, first := range []string{"calm with a warning", "calm declares a second environment", "calm declares good too"} {
		f.Add([]byte{index[first], index["good edited"], 0xff})
	}
	base := testrepo.New(f, repoRoot, map[string]string{"environments/good.cue": corpusGood, "environments/calm.cue": equivGood})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			t.Skip("long sequences add little and cost seconds")
		}
		dir := t.TempDir()
		if err := testrepo.CopyDir(base, dir); err != nil {
			t.Fatal(err)
		}
		cache := &rendercache.Cache{Dir: t.TempDir()}
		if rendercache.ToolID() == "" {
			t.Skip("this test binary cannot be identified, so nothing is cached")
		}
		// The hashes of the last whole render with the cache: what a
		// compiled render's BaseSum and Changed must describe.
		var last map[string]string
		compare := func(what string) {
			t.Helper()
			for i, envs := range [][]string{nil, {"calm"}} {
				fresh, ferr := compile.Compile(compile.Options{Dir: dir, Envs: envs, Render: true})
				// The whole repository lazily (as katonic render does),
				// one environment with every file read.
				lazy := i == 0
				warm, werr := compile.Compile(compile.Options{Dir: dir, Envs: envs, Render: true, Cache: cache, Lazy: lazy})
				if lazy && werr == nil {
					if !reflect.DeepEqual(warm.Hashes(), fresh.Hashes()) {
						t.Fatalf("%s: the hashes of a lazy compile differ from an uncached one", what)
					}
					checkBase(t, what, warm, last)
					last = fresh.Hashes()
					if werr = warm.ReadFiles(); werr != nil {
						t.Fatalf("%s: ReadFiles: %v", what, werr)
					}
				}
				if !sameErr(ferr, werr) {
					t.Fatalf("%s (envs %v): cached compile returned %v, uncached %v", what, envs, werr, ferr)
				}
				if fresh == nil || warm == nil {
					continue
				}
				if !reflect.DeepEqual(warm.Diags, fresh.Diags) {
					t.Fatalf("%s (envs %v): diagnostics differ:\ncached:   %v\nuncached: %v", what, envs, warm.Diags, fresh.Diags)
				}
				if !reflect.DeepEqual(withoutSource(warm.Envs), withoutSource(fresh.Envs)) || !reflect.DeepEqual(warm.Scope, fresh.Scope) {
					t.Fatalf("%s (envs %v): environments or scope differ from an uncached compile", what, envs)
				}
				if len(warm.Files) != len(fresh.Files) {
					t.Fatalf("%s (envs %v): %d files, uncached %d", what, envs, len(warm.Files), len(fresh.Files))
				}
				for p, b := range fresh.Files {
					if !bytes.Equal(warm.Files[p], b) {
						t.Fatalf("%s (envs %v): %s differs from an uncached render", what, envs, p)
					}
				}
			}
		}
		compare("before any edit")
		compare("before any edit, warm")
		for _, op := range ops {
			if op == 0xff {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := testrepo.CopyDir(base, dir); err != nil {
					t.Fatal(err)
				}
				compare("put back")
				continue
			}
			e := edits[int(op)%len(edits)]
			for name, body := range e.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if body == "" {
					if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
					continue
				}
				write(t, p, body)
			}
			compare(e.name)
		}
	})
}

// checkBase fails t unless a whole render compiled now (not taken whole
// from the cache) is described as a change from last, the hashes of the
// last whole render: BaseSum is last's manifest's SHA-256 and Changed maps
// exactly the paths whose hash differs to res's hash, or "" for a path res
// does not have.
func checkBase(t *testing.T, what string, res *compile.Result, last map[string]string) {
	t.Helper()
	if res.ManifestSum != "" || last == nil {
		if res.BaseSum != "" || res.Changed != nil {
			t.Fatalf("%s: a base (%s, %d changed) without a last render to compare with", what, res.BaseSum, len(res.Changed))
		}
		return
	}
	if want := outdir.ManifestSum(last); res.BaseSum != want {
		t.Fatalf("%s: BaseSum %q, want the last render's %q", what, res.BaseSum, want)
	}
	if changed := outdir.Changes(last, res.Hashes()); !reflect.DeepEqual(res.Changed, changed) {
		t.Fatalf("%s: Changed %v, want %v", what, res.Changed, changed)
	}
}

// sameErr reports whether two compile errors are the same outcome: both
// nil, both ErrInvalid, or the same message.
func sameErr(a, b error) bool {
	switch {
	case a == nil || b == nil:
		return a == nil && b == nil
	case errors.Is(a, compile.ErrInvalid) || errors.Is(b, compile.ErrInvalid):
		return errors.Is(a, compile.ErrInvalid) && errors.Is(b, compile.ErrInvalid)
	}
	return a.Error() == b.Error()
}
