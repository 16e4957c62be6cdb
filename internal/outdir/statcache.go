package outdir

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/katonic/katonic/internal/filestat"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stat cache (see [Options.StatCache] and the package documentation)
// is a text file:
//
//	katonic stat cache 1
//	root <dev> <inode> <the resolved output root, Go-quoted>
//	<sha256> <size> <mtime ns> <ctime ns> <dev> <inode> <slash path>
//
// with one entry line per generated file, sorted by path. Only entries that
// were settled when they were recorded are written (see statCache.learn),
// so every entry it holds may be trusted while the file's stat is the same.
const statCacheHeader = "katonic stat cache 1"

// maxStatCache bounds the size of a stat cache that is read: a larger file
// is not katonic's and is ignored.
const maxStatCache = 256 << 20

// fileStat is what the stat cache compares: a file that katonic (or anyone)
// rewrites, truncates, replaces or touches gets a new ctime, and usually a
// new size, mtime or inode.
type fileStat struct {
	size, mtime, ctime int64 // bytes; nanoseconds since the epoch
	dev, ino           uint64
}

// statOf returns fi's fileStat (internal/filestat's Of); false where the
// platform lacks inode numbers or ctime, or fi is not a regular file.
func statOf(fi fs.FileInfo) (fileStat, bool) {
	st, ok := filestat.Of(fi)
	return fileStat{size: st.Size, mtime: st.Mtime, ctime: st.Ctime, dev: st.Dev, ino: st.Ino}, ok
}

// statEntry is one generated file's stat and the SHA-256 of its content
// (lowercase hex) when it had that stat.
type statEntry struct {
	fileStat
	sum string
}

// rootID identifies the output root a stat cache was made for.
type rootID struct {
	path     string
	dev, ino uint64
}

// statCache is the stat cache of one call of Plan, Write or UpToDate.
type statCache struct {
	file string // where it is saved (Options.StatCache)
	raw  []byte // the file as it was read, to skip rewriting it unchanged
	// old holds the entries read from the file, if it was made for this
	// root; next those this call verified, by reading the file or by
	// finding its stat unchanged.
	old, next map[string]statEntry
	// ref: an entry is settled if the file's ctime and mtime are before
	// ref, a time no later than any timestamp the kernel can give a change
	// made after this call started (see refTime).
	ref int64
	id  rootID // the root the file was made for, if it is this one
	mu  sync.Mutex
}

// openStatCache reads the stat cache file named by opts for the output
// root t. It returns nil if opts names none or the platform cannot use one.
// A file that is missing, unreadable, malformed, or made for another root
// yields an empty cache (that this call then rewrites); it is never an error.
// lockStamp is the lock file's mtime (see refTime).
func openStatCache(opts Options, t *target, lockStamp int64) *statCache {
	if opts.StatCache == "" {
		return nil
	}
	if !filestat.Supported {
		return nil
	}
	c := &statCache{file: opts.StatCache, old: map[string]statEntry{}, next: map[string]statEntry{}, ref: refTime(lockStamp)}
	id, ok := currentRootID(t)
	if !ok {
		return c
	}
	f, err := os.Open(c.file)
	if err != nil {
		return c
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxStatCache+1))
	if err != nil || len(raw) > maxStatCache {
		return c
	}
	c.raw = raw
	if got, entries, err := parseStatCache(raw); err == nil && got == id {
		c.old, c.id = entries, id
	}
	return c
}

// refTime returns the settling time of this call, in nanoseconds: the
// current second less one, or, if earlier, the second of lockStamp (the lock
// file's mtime when this call took the lock, so on the output directory's
// file system's clock; 0 if unknown). A file changed after this call
// started has a ctime at or after it: the kernel stamps files with a clock
// that lags the one time.Now reads by under a tick, file systems truncate
// timestamps to at most a second, and a remote file system stamps with its
// own clock, which lockStamp reads.
func refTime(lockStamp int64) int64 {
	if testRefTime != nil {
		return testRefTime()
	}
	ref := time.Now().Truncate(time.Second).Add(-time.Second).UnixNano()
	if lockStamp > 0 {
		ref = min(ref, lockStamp-lockStamp%int64(time.Second))
	}
	return ref
}

// currentRootID returns the identity of the output root as it is on disk.
func currentRootID(t *target) (rootID, bool) {
	fi, err := os.Lstat(t.root)
	if err != nil || !fi.IsDir() {
		return rootID{}, false
	}
	dev, ino, ok := fileID(fi)
	return rootID{path: t.root, dev: dev, ino: ino}, ok
}

// parseStatCache parses a stat cache file (the root's identity, then the
// entries).
func parseStatCache(raw []byte) (rootID, map[string]statEntry, error) {
	// The root line is parsed every time (it is short); the memo saves the
	// entries.
	if entries, ok := statCacheParses.get(raw); ok {
		id, _, err := parseStatCacheBytes(raw[:headerEnd(raw)])
		return id, entries, err
	}
	id, entries, err := parseStatCacheBytes(raw)
	if err == nil {
		statCacheParses.put(raw, entries)
	}
	return id, entries, err
}

// headerEnd returns the length of a stat cache's first two lines (the
// header and the root), newlines included, or len(raw).
func headerEnd(raw []byte) int {
	n := 0
	for i, c := range raw {
		if c == '\n' {
			if n++; n == 2 {
				return i + 1
			}
		}
	}
	return len(raw)
}

// parseStatCacheBytes is parseStatCache without the memo.
func parseStatCacheBytes(raw []byte) (rootID, map[string]statEntry, error) {
	bad := errors.New("malformed stat cache")
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 3 || lines[0] != statCacheHeader || lines[len(lines)-1] != "" {
		return rootID{}, nil, bad
	}
	var id rootID
	f := strings.SplitN(lines[1], " ", 4)
	if len(f) != 4 || f[0] != "root" {
		return rootID{}, nil, bad
	}
	var err1, err2, err3 error
	id.dev, err1 = strconv.ParseUint(f[1], 10, 64)
	id.ino, err2 = strconv.ParseUint(f[2], 10, 64)
	id.path, err3 = strconv.Unquote(f[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return rootID{}, nil, bad
	}
	entries := make(map[string]statEntry, len(lines))
	for _, line := range lines[2 : len(lines)-1] {
		// Paths are not checked: only the manifest's paths are looked up.
		var e statEntry
		var ok bool
		if len(line) < 66 || line[64] != ' ' || !isLowerHex(line[:64]) {
			return rootID{}, nil, bad
		}
		e.sum, line = line[:64], line[65:]
		var n [5]uint64
		for k := range n {
			if n[k], line, ok = cutUint(line); !ok {
				return rootID{}, nil, bad
			}
		}
		e.size, e.mtime, e.ctime, e.dev, e.ino = int64(n[0]), int64(n[1]), int64(n[2]), n[3], n[4]
		if line == "" {
			return rootID{}, nil, bad
		}
		if _, dup := entries[line]; dup {
			return rootID{}, nil, bad
		}
		entries[line] = e
	}
	return id, entries, nil
}

// cutUint parses the decimal number that starts s, up to a space, and
// returns it and the rest of s after the space.
func cutUint(s string) (n uint64, rest string, ok bool) {
	i := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		if n > (1<<63-1)/10 {
			return 0, "", false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	if i == 0 || i == len(s) || s[i] != ' ' || i > 1 && s[0] == '0' {
		return 0, "", false
	}
	return n, s[i+1:], true
}

// formatStatCache renders a stat cache file.
func formatStatCache(id rootID, entries map[string]statEntry) []byte {
	// Appended by hand, not with fmt: a fleet's cache holds tens of
	// thousands of lines, written after every change.
	b := make([]byte, 0, 64+len(id.path)+len(entries)*160)
	b = fmt.Appendf(b, "%s\nroot %d %d %s\n", statCacheHeader, id.dev, id.ino, strconv.Quote(id.path))
	for _, p := range slices.Sorted(maps.Keys(entries)) {
		e := entries[p]
		b = append(b, e.sum...)
		for _, n := range [...]uint64{uint64(e.size), uint64(e.mtime), uint64(e.ctime), e.dev, e.ino} {
			b = append(b, ' ')
			b = strconv.AppendUint(b, n, 10)
		}
		b = append(b, ' ')
		b = append(b, p...)
		b = append(b, '\n')
	}
	return b
}

// lookup returns the SHA-256 of generated file p from the cache, if its
// entry's stat equals fi (from Lstat) in every field. Such an entry is
// recorded for the next save.
func (c *statCache) lookup(p string, fi fs.FileInfo) (string, bool) {
	if c == nil {
		return "", false
	}
	e, ok := c.old[p]
	if !ok {
		return "", false
	}
	st, ok := statOf(fi)
	if !ok || st != e.fileStat {
		return "", false
	}
	c.mu.Lock()
	c.next[p] = e
	c.mu.Unlock()
	return e.sum, true
}

// learn records that generated file p, with stat st taken before its
// content was read, had content of SHA-256 sum, if the entry is settled:
// st's ctime and mtime are before c.ref. A change made after st was taken
// then has a later ctime, so the stat can never match again. An entry that
// is not settled (the file changed within a second or so of this call) is
// not recorded: the next call reads the file again.
func (c *statCache) learn(p string, st fileStat, sum string) {
	if c == nil || st.ctime >= c.ref || st.mtime >= c.ref || st.ctime < 0 || st.mtime < 0 || st.size < 0 {
		return // racy, or not representable in the file
	}
	c.mu.Lock()
	c.next[p] = statEntry{fileStat: st, sum: sum}
	c.mu.Unlock()
}

// save writes the cache for the manifest entries: those this call verified,
// and, for the paths outside scope (which it did not look at), the entries
// it read, unless moved says the file was re-linked or replaced (its ctime
// changed, so the entry could not match). The file is replaced atomically
// (a temporary file in its directory, renamed), and only if its bytes
// change. Failures are ignored: the cache only saves time.
func (c *statCache) save(t *target, manifest map[string]string, scope Scope, moved func(p string) bool) {
	if c == nil {
		return
	}
	id, ok := currentRootID(t)
	if !ok {
		return
	}
	entries := make(map[string]statEntry, len(manifest))
	same := c.raw != nil && c.id == id
	for p := range manifest {
		if e, ok := c.next[p]; ok && (moved == nil || !moved(p)) {
			entries[p] = e
		} else if e, ok := c.old[p]; ok && !scope.contains(p) && (moved == nil || !moved(p)) {
			entries[p] = e
		} else {
			continue
		}
		if same && c.old[p] != entries[p] {
			same = false
		}
	}
	if same && len(entries) == len(c.old) {
		return // the file already says this
	}
	data := formatStatCache(id, entries)
	if bytes.Equal(data, c.raw) {
		return
	}
	if writeFileAtomic(c.file, data) == nil {
		statCacheParses.put(data, entries) // the next open in this process reads these bytes
	}
}

// writeFileAtomic replaces the file name (outside the output directory)
// with data through a temporary file in its directory, creating the
// directory if needed.
func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := name + ".tmp-" + rand.Text()[:idLen]
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	_, err = w.Write(data)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// copyBufs holds the buffers hashFile reads files with.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hashFile returns the SHA-256 (lowercase hex) of the generated file p under
// root, which Lstat described as leaf (a regular file), and learns it into
// c. With the cache it is a lookup when the stat is unchanged; otherwise the
// file is read.
func (c *statCache) hashFile(root, p string, leaf fs.FileInfo) (string, error) {
	if sum, ok := c.lookup(p, leaf); ok {
		return sum, nil
	}
	if err := hook("read", p); err != nil {
		return "", err
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		return "", &PathError{Path: p, Rule: "reading generated file: " + bareErr(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", &PathError{Path: p, Rule: "reading generated file: " + bareErr(err)}
	}
	h := sha256.New()
	buf := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return "", &PathError{Path: p, Rule: "reading generated file: " + bareErr(err)}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	// Learn only what Lstat saw is what was read (not a link swapped in).
	if st, ok := statOf(fi); ok && os.SameFile(fi, leaf) {
		c.learn(p, st, sum)
	}
	return sum, nil
}

// fileCheck is what checkFiles finds at one desired path.
type fileCheck struct {
	leaf    fs.FileInfo // nil if the path does not exist
	blocker string      // an existing parent that is not a directory
	err     error       // from inspect
	sum     string      // the content's SHA-256, for a regular file asked for
	sumErr  error
}

// checkFiles inspects each of paths (sorted) under root, as inspectCached
// does, and hashes those that are regular files for which hash returns
// true, through the stat cache c. It works on contiguous runs of paths in
// parallel, so that each worker's parents cache serves its run; the results
// are in the order of paths, whatever the parallelism.
func checkFiles(root string, paths []string, hash func(string) bool, c *statCache) []fileCheck {
	out := make([]fileCheck, len(paths))
	const run = 512
	parallel((len(paths)+run-1)/run, func(k int) {
		dirs := map[string]fs.FileInfo{}
		for i := k * run; i < min(len(paths), (k+1)*run); i++ {
			p, r := paths[i], &out[i]
			r.leaf, r.blocker, r.err = inspectCached(root, p, dirs)
			if r.err == nil && r.blocker == "" && r.leaf != nil && r.leaf.Mode().IsRegular() && hash(p) {
				r.sum, r.sumErr = c.hashFile(root, p, r.leaf)
			}
		}
	})
	return out
}
