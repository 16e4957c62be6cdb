//go:build !race

package cli_test

// raceEnabled reports whether the tests run with the race detector
// (go test -race), which TestCIDoc skips.
const raceEnabled = false
