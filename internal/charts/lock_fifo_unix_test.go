//go:build unix

package charts

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A named pipe as charts.lock would block the read for ever: it is an
// error naming the file, returned without opening it.
func TestReadLockNamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "charts.lock")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadLock(path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "charts.lock is a named pipe, not a regular file") {
			t.Errorf("ReadLock(named pipe) error = %v, want one saying it is not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadLock(named pipe) blocked")
	}
}
