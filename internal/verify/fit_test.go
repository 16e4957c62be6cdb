package verify

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/katonic/katonic/internal/charts"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
)

// refCharts is the shared reference documents' offline mirror of the real
// upstream charts (packaged, with an index.yaml).
const refCharts = "../../../shared/reference/charts"

// realChartOptions renders the example environments and fills a chart
// cache in dir with every chart of theirs that the reference mirror holds,
// locked under the examples' upstream references: a warm cache, as after
// 'katonic charts pull'. It skips tb when the mirror is absent.
func realChartOptions(tb testing.TB, dir string) (*compile.Result, Options) {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(refCharts, "index.yaml")); err != nil {
		tb.Skipf("no %s: the real charts are not available", refCharts)
	}
	res, err := compile.Compile(compile.Options{Dir: repoRoot, Render: true})
	if err != nil {
		tb.Fatalf("compile: %v\n%v", err, res.Diags)
	}
	cache := charts.Cache{Dir: filepath.Join(dir, "cache")}
	lock := &charts.Lock{}
	opts := Options{Root: filepath.Join(dir, "root"), Out: "out", Files: res.Files, Cache: cache, Lock: lock,
		Layers: []string{LayerCharts, LayerFit}}
	for _, e := range res.Envs {
		opts.Envs = append(opts.Envs, Env{Env: e.Env, Releases: e.Releases, Secrets: e.Secrets})
		for _, r := range ChartRefs(e.Releases) {
			data, err := os.ReadFile(filepath.Join(refCharts, r.Chart+"-"+r.Version+".tgz"))
			if err != nil {
				continue // not in the mirror (Katonic's own charts, MLflow, Superset): never locked
			}
			d, err := cache.Put(data)
			if err != nil {
				tb.Fatal(err)
			}
			lock.Set(charts.Entry{Ref: r, Digest: d})
		}
	}
	if err := os.MkdirAll(opts.Root, 0o755); err != nil {
		tb.Fatal(err)
	}
	return res, opts
}

// BenchmarkChartsFit runs the charts and fit layers over the example
// environments with the real charts from a warm chart cache.
func BenchmarkChartsFit(b *testing.B) {
	_, opts := realChartOptions(b, b.TempDir())
	for b.Loop() {
		if _, err := Run(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExamplesFitRealCharts runs the charts and fit layers over the
// examples with the real charts: they must install, so the only findings
// allowed are the errors for the charts the mirror lacks (never locked, so
// never checked), exactly those and each once. Every pool's totals are
// logged (go test -v).
func TestExamplesFitRealCharts(t *testing.T) {
	if testing.Short() {
		t.Skip("templates every real chart")
	}
	res, opts := realChartOptions(t, t.TempDir())
	rep, err := Run(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range rep.Envs {
		var missing []string
		for _, r := range ChartRefs(res.Envs[i].Releases) {
			if _, ok := opts.Lock.Lookup(r); !ok {
				missing = append(missing, r.Chart+" "+r.Version)
			}
		}
		slices.Sort(missing)
		if len(missing) == 0 || !slices.Equal(e.NotChecked, missing) {
			t.Errorf("%s: not checked %v, want the charts the mirror lacks, %v", e.Name, e.NotChecked, missing)
		}
		if e.Charts == 0 || len(e.Pools) == 0 {
			t.Errorf("%s: %d charts templated, %d pools", e.Name, e.Charts, len(e.Pools))
		}
		for _, p := range e.Pools {
			t.Logf("%s: %s", e.Name, p.Summary())
		}
		unlocked := 0
		for _, f := range e.Findings {
			if f.Rule == "" || f.Source == "" {
				t.Errorf("finding without rule or source: %s", f.Format(""))
			}
			if f.Severity != diag.Error || f.Rule != "verify.charts.unlocked" {
				t.Errorf("%s: %s", f.Layer, f.Format(""))
				continue
			}
			unlocked++
		}
		// One per HelmRelease: no chart the mirror lacks is installed twice.
		if unlocked != len(missing) {
			t.Errorf("%s: %d verify.charts.unlocked errors, want %d (%v)", e.Name, unlocked, len(missing), missing)
		}
	}
}
