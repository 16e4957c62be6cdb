//go:build !race

package outdir

const raceEnabled = false
