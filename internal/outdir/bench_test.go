package outdir

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

// fleetEnvs and fleetFiles shape the benchmarks' fleet: as many
// environments, and files per environment, as issue 13's (1,000 × 25).
const fleetEnvs, fleetFiles = 1000, 25

// fleetEnv returns environment e's files: 5 under clusters/<env>/, 20
// under environments/<env>/ in three directories, of 1-2 KB each; rev
// changes one of them.
func fleetEnv(e, rev int) map[string][]byte {
	env := fmt.Sprintf("env%04d", e)
	files := map[string][]byte{}
	for i := range fleetFiles {
		p := fmt.Sprintf("clusters/%s/k%02d.yaml", env, i)
		if i >= 5 {
			p = fmt.Sprintf("environments/%s/layer%d/r%02d.yaml", env, i%3, i)
		}
		body := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d\ndata:\n  rev: %q\n", env, i, "0")
		if i == 7 {
			body = strings.Replace(body, `"0"`, fmt.Sprintf("%q", fmt.Sprint(rev)), 1)
		}
		files[p] = []byte(body + strings.Repeat("# padding\n", 100+i*5))
	}
	return files
}

// fleetScope is environment e's scope.
func fleetScope(e int) Scope {
	env := fmt.Sprintf("env%04d", e)
	return Scope{"clusters/" + env + "/", "environments/" + env + "/"}
}

// writeFleet writes the whole fleet into a new out/ and returns its root
// and a stat cache path beside it.
func writeFleet(b *testing.B) (root, cache string, fleet map[string][]byte) {
	b.Helper()
	dir := b.TempDir()
	root, cache = filepath.Join(dir, "out"), filepath.Join(dir, "cache", "stat")
	fleet = map[string][]byte{}
	for e := range fleetEnvs {
		maps.Copy(fleet, fleetEnv(e, 0))
	}
	if _, err := Write(root, fleet, nil); err != nil {
		b.Fatal(err)
	}
	return root, cache, fleet
}

// BenchmarkUpToDate: "nothing changed" on a fleet of 1,000 environments
// (25,000 files): UpToDate with a warm stat cache (no file read), then
// without a cache (every file read), Plan with the desired contents
// and a warm cache (hashing the contents is its extra cost), CheckSum, and
// CheckDelta for one changed file.
func BenchmarkUpToDate(b *testing.B) {
	root, cache, fleet := writeFleet(b)
	want := map[string]string{}
	for p, c := range fleet {
		want[p] = hashHex(c)
	}
	waitSettled()
	warm := Options{StatCache: cache}
	if ok, err := upToDate(root, want, warm); !ok || err != nil { // makes the cache
		b.Fatal(ok, err)
	}
	b.Run("warm-stat-cache", func(b *testing.B) {
		for b.Loop() {
			if ok, err := upToDate(root, want, warm); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("no-stat-cache", func(b *testing.B) {
		for b.Loop() {
			if ok, err := upToDate(root, want, Options{}); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("plan-warm-stat-cache", func(b *testing.B) {
		for b.Loop() {
			if changes, err := PlanWith(root, fleet, warm); len(changes) != 0 || err != nil {
				b.Fatal(changes, err)
			}
		}
	})
	// The render known by its manifest's SHA-256 only (a whole render
	// from the cache), with and without the manifest and stat cache read
	// ahead; the read ahead starts in the iteration, as katonic starts it
	// at the beginning of a render.
	sum := ManifestSum(want)
	b.Run("checksum-warm-stat-cache", func(b *testing.B) {
		for b.Loop() {
			if d, ok, err := CheckSum(root, sum, warm); !ok || err != nil || !d.UpToDate() {
				b.Fatal(d, ok, err)
			}
		}
	})
	b.Run("checksum-read-ahead", func(b *testing.B) {
		for b.Loop() {
			opts := warm
			opts.Prefetch = StartPrefetch(root, warm)
			if d, ok, err := CheckSum(root, sum, opts); !ok || err != nil || !d.UpToDate() {
				b.Fatal(d, ok, err)
			}
		}
	})
	// One environment changed (a render made now, known as a change from
	// the last one): one of its files has a new hash.
	var one string
	for p := range want {
		one = max(one, p)
	}
	changed := map[string]string{one: hashHex([]byte("changed"))}
	b.Run("delta-read-ahead", func(b *testing.B) {
		for b.Loop() {
			opts := warm
			opts.Prefetch = StartPrefetch(root, warm)
			if d, ok, err := CheckDelta(root, sum, changed, opts); !ok || err != nil || len(d.Paths) != 1 {
				b.Fatal(d, ok, err)
			}
		}
	})
}

// BenchmarkWriteOneOfFleet: one environment of a fleet of 1,000 changed
// (one file of its 25), written with its scope and the stat cache: each
// iteration changes another environment. "whole-root" is the same write
// through the whole-root swap, as before per-directory swaps.
func BenchmarkWriteOneOfFleet(b *testing.B) {
	root, cache, _ := writeFleet(b)
	opts := Options{StatCache: cache}
	rev := 0
	write := func(b *testing.B) {
		rev++
		e := rev * 7 % fleetEnvs
		opts.Scope = fleetScope(e)
		changes, err := WriteWith(root, fleetEnv(e, rev), opts)
		if err != nil || len(changes) != 1 {
			b.Fatal(changes, err)
		}
	}
	b.Run("per-directory", func(b *testing.B) {
		for b.Loop() {
			write(b)
		}
	})
	b.Run("whole-root", func(b *testing.B) {
		testNoDirSwap = true
		defer func() { testNoDirSwap = false }()
		for b.Loop() {
			write(b)
		}
	})
}
