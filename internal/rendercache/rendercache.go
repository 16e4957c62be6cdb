// Package rendercache keeps renders keyed by a hash of every input that
// decides them, so that rendering a fleet where nothing changed costs
// reading one file, and a change to one environment re-renders that
// environment only.
//
// A key covers: katonic itself (ToolID: its module version and VCS
// revision, or the hash of its executable for a modified or unversioned
// build, kept in the cache under the executable's stat — so the catalog,
// the renderer and the rules, which are Go, are covered), the CUE module, schema and profiles (every file under cue.mod/,
// schema/ and profiles/), the environment files, and the render options.
// Entries are gob files written atomically; a damaged or unreadable entry is
// a miss. The cache may be deleted at any time.
package rendercache

import (
	"bufio"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/katonic/katonic/internal/filestat"
)

// DirEnv is the environment variable that sets the cache directory.
const DirEnv = "KATONIC_RENDER_CACHE_DIR"

// DefaultDir returns $KATONIC_RENDER_CACHE_DIR if set, else
// os.UserCacheDir()/katonic/render. It fails only when neither is known.
func DefaultDir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("render cache: %w (set %s)", err, DirEnv)
	}
	return filepath.Join(base, "katonic", "render"), nil
}

// Cache is a directory of entries named by key.
type Cache struct {
	// Dir is created on the first Put.
	Dir string

	toolOnce sync.Once
	tool     string
}

// Get decodes the entry for key into v and reports whether there was one.
// A missing, unreadable or undecodable entry is a miss (false).
func (c *Cache) Get(key string, v any) bool {
	return c.GetStream(key, func(d *gob.Decoder) error { return d.Decode(v) })
}

// GetStream is Get for an entry PutStream wrote: decode reads its values
// in the order they were written. An error from decode, or a missing or
// unreadable entry, is a miss (false).
func (c *Cache) GetStream(key string, decode func(*gob.Decoder) error) bool {
	if c == nil || c.Dir == "" {
		return false
	}
	// Decoded from the file as it is read: a fleet's entries are
	// megabytes.
	f, err := os.Open(c.path(key))
	if err != nil {
		return false
	}
	defer f.Close()
	return decode(gob.NewDecoder(bufio.NewReaderSize(f, 64<<10))) == nil
}

// Put stores v (gob-encodable) under key, atomically: readers see the old
// entry or the new one, never a part.
func (c *Cache) Put(key string, v any) error {
	return c.PutStream(key, func(e *gob.Encoder) error { return e.Encode(v) })
}

// PutStream is Put for an entry made of the values encode writes, in
// order (GetStream reads them back). gob encodes each value as one
// message in a buffer of that message's size, reused from one value to
// the next: an entry of megabytes written as many values (a fleet's
// environments) never grows a buffer of its whole size.
func (c *Cache) PutStream(key string, encode func(*gob.Encoder) error) error {
	if c == nil || c.Dir == "" {
		return nil
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("render cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("render cache: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	err = encode(gob.NewEncoder(w))
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("render cache: %w", err)
	}
	return nil
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.Dir, key[:2], key+".gob")
}

// Hasher builds a key from labelled parts; the labels and lengths are part
// of the hash, so parts cannot run into each other.
type Hasher struct{ h io.Writer }

// NewHasher starts a key.
func NewHasher() *Hasher { return &Hasher{h: sha256.New()} }

// Add hashes one labelled part.
func (k *Hasher) Add(label string, data []byte) *Hasher {
	fmt.Fprintf(k.h, "%s %d\n", label, len(data))
	k.h.Write(data)
	return k
}

// AddString hashes one labelled string part.
func (k *Hasher) AddString(label, s string) *Hasher { return k.Add(label, []byte(s)) }

// Key returns the hex SHA-256 of everything added.
func (k *Hasher) Key() string {
	return hex.EncodeToString(k.h.(interface{ Sum([]byte) []byte }).Sum(nil))
}

// ErrUncovered is AddTree's error for a tree that holds a file whose name
// and content do not cover what a reader gets: a symbolic link (CUE's
// loader reads its target), or a named pipe, socket or device (what it
// yields is not in the tree). No key of that tree would be exact, so
// callers do not cache then.
var ErrUncovered = errors.New("render cache: a symbolic link or special file, whose content its name does not cover")

// AddTree hashes every regular file under root/rel (paths relative to root,
// sorted, and contents). A missing directory hashes as empty. A symbolic
// link or a special file under it (or rel itself being one) is
// ErrUncovered, wrapped with its path.
func (k *Hasher) AddTree(root, rel string) error {
	var files []string
	err := filepath.WalkDir(filepath.Join(root, rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		switch {
		case d.Type().IsRegular():
			files = append(files, p)
		case !d.IsDir():
			return fmt.Errorf("%s: %w", p, ErrUncovered)
		}
		return nil
	})
	if errors.Is(err, ErrUncovered) {
		return err
	}
	if err != nil {
		return fmt.Errorf("render cache: %w", err)
	}
	sort.Strings(files)
	for _, p := range files {
		r, _ := filepath.Rel(root, p)
		if err := k.addFile("file "+filepath.ToSlash(r), p); err != nil {
			return fmt.Errorf("render cache: %w", err)
		}
	}
	return nil
}

// addFile hashes the file at path as one labelled part, as Add would its
// content, streaming it: a file of gigabytes (a mistaken dump) costs its
// reading, not its size in memory. A file that changes size while it is
// read is an error.
func (k *Hasher) addFile(label, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(k.h, "%s %d\n", label, fi.Size())
	n, err := io.Copy(k.h, io.LimitReader(f, fi.Size()+1))
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("%s changed size while it was read (%d bytes, then %d)", path, fi.Size(), n)
	}
	return err
}

var toolID = sync.OnceValue(func() string { return identify("") })

// identify returns ToolID's answer; for a development build, when dir (a
// cache directory) is not "", it keeps the executable's hash there under
// its stat (internal/filestat), so that it is read whole once per build,
// not once per run: a devel build of katonic is about 140 MB, 0.1 s to
// hash.
func identify(dir string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" && modified != "true" {
			return bi.Main.Path + "@" + v + "+" + rev
		}
		if rev != "" && modified == "false" {
			return bi.Main.Path + "@" + rev
		}
	}
	// A development build: the executable itself is the version.
	exe, err := os.Executable()
	if err != nil {
		return "" // unknown: ToolID's caller must not cache
	}
	if dir != "" {
		if id, ok := exeID(dir, exe); ok {
			return id
		}
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	before, _ := f.Stat()
	ref := time.Now().Add(-2 * time.Second).UnixNano()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	id := "exe:" + hex.EncodeToString(h.Sum(nil))
	if st, ok := filestat.Of(before); dir != "" && ok && st.Settled(ref) {
		after, err := f.Stat()
		if st2, ok := filestat.Of(after); err == nil && ok && st2 == st {
			writeExeID(dir, exe, st, id)
		}
	}
	return id
}

// exeRecord is where identify keeps the hash of the executable exe, under
// the cache directory dir.
func exeRecord(dir, exe string) string {
	return filepath.Join(dir, "tool", NewHasher().AddString("executable", exe).Key())
}

// exeID returns the hash identify kept for exe, if exe's stat is still
// the one it was kept with.
func exeID(dir, exe string) (string, bool) {
	b, err := os.ReadFile(exeRecord(dir, exe))
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return "", false
	}
	st, ok := filestat.Of(fi)
	if !ok {
		return "", false
	}
	want := formatExeStat(st)
	rest, found := strings.CutPrefix(string(b), want)
	if !found || !strings.HasPrefix(rest, "exe:") || len(rest) != len("exe:")+64+1 || rest[len(rest)-1] != '\n' {
		return "", false
	}
	return rest[:len(rest)-1], true
}

// writeExeID keeps id for exe with its stat st (best effort: the cache
// only saves time).
func writeExeID(dir, exe string, st filestat.Stat, id string) {
	p := exeRecord(dir, exe)
	if os.MkdirAll(filepath.Dir(p), 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return
	}
	_, err = f.WriteString(formatExeStat(st) + id + "\n")
	if cerr := f.Close(); err == nil && cerr == nil && os.Rename(f.Name(), p) == nil {
		return
	}
	os.Remove(f.Name())
}

func formatExeStat(st filestat.Stat) string {
	return fmt.Sprintf("%d %d %d %d %d ", st.Size, st.Mtime, st.Ctime, st.Dev, st.Ino)
}

// ToolID identifies this katonic build: "module@version+revision" for a
// released or clean VCS build, else the SHA-256 of its executable. It is ""
// when neither is known, and then nothing may be cached.
func ToolID() string { return toolID() }

// ToolID is [ToolID], keeping the hash of a development build's executable
// in c's directory under the executable's stat, so that a devel build
// (go run, go build without VCS stamping) is hashed once, not on every
// run. A nil or directory-less c is ToolID.
func (c *Cache) ToolID() string {
	if c == nil || c.Dir == "" {
		return ToolID()
	}
	c.toolOnce.Do(func() { c.tool = identify(c.Dir) })
	return c.tool
}
