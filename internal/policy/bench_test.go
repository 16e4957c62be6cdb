package policy

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/testrepo"
)

// BenchmarkEvaluate evaluates every policy over one example environment
// (acme-azure, the largest); katonic's budget is well under a second.
func BenchmarkEvaluate(b *testing.B) {
	res, set := examples(b)
	env := envOf(b, res, "acme-azure")
	b.ResetTimer()
	for b.Loop() {
		if _, err := set.Evaluate(env, res.Files, "out"); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	fleetOnce sync.Once
	fleetRes  *compile.Result
	fleetSet  *Set
	fleetErr  error
)

// fleet renders 16 generated environments (testrepo.Fleet, every profile)
// and loads their policy set, once per test binary.
func fleet(b *testing.B) (*compile.Result, *Set) {
	b.Helper()
	fleetOnce.Do(func() {
		dir := testrepo.New(b, repoRoot, testrepo.Fleet(16))
		fleetRes, fleetErr = compile.Compile(compile.Options{Dir: dir, Render: true})
		if fleetErr != nil {
			fleetErr = fmt.Errorf("%v: %v", fleetErr, fleetRes.Diags)
			return
		}
		fleetSet, _, fleetErr = Load(dir)
	})
	if fleetErr != nil {
		b.Fatal(fleetErr)
	}
	return fleetRes, fleetSet
}

// BenchmarkEvaluateFleet evaluates the policies over 16 different
// environments in turn, as katonic render does for a fleet; one op is one
// environment.
func BenchmarkEvaluateFleet(b *testing.B) {
	res, set := fleet(b)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r, err := set.Evaluate(res.Envs[i%len(res.Envs)], res.Files, "out")
		if err != nil || len(r.Violations)+len(r.Errors) > 0 {
			b.Fatal(err, r)
		}
		i++
	}
}

// BenchmarkEvaluateFleetParallel is BenchmarkEvaluateFleet with one
// goroutine per CPU (-cpu), each with an evaluator of its own.
func BenchmarkEvaluateFleetParallel(b *testing.B) {
	res, set := fleet(b)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			r, err := set.Evaluate(res.Envs[i%len(res.Envs)], res.Files, "out")
			if err != nil || len(r.Violations)+len(r.Errors) > 0 {
				b.Error(err, r)
				return
			}
		}
	})
}
