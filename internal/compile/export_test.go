package compile

import "testing"

// ForceParallelBuilds makes a render build and validate its environments
// on builders of its own however few they are, each retired after one
// environment, until the test ends.
func ForceParallelBuilds(t testing.TB) {
	n, per := parallelBuilds, buildsPerBuilder
	parallelBuilds, buildsPerBuilder = 1, 1
	t.Cleanup(func() { parallelBuilds, buildsPerBuilder = n, per })
}
