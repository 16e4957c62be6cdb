//go:build race

package compile_test

// raceEnabled: the race detector slows CUE's evaluation several times.
const raceEnabled = true
