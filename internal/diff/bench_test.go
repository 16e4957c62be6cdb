package diff

import (
	"io"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/testrepo"
)

// fleetChange is the whole-fleet change of docs/performance.md ("katonic
// diff on a fleet") applied to one environment file of testrepo.Fleet: its
// load balancer flipped between internal and external, Superset off.
func fleetChange(src string) string {
	switch {
	case strings.Contains(src, `loadBalancer:      "internal"`):
		src = strings.Replace(src, `loadBalancer:      "internal"`, `loadBalancer:      "external"`, 1)
	case strings.Contains(src, `profile:           "onprem"`): // external by default
		src = strings.Replace(src, "\tdomain:", "\tloadBalancer: \"internal\"\n\tdomain:", 1)
	default: // azure-private: internal by default
		src = strings.Replace(src, "\tdomain:", "\tloadBalancer: \"external\"\n\tdomain:", 1)
	}
	return strings.Replace(src, "superset: enabled: true", "superset: enabled: false", 1)
}

// renderFleet renders files (testrepo.Fleet or a change of it) as a Side.
func renderFleet(b *testing.B, files map[string]string) Side {
	b.Helper()
	res, err := compile.Compile(compile.Options{Dir: testrepo.New(b, "../..", files), Render: true})
	if err != nil {
		b.Fatalf("%v\n%v", err, res.Diags)
	}
	s := Side{Files: res.Files, Envs: map[string]*config.Environment{}}
	for _, e := range res.Envs {
		s.Envs[e.Env.Name] = e.Env
	}
	return s
}

// BenchmarkCompareFleet compares the renders of a generated fleet before
// and after fleetChange (every environment changed), and writes the
// Markdown comment: the part of `katonic diff` after both sides are
// rendered.
func BenchmarkCompareFleet(b *testing.B) {
	const n = 100
	fleet := testrepo.Fleet(n)
	changed := map[string]string{}
	for p, src := range fleet {
		changed[p] = fleetChange(src)
	}
	from, to := renderFleet(b, fleet), renderFleet(b, changed)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if len(rep.Envs) != n {
		b.Fatalf("%d environments changed, want %d", len(rep.Envs), n)
	}
	b.Run("compare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Compare(from, to, Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/env")
	})
	b.Run("markdown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := rep.WriteMarkdown(io.Discard, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/env")
	})
}
