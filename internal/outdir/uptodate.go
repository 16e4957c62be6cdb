package outdir

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
)

// Drift is what [Check] found between an output directory and a render
// known by its hashes.
type Drift struct {
	// Whole is true when the directory cannot be compared path by path, so
	// that only a whole [Write] brings it up to date: it does not exist, has
	// no manifest, its manifest lists the right entries but is not written
	// as Write writes it (comments, line endings), or a killed render left
	// work for the next Write to finish or remove.
	Whole bool
	// Paths are the slash paths, inside the scope, that a Write would
	// change: those whose manifest entry differs from want (listed in one
	// and not the other, or with another hash), and those of want whose
	// file on disk is missing, changed, unreadable, not a regular file or
	// behind a symbolic link. Sorted; empty when Whole is true.
	Paths []string
}

// UpToDate reports whether a Write of the render would write nothing.
func (d Drift) UpToDate() bool { return !d.Whole && len(d.Paths) == 0 }

// Check compares root with a render given only its hashes: want maps each
// desired slash path (relative to root) to the lowercase hex SHA-256 of its
// content, as [Write]'s desired map would hold the contents. It is for a
// caller that has the hashes cached but not the bytes, and wants to know
// whether, and where, a Write would change anything: a caller that learns
// that the drift lies in a few environments' directories can write those
// alone, with a Write scoped to them.
//
// A Write of that content with the same opts.Scope would write nothing if
// and only if the Drift is up to date: root exists; its manifest lists,
// inside the scope, exactly the paths of want with those hashes (entries
// outside the scope are not looked at) and is byte for byte what Write
// would write; every path of want is a regular file on disk, reached
// through directories only (no symbolic link), whose content has that
// hash; and no killed render left anything for the next call to finish or
// remove (a journal or staging directory in root, a staging, ready or old
// directory beside it). With [Options.StatCache], files whose stat is the
// one the cache recorded are not read (see the package documentation), and
// the cache is saved afterwards. When the manifest is already what Write
// would write, it is compared as bytes, not parsed.
//
// Like [Plan], it holds the output directory's lock while it reads, so it
// never sees a render half done; unlike Plan, it does not finish or roll
// back a killed render: it reports Whole, and the Write that follows
// does. It writes nothing but its lock file (removed) and the stat cache.
//
// It returns an error if: opts.Scope is invalid; a path of want fails
// [CheckPath], lies outside the scope, or is inside another path of want;
// a hash is not 64 lowercase hex digits; the manifest cannot be read or is
// malformed (as [ReadManifest] reports it); or the lock is held for longer
// than opts.LockTimeout (a [*LockError]). A file that is missing, changed,
// unreadable, not a regular file or behind a symbolic link is not an
// error: it is among the Paths, and Write reports what is wrong.
func Check(root string, want map[string]string, opts Options) (Drift, error) {
	whole := Drift{Whole: true}
	paths := slices.Sorted(maps.Keys(want))
	if err := validatePaths(paths, func(p string) bool { _, ok := want[p]; return ok }, opts.Scope); err != nil {
		return Drift{}, err
	}
	for _, p := range paths {
		if h := want[p]; len(h) != 64 || !isLowerHex(h) {
			return Drift{}, &PathError{Path: p, Rule: fmt.Sprintf("its hash %q is not a SHA-256 as 64 lowercase hex digits", h)}
		}
	}
	t, l, err := lockForCheck(root, opts)
	if err != nil {
		return Drift{}, err
	}
	if l == nil {
		return whole, nil
	}
	defer l.release()
	raw, err := readManifestRaw(t.root)
	if err != nil || raw == nil {
		return whole, err
	}
	// A whole render whose manifest is already the one Write would write
	// needs no parse: the manifest is want.
	var old map[string]string
	same := opts.Scope == nil && isManifestOf(raw, paths, want)
	if same {
		old = want
	} else {
		if old, err = parseManifest(raw); err != nil {
			return Drift{}, err
		}
	}
	drift := map[string]bool{}
	next := make(map[string]string, len(old))
	for p, h := range old {
		if !opts.Scope.contains(p) {
			next[p] = h
		} else if want[p] != h {
			drift[p] = true
		}
	}
	for p, h := range want {
		if old[p] != h {
			drift[p] = true
		}
		next[p] = h
	}
	if len(drift) == 0 && !same && !bytes.Equal(formatManifest(next), raw) {
		return whole, nil
	}
	c := openStatCache(opts, t, l.stamp)
	defer c.save(t, listedIn(old), opts.Scope, nil)
	for i, r := range checkFiles(t.root, paths, func(string) bool { return true }, c) {
		if r.err != nil || r.blocker != "" || r.leaf == nil || !r.leaf.Mode().IsRegular() || r.sumErr != nil || r.sum != want[paths[i]] {
			drift[paths[i]] = true
		}
	}
	return Drift{Paths: slices.Sorted(maps.Keys(drift))}, nil
}

// CheckSum is [Check] for a whole render (a nil opts.Scope) known by the
// [ManifestSum] of its hashes, sum. When the manifest in root is the one a
// Write of that render writes (its SHA-256 is sum), it lists exactly the
// render's paths and hashes, so they are taken from it: the render's
// hashes are not needed, and only the files are looked at. ok is false,
// with a zero Drift and no error, when the manifest is not that one, or
// lists a path in a form that needs Check's full rules (see [CheckPath]),
// or opts has a Scope: Check must then be given the hashes. Otherwise the
// Drift, the lock, the stat cache and the errors are Check's.
func CheckSum(root, sum string, opts Options) (d Drift, ok bool, err error) {
	whole := Drift{Whole: true}
	if opts.Scope != nil || len(sum) != 64 || !isLowerHex(sum) {
		return Drift{}, false, nil
	}
	t, l, err := lockForCheck(root, opts)
	if err != nil {
		return Drift{}, false, err
	}
	if l == nil {
		return whole, true, nil
	}
	defer l.release()
	pre := opts.Prefetch.wait(t.root)
	raw, ahead, err := readManifestAhead(t.root, pre)
	var paths, sums []string
	switch {
	case err != nil:
		return Drift{}, false, err
	case ahead:
		if pre.sum != sum || !pre.plain {
			return Drift{}, false, nil
		}
		paths, sums = pre.paths, pre.sums
	case raw == nil:
		return whole, true, nil
	case hashHex(raw) != sum:
		return Drift{}, false, nil
	default:
		// raw is formatManifestSorted of the render's hashes: a header,
		// then "<hash>  <path>" lines sorted by path.
		if paths, sums, ok = manifestLines(string(raw)); !ok {
			return Drift{}, false, nil
		}
	}
	c := openStatCache(opts, t, l.stamp)
	defer c.save(t, func(p string) bool { _, found := slices.BinarySearch(paths, p); return found }, nil, nil)
	var drift []string
	for i, r := range checkFiles(t.root, paths, func(string) bool { return true }, c) {
		if r.err != nil || r.blocker != "" || r.leaf == nil || !r.leaf.Mode().IsRegular() || r.sumErr != nil || r.sum != sums[i] {
			drift = append(drift, paths[i])
		}
	}
	return Drift{Paths: drift}, true, nil
}

// lockForCheck resolves the output root and takes its lock for reading,
// for Check and CheckSum. It returns no lock (and no error) when only a
// whole Write brings the root up to date: it does not exist, or a killed
// render left work for the next Write to finish or remove. Errors are
// resolve's, the lock's and refresh's.
func lockForCheck(root string, opts Options) (*target, *heldLock, error) {
	t, err := resolve(root)
	if err != nil || !t.exists {
		return nil, nil, err
	}
	l, err := t.lock(opts, false)
	if err != nil {
		return nil, nil, err
	}
	if err := t.refresh(); err != nil {
		l.release()
		return nil, nil, err
	}
	if !t.exists || t.needsRecovery() || len(t.siblings()) > 0 {
		l.release()
		return nil, nil, nil
	}
	return t, l, nil
}
