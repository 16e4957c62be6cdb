//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package outdir

// lockAt does not lock on platforms without flock(2): renders of one output
// directory must not run at the same time there.
func lockAt(t *target, path string, opts Options) (*heldLock, error) {
	return &heldLock{}, nil
}
