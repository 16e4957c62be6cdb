package filestat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOf: a rewrite changes the Stat even when the size and mtime are put
// back, and only regular files have one.
func TestOf(t *testing.T) {
	if !Supported {
		t.Skip("no ctime on this platform")
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	stat := func() Stat {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		s, ok := Of(fi)
		if !ok {
			t.Fatal("no Stat for a regular file")
		}
		return s
	}
	a := stat()
	if a.Size != 3 || a.Mtime != old.UnixNano() || a.Ino == 0 {
		t.Fatalf("Stat %+v", a)
	}
	time.Sleep(20 * time.Millisecond) // past the kernel clock's tick
	if err := os.WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	b := stat()
	if b == a {
		t.Fatalf("the same Stat after a rewrite with size and mtime put back: %+v", b)
	}
	if fi, err := os.Lstat(filepath.Dir(p)); err != nil {
		t.Fatal(err)
	} else if _, ok := Of(fi); ok {
		t.Error("a directory has a Stat")
	}
	if !b.Settled(time.Now().Add(time.Minute).UnixNano()) || b.Settled(b.Ctime) {
		t.Errorf("Settled: %+v", b)
	}
}
