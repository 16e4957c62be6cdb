package rendercache

import (
	"encoding/gob"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/filestat"
)

func TestPutGet(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	type entry struct {
		Files map[string][]byte
		N     int
	}
	key := NewHasher().AddString("a", "b").Key()
	var got entry
	if c.Get(key, &got) {
		t.Fatal("hit in an empty cache")
	}
	want := entry{Files: map[string][]byte{"x.yaml": []byte("k: v\n")}, N: 3}
	if err := c.Put(key, &want); err != nil {
		t.Fatal(err)
	}
	if !c.Get(key, &got) || got.N != 3 || string(got.Files["x.yaml"]) != "k: v\n" {
		t.Fatalf("got %+v", got)
	}
	// A damaged entry is a miss, not an error.
	if err := os.WriteFile(c.path(key), []byte("not gob"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c.Get(key, &entry{}) {
		t.Error("a damaged entry was a hit")
	}
	// A nil or directory-less cache never hits and never fails.
	var none *Cache
	if none.Get(key, &got) || none.Put(key, &want) != nil || (&Cache{}).Get(key, &got) {
		t.Error("a disabled cache hit or failed")
	}
}

// TestPutGetStream: the values PutStream's function writes come back in
// order; an entry cut short, or a decode function that fails, is a miss;
// a failed encode leaves no entry and no temporary file.
func TestPutGetStream(t *testing.T) {
	dir := t.TempDir()
	c := &Cache{Dir: dir}
	key := NewHasher().AddString("stream", "1").Key()
	if err := c.PutStream(key, func(e *gob.Encoder) error {
		for i := range 3 {
			if err := e.Encode(strings.Repeat("x", i+1)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	read := func(d *gob.Decoder) error {
		got = nil
		for range 3 {
			var s string
			if err := d.Decode(&s); err != nil {
				return err
			}
			got = append(got, s)
		}
		return nil
	}
	if !c.GetStream(key, read) || strings.Join(got, " ") != "x xx xxx" {
		t.Fatalf("read back %q", got)
	}
	raw, err := os.ReadFile(c.path(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path(key), raw[:len(raw)-2], 0o644); err != nil {
		t.Fatal(err)
	}
	if c.GetStream(key, read) {
		t.Error("an entry cut short was a hit")
	}
	other := NewHasher().AddString("stream", "2").Key()
	if err := c.PutStream(other, func(*gob.Encoder) error { return errors.New("no") }); err == nil {
		t.Error("a failed encode was stored")
	}
	if _, err := os.Stat(c.path(other)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed encode left an entry: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestHasher(t *testing.T) {
	// Labels and lengths are hashed: parts cannot run into each other.
	a := NewHasher().AddString("x", "ab").AddString("y", "c").Key()
	b := NewHasher().AddString("x", "a").AddString("y", "bc").Key()
	if a == b {
		t.Error("different parts gave the same key")
	}
	if a != NewHasher().AddString("x", "ab").AddString("y", "c").Key() {
		t.Error("the same parts gave different keys")
	}
	dir := t.TempDir()
	k1 := NewHasher()
	if err := k1.AddTree(dir, "missing"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "e", "f"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	k2, k3 := NewHasher(), NewHasher()
	if err := k2.AddTree(dir, "d"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "d", "e", "f"), []byte("2"), 0o644)
	if err := k3.AddTree(dir, "d"); err != nil {
		t.Fatal(err)
	}
	if k1.Key() == k2.Key() || k2.Key() == k3.Key() {
		t.Error("a tree's content does not change its key")
	}
	// A file is hashed as Add hashes its content (it is streamed, not read
	// whole): keys stay those of earlier builds.
	if want := NewHasher().Add("file d/e/f", []byte("2")).Key(); k3.Key() != want {
		t.Errorf("AddTree of one file: key %s, want Add's %s", k3.Key(), want)
	}
	// A link's target is not covered by its name: no key.
	if err := os.Symlink(filepath.Join(dir, "d", "e", "f"), filepath.Join(dir, "d", "link")); err != nil {
		t.Fatal(err)
	}
	if err := NewHasher().AddTree(dir, "d"); !errors.Is(err, ErrUncovered) {
		t.Errorf("AddTree of a tree with a link: %v, want ErrUncovered", err)
	}
}

func TestToolID(t *testing.T) {
	if ToolID() == "" {
		t.Skip("this test binary cannot be identified; katonic then caches nothing")
	}
	if ToolID() != ToolID() {
		t.Error("ToolID is not stable")
	}
}

// TestExeID: a development build's hash is kept under the executable's
// stat, used while that stat holds, and not once the file changes.
func TestExeID(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(t.TempDir(), "katonic")
	if err := os.WriteFile(exe, []byte("build one"), 0o755); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := filestat.Of(fi)
	if !ok {
		t.Skip("no ctime or inode on this platform: the executable is hashed on every run")
	}
	id := "exe:" + strings.Repeat("a", 64)
	writeExeID(dir, exe, st, id)
	if got, ok := exeID(dir, exe); !ok || got != id {
		t.Fatalf("exeID after writeExeID: %q, %v", got, ok)
	}
	if err := os.WriteFile(exe, []byte("build two, longer"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, ok := exeID(dir, exe); ok {
		t.Fatalf("exeID after the executable changed: %q", got)
	}
	if err := os.WriteFile(exeRecord(dir, exe), []byte("nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := exeID(dir, exe); ok {
		t.Fatalf("exeID of a damaged record: %q", got)
	}

	// The test binary is a development build: with a directory, identify
	// uses a record whose stat is the binary's (here a made-up hash, to
	// show it is used), and otherwise hashes it.
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	plain := identify("")
	if !strings.HasPrefix(plain, "exe:") {
		t.Skipf("the test binary is identified as %q, not by its hash", plain)
	}
	sfi, err := os.Stat(self)
	if err != nil {
		t.Fatal(err)
	}
	sst, _ := filestat.Of(sfi)
	writeExeID(dir, self, sst, id)
	if got := identify(dir); got != id {
		t.Errorf("identify with a record of the executable's stat: %q, want %q", got, id)
	}
	os.Remove(exeRecord(dir, self))
	if got := identify(dir); got != plain {
		t.Errorf("identify without a record: %q, want the hash %q", got, plain)
	}
}
