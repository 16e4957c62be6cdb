package outdir

import "errors"

// Test support. Production code never sets these.
var (
	// testHook, if set, is called at each step of Plan and Write named by
	// event ("locked", "read", "mode", "carry", "stage", "staged",
	// "ready", "old-moved", "swapped", "cleaned", "journal", "apply",
	// "parked", "exchanged", "applied", "unlocking"), with the path or reason the step concerns. An error it
	// returns aborts the call as a failed step would (except at "locked" and
	// "unlocking", where it is ignored); errTestCrash aborts it without any
	// cleanup but the lock's release, as if the process had been killed
	// there.
	testHook func(event, p string) error
	// testNoExchange makes renameat2 look unsupported, to test the fallback.
	testNoExchange bool
	// testNoDirSwap makes a scoped Write swap the whole root, as it did
	// before per-directory swaps, to compare the two.
	testNoDirSwap bool
	// testRefTime, if set, replaces the stat cache's settling time (see
	// refTime), so that tests need not wait for files to settle.
	testRefTime func() int64
	// errTestCrash is the testHook error that simulates a kill.
	errTestCrash = errors.New("outdir: simulated crash (test)")
)

// errNoExchange means the platform or file system cannot exchange two
// directories atomically (or rename without replacing).
var errNoExchange = errors.New("renameat2 RENAME_EXCHANGE is not supported")

// hook calls testHook, if set.
func hook(event, p string) error {
	if testHook == nil {
		return nil
	}
	return testHook(event, p)
}

// crashed reports whether err is the simulated kill: then nothing may be
// cleaned up.
func crashed(err error) bool { return errors.Is(err, errTestCrash) }
