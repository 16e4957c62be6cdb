package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	// Not a terminal: no bar, and the nil progress is safe to use.
	var buf bytes.Buffer
	p := newProgress(&buf, "rendering")
	if p != nil {
		t.Fatal("progress on a bytes.Buffer")
	}
	p.Start(100)
	p.Done()
	p.Finish()
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}

	// A terminal (forced): a bar for a fleet, none for a few
	// environments, and the bar is cleared at the end.
	small := &progress{w: &buf, what: "rendering"}
	small.Start(progressMin - 1)
	small.Done()
	small.Finish()
	if buf.Len() != 0 {
		t.Errorf("bar for %d environments: %q", progressMin-1, buf.String())
	}
	big := &progress{w: &buf, what: "rendering"}
	big.Start(progressMin)
	for i := 0; i < progressMin; i++ {
		big.Done()
	}
	big.Finish()
	out := buf.String()
	if !strings.Contains(out, "rendering") || !strings.Contains(out, "/20)") || !strings.HasSuffix(out, "\r") {
		t.Errorf("bar output %q", out)
	}
	if strings.Contains(out, "\x1b[3") {
		t.Errorf("bar has colour codes: %q", out)
	}
}
