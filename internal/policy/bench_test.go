package policy

import "testing"

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
