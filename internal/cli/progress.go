package cli

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressMin is the number of environments from which a phase shows a
// progress bar: below it a phase ends before a bar would be read.
const progressMin = 20

// progress counts the environments a long phase (rendering, evaluating
// policies) has done, as a bar on stderr. It shows only when stderr is a
// terminal: CI logs, pipes and tests get the summary lines alone. The bar
// is cleared when the phase ends, so it leaves nothing in a scrollback.
// It has no colour (NO_COLOR holds trivially). A nil *progress does
// nothing, so callers need not check. It implements compile.Progress.
type progress struct {
	w    io.Writer
	what string
	bar  *progressbar.ProgressBar
}

// newProgress returns the progress of a phase labelled what, or nil when
// stderr is not a terminal.
func newProgress(stderr io.Writer, what string) *progress {
	if !isTerminal(stderr) {
		return nil
	}
	return &progress{w: stderr, what: what}
}

// Start begins a bar of total environments, when there are at least
// progressMin of them.
func (p *progress) Start(total int) {
	if p == nil || total < progressMin {
		return
	}
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("environments"),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// Done counts one environment done; safe for concurrent use (the bar
// locks).
func (p *progress) Done() {
	if p != nil && p.bar != nil {
		_ = p.bar.Add(1)
	}
}

// Finish ends the phase and clears the bar.
func (p *progress) Finish() {
	if p != nil && p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
