//go:build unix

package rendercache

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A named pipe yields what its writer writes, not what its name says, and
// opening it blocks: AddTree refuses it without opening it.
func TestAddTreeNamedPipe(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "d", "pipe.cue"), 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	if err := NewHasher().AddTree(dir, "d"); !errors.Is(err, ErrUncovered) {
		t.Errorf("AddTree of a tree with a named pipe: %v, want ErrUncovered", err)
	}
}
