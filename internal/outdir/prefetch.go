package outdir

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Prefetch holds an output directory's manifest and a stat cache, read
// ahead by [StartPrefetch] while the caller does other work (katonic
// starts it before it compiles), for the [CheckSum] or [CheckDelta] that
// follows ([Options.Prefetch]), and the check of the files the manifest
// lists against it, made ahead too. Those calls take what was read only
// if each file's stat (size, mtime, ctime, device, inode) is still the one
// it had when it was read, under their lock; katonic replaces both files
// by renaming new ones over them, so a render that wrote them in between
// is always seen. Otherwise they read them again, and check the files
// themselves. A Prefetch is safe for concurrent use.
type Prefetch struct {
	done     chan struct{}
	root     string // the resolved output root
	statFile string // Options.StatCache

	manifest prefetched
	sum      string   // the manifest's SHA-256
	paths    []string // its entries, when all are in the plain form CheckSum takes
	sums     []string
	plain    bool

	stat  prefetched
	id    rootID // the stat cache's root, its entries, and whether it parsed
	table statTable
	valid bool

	// checked is the check of the manifest's files made ahead, if made.
	checked *checkedAhead
}

// checkedAhead is a check of the files an output directory's manifest
// lists (Prefetch.paths) against their hashes in it, made under the
// output directory's lock, while the manifest had the stat it had when it
// was read ahead: a file that drifted is true in drift, by the manifest's
// index. cache is the stat cache the check used and learned in, for the
// call that takes the check to save under its own lock.
type checkedAhead struct {
	drift []bool
	cache *statCache
}

// prefetched is one file read ahead, with its stat as it was read.
type prefetched struct {
	data string
	st   fileStat
	ok   bool
}

// StartPrefetch starts reading the manifest of the output directory root
// and the stat cache opts.StatCache names, on another goroutine, and
// returns at once. Nothing it finds is an error: CheckSum reads anything
// missing, unreadable or changed itself.
func StartPrefetch(root string, opts Options) *Prefetch {
	p := &Prefetch{done: make(chan struct{}), statFile: opts.StatCache}
	go func() {
		defer close(p.done)
		t, err := resolve(root)
		if err != nil || !t.exists {
			return
		}
		p.root = t.root
		// The stat cache is read and parsed beside the manifest: the check
		// ahead needs both.
		var stat sync.WaitGroup
		if p.statFile != "" {
			stat.Go(func() {
				if p.stat = prefetchFile(p.statFile, maxStatCache); p.stat.ok {
					var err error
					p.id, p.table, err = parseStatCache(p.stat.data)
					p.valid = err == nil
				}
			})
		}
		if p.manifest = prefetchFile(filepath.Join(t.root, ManifestName), maxManifest); p.manifest.ok {
			p.sum = hashString(p.manifest.data)
			p.paths, p.sums, p.plain = manifestLines(p.manifest.data)
		}
		stat.Wait()
		if p.plain {
			p.checked = p.checkAhead(root)
		}
	}()
	return p
}

// checkAhead checks the files the manifest read ahead lists, as CheckSum
// would, under the output directory's lock if it is free now (a render
// that holds it will change the manifest, and the check with it), and if
// the manifest is still the one read. It returns nil when it did not
// check: the call that comes later checks the files itself.
func (p *Prefetch) checkAhead(root string) *checkedAhead {
	t, l, err := lockForCheck(root, Options{LockTimeout: -1})
	if err != nil || l == nil {
		return nil
	}
	defer l.release()
	if t.root != p.root {
		return nil
	}
	if fi, err := os.Lstat(filepath.Join(t.root, ManifestName)); err != nil || !sameStat(fi, p.manifest.st) {
		return nil
	}
	var c *statCache
	if p.statFile != "" {
		c = openStatCacheAhead(p.statFile, t, l.stamp, p)
	}
	ca := &checkedAhead{drift: make([]bool, len(p.paths)), cache: c}
	for i, r := range checkFiles(t.root, p.paths, func(string) bool { return true }, c) {
		ca.drift[i] = r.err != nil || r.blocker != "" || r.leaf == nil || !r.leaf.Mode().IsRegular() || r.sumErr != nil || r.sum != p.sums[i]
	}
	return ca
}

// maxManifest bounds the size of a manifest read ahead: a larger one is
// read by CheckSum itself.
const maxManifest = 256 << 20

// prefetchFile reads the regular file name (not a symbolic link) of at
// most max bytes, with its stat, if the file did not change while it was
// read: in one read of its size, into a string, since the manifest and the
// stat cache are megabytes on a fleet, and growing a buffer for them, or
// copying one into a string, cost more than the rest of their parse.
func prefetchFile(name string, max int64) prefetched {
	before, err := os.Lstat(name)
	if err != nil || !before.Mode().IsRegular() || before.Size() > max {
		return prefetched{}
	}
	st, ok := statOf(before)
	if !ok {
		return prefetched{}
	}
	f, err := os.Open(name)
	if err != nil {
		return prefetched{}
	}
	defer f.Close()
	// Read into a string, not copied into one: these files are megabytes.
	var b strings.Builder
	b.Grow(int(st.size))
	if n, err := io.Copy(&b, io.LimitReader(f, st.size)); err != nil || n != st.size {
		return prefetched{}
	}
	if after, err := f.Stat(); err != nil || !sameStat(after, st) {
		return prefetched{}
	}
	return prefetched{data: b.String(), st: st, ok: true}
}

// sameStat reports whether fi has stat st.
func sameStat(fi os.FileInfo, st fileStat) bool {
	got, ok := statOf(fi)
	return ok && got == st
}

// settle waits until p's reads and check are done (nothing to wait for
// if p is nil).
func (p *Prefetch) settle() {
	if p != nil {
		<-p.done
	}
}

// wait returns p once its reads are done, or nil if p is nil or was
// started for another output root than root.
func (p *Prefetch) wait(root string) *Prefetch {
	if p == nil {
		return nil
	}
	<-p.done
	if p.root != root {
		return nil
	}
	return p
}

// manifestLines returns the paths and hashes of a manifest written by
// Write (a header, then "<hash>  <path>" lines sorted by path), or false
// if a line is not in that form or its path is not one plainPath accepts.
func manifestLines(raw string) (paths, sums []string, ok bool) {
	body, ok := strings.CutPrefix(raw, manifestHeader+"\n")
	if !ok {
		return nil, nil, false
	}
	n := strings.Count(body, "\n")
	paths, sums = make([]string, 0, n), make([]string, 0, n)
	for line := range strings.Lines(body) {
		sum, p, ok := manifestEntry(line)
		if !ok || !plainPath(p) { // a comment or blank line, or malformed
			return nil, nil, false
		}
		sums, paths = append(sums, sum), append(paths, p)
	}
	return paths, sums, true
}

// hashString returns the lowercase hex SHA-256 of s, without copying s
// whole into a byte slice.
func hashString(s string) string {
	h := sha256.New()
	var buf [32 << 10]byte
	for len(s) > 0 {
		n := copy(buf[:], s)
		h.Write(buf[:n])
		s = s[n:]
	}
	return hex.EncodeToString(h.Sum(nil))
}
