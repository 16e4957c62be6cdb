package outdir

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/katonic/katonic/internal/filestat"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
	// old holds the entries read from the file, if it was made for this
	// root (id); hit marks those of its rows whose stat this call found
	// unchanged, and next the entries this call learned by reading a file.
	old  statTable
	hit  []bool
	next map[string]statEntry
	// ref: an entry is settled if the file's ctime and mtime are before
	// ref, a time no later than any timestamp the kernel can give a change
	// made after this call started (see refTime).
	ref int64
	id  rootID // the root the file was made for, if it is this one
	mu  sync.Mutex
}

// statTable is a stat cache file's entry lines, sorted by path and found
// by binary search. The lines are checked when the file is read, but not
// copied into a map: a fleet's cache holds tens of thousands of lines, a
// render where nothing changed looks each of them up once, and one that
// changed an environment copies the others' lines to the new file as they
// are.
type statTable struct {
	data string   // the whole file
	line []uint32 // offset of each entry line, then len(data)
	path []uint32 // offset of each entry line's path
}

// rows returns the number of entries.
func (t *statTable) rows() int { return len(t.path) }

// pathAt returns the path of row i.
func (t *statTable) pathAt(i int) string { return t.data[t.path[i] : t.line[i+1]-1] }

// lineAt returns row i's line, newline included.
func (t *statTable) lineAt(i int) string { return t.data[t.line[i]:t.line[i+1]] }

// find returns the row of path p, if the table holds it.
func (t *statTable) find(p string) (int, bool) {
	i := sort.Search(t.rows(), func(i int) bool { return t.pathAt(i) >= p })
	return i, i < t.rows() && t.pathAt(i) == p
}

// findNext is find for a caller that looks up paths in sorted order:
// *next is the row after the one its last lookup found (0 to start), and
// is looked at first, as the path looked up next is most often that
// row's; it is advanced past the row found.
func (t *statTable) findNext(p string, next *int) (int, bool) {
	if i := *next; i < t.rows() && t.pathAt(i) == p {
		*next = i + 1
		return i, true
	}
	i, ok := t.find(p)
	if ok {
		*next = i + 1
	}
	return i, ok
}

// entryAt returns row i's entry. Its numbers were checked when the table
// was read.
func (t *statTable) entryAt(i int) statEntry {
	line := t.data[t.line[i]:t.path[i]]
	e := statEntry{sum: line[:64]}
	line = line[65:]
	var n [5]uint64
	for k := range n {
		n[k], line, _ = cutUint(line)
	}
	e.size, e.mtime, e.ctime, e.dev, e.ino = int64(n[0]), int64(n[1]), int64(n[2]), n[3], n[4]
	return e
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
	return openStatCacheAhead(opts.StatCache, t, lockStamp, opts.Prefetch.wait(t.root))
}

// openStatCacheAhead is openStatCache for the stat cache file, with what
// pre (if not nil) read ahead for t's root.
func openStatCacheAhead(file string, t *target, lockStamp int64, pre *Prefetch) *statCache {
	if !filestat.Supported {
		return nil
	}
	c := &statCache{file: file, next: map[string]statEntry{}, ref: refTime(lockStamp)}
	id, ok := currentRootID(t)
	if !ok {
		return c
	}
	// Read ahead (Options.Prefetch), if the file is still the one read.
	if pre != nil && pre.statFile == c.file && pre.stat.ok {
		if fi, err := os.Stat(c.file); err == nil && sameStat(fi, pre.stat.st) {
			if pre.valid && pre.id == id {
				c.old, c.id = pre.table, id
				c.hit = make([]bool, pre.table.rows())
			}
			return c
		}
	}
	f := prefetchFile(c.file, maxStatCache)
	if !f.ok {
		return c
	}
	if got, table, err := parseStatCache(f.data); err == nil && got == id {
		c.old, c.id = table, id
		c.hit = make([]bool, table.rows())
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

// parseStatCache parses a stat cache file: the root's identity, then the
// entry lines, each checked, and sorted by path with no path twice.
func parseStatCache(data string) (rootID, statTable, error) {
	bad := errors.New("malformed stat cache")
	header, rest, ok := strings.Cut(data, "\n")
	if !ok || header != statCacheHeader {
		return rootID{}, statTable{}, bad
	}
	rootLine, rest, ok := strings.Cut(rest, "\n")
	if !ok {
		return rootID{}, statTable{}, bad
	}
	var id rootID
	f := strings.SplitN(rootLine, " ", 4)
	if len(f) != 4 || f[0] != "root" {
		return rootID{}, statTable{}, bad
	}
	var err1, err2, err3 error
	id.dev, err1 = strconv.ParseUint(f[1], 10, 64)
	id.ino, err2 = strconv.ParseUint(f[2], 10, 64)
	id.path, err3 = strconv.Unquote(f[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return rootID{}, statTable{}, bad
	}
	n := strings.Count(rest, "\n")
	t := statTable{data: data, line: make([]uint32, 0, n+1), path: make([]uint32, 0, n)}
	off := len(data) - len(rest)
	prev := ""
	for off < len(data) {
		end := strings.IndexByte(data[off:], '\n')
		if end < 0 {
			return rootID{}, statTable{}, bad
		}
		line := data[off : off+end]
		// Paths are not checked beyond their order: only the manifest's
		// paths are looked up.
		if len(line) < 66 || line[64] != ' ' || !isLowerHex(line[:64]) {
			return rootID{}, statTable{}, bad
		}
		rest := line[65:]
		for range 5 {
			if _, rest, ok = cutUint(rest); !ok {
				return rootID{}, statTable{}, bad
			}
		}
		if rest == "" || len(t.path) > 0 && rest <= prev {
			return rootID{}, statTable{}, bad
		}
		t.line = append(t.line, uint32(off))
		t.path = append(t.path, uint32(off+len(line)-len(rest)))
		prev = rest
		off += end + 1
	}
	t.line = append(t.line, uint32(len(data)))
	return id, t, nil
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

// appendStatLine appends entry e of path p as a stat cache line.
func appendStatLine(b []byte, p string, e statEntry) []byte {
	b = append(b, e.sum...)
	for _, n := range [...]uint64{uint64(e.size), uint64(e.mtime), uint64(e.ctime), e.dev, e.ino} {
		b = append(b, ' ')
		b = strconv.AppendUint(b, n, 10)
	}
	b = append(b, ' ')
	b = append(b, p...)
	return append(b, '\n')
}

// appendStatHeader appends a stat cache's first two lines, for root id.
func appendStatHeader(b []byte, id rootID) []byte {
	return fmt.Appendf(b, "%s\nroot %d %d %s\n", statCacheHeader, id.dev, id.ino, strconv.Quote(id.path))
}

// lookup returns the SHA-256 of generated file p from the cache, if its
// entry's stat equals fi (from Lstat) in every field. Such an entry is
// kept for the next save. next is statTable.findNext's.
func (c *statCache) lookup(p string, fi fs.FileInfo, next *int) (string, bool) {
	if c == nil {
		return "", false
	}
	i, ok := c.old.findNext(p, next)
	if !ok {
		return "", false
	}
	e := c.old.entryAt(i)
	st, ok := statOf(fi)
	if !ok || st != e.fileStat {
		return "", false
	}
	c.hit[i] = true // each row is one path, looked up by one goroutine
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

// save writes the cache for the manifest entries (the paths listed
// reports): those this call verified,
// and, for the paths outside scope (which it did not look at), the entries
// it read, unless moved says the file was re-linked or replaced (its ctime
// changed, so the entry could not match). The file is replaced atomically
// (a temporary file in its directory, renamed), and only if its bytes
// change. The lines kept from the file read are copied as they are.
// Failures are ignored: the cache only saves time.
func (c *statCache) save(t *target, listed func(p string) bool, scope Scope, moved func(p string) bool) {
	if c == nil {
		return
	}
	id, ok := currentRootID(t)
	if !ok {
		return
	}
	keep := func(i int) bool {
		p := c.old.pathAt(i)
		if !listed(p) || moved != nil && moved(p) {
			return false
		}
		if _, ok := c.next[p]; ok {
			return false // learned anew
		}
		return c.hit[i] || !scope.contains(p)
	}
	rows := c.old.rows()
	if c.id == id && len(c.next) == 0 {
		same := true
		for i := 0; i < rows && same; i++ {
			same = keep(i)
		}
		if same {
			return // the file already says this
		}
	}
	var learned []string
	for p := range c.next {
		if listed(p) && (moved == nil || !moved(p)) {
			learned = append(learned, p)
		}
	}
	slices.Sort(learned)
	b := make([]byte, 0, len(c.old.data)+len(learned)*200+len(id.path)+64)
	b = appendStatHeader(b, id)
	i := 0
	for _, p := range learned {
		for ; i < rows && c.old.pathAt(i) < p; i++ {
			if keep(i) {
				b = append(b, c.old.lineAt(i)...)
			}
		}
		b = appendStatLine(b, p, c.next[p])
	}
	for ; i < rows; i++ {
		if keep(i) {
			b = append(b, c.old.lineAt(i)...)
		}
	}
	if c.id == id && string(b) == c.old.data {
		return
	}
	_ = writeFileAtomic(c.file, b)
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
// file is read. next is lookup's.
func (c *statCache) hashFile(root, p string, leaf fs.FileInfo, next *int) (string, error) {
	if sum, ok := c.lookup(p, leaf, next); ok {
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
		next := 0 // the stat cache row after the last found: paths come sorted
		for i := k * run; i < min(len(paths), (k+1)*run); i++ {
			p, r := paths[i], &out[i]
			r.leaf, r.blocker, r.err = inspectCached(root, p, dirs)
			if r.err == nil && r.blocker == "" && r.leaf != nil && r.leaf.Mode().IsRegular() && hash(p) {
				r.sum, r.sumErr = c.hashFile(root, p, r.leaf, &next)
			}
		}
	})
	return out
}

// listedIn returns a statCache.save membership test for a manifest's
// entries.
func listedIn(manifest map[string]string) func(p string) bool {
	return func(p string) bool { _, ok := manifest[p]; return ok }
}
