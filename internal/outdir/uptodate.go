package outdir

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
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
// would write, it is compared as bytes, not parsed. With [Options.Prefetch],
// a manifest read ahead whose stat is still the one it had is taken from
// it, and so is the check of its files made ahead (see [Prefetch]).
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
	pre := opts.Prefetch.wait(t.root)
	raw, ahead, err := readManifestAhead(t.root, pre)
	if err != nil {
		return Drift{}, err
	}
	// The manifest read ahead, with the check of its files made ahead, if
	// its entries need no parse.
	var checked map[string]string
	if ahead {
		raw = []byte(pre.manifest.data)
		if entries, ok := plainEntries(pre.paths, pre.sums); ok && pre.plain && pre.checked != nil {
			checked = entries
		}
	}
	if raw == nil {
		return whole, nil
	}
	// A whole render whose manifest is already the one Write would write
	// needs no parse: the manifest is want.
	var old map[string]string
	same := opts.Scope == nil && isManifestOf(raw, paths, want)
	switch {
	case same:
		old = want
	case checked != nil:
		old = checked
	default:
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
	if checked != nil {
		// Each file listed with the hash wanted was checked ahead against
		// it; any other path drifted already.
		defer pre.checked.cache.save(t, listedIn(old), opts.Scope, nil)
		for _, p := range paths {
			if i, found := slices.BinarySearch(pre.paths, p); found && pre.checked.drift[i] {
				drift[p] = true
			}
		}
		return Drift{Paths: slices.Sorted(maps.Keys(drift))}, nil
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
	return checkSum(root, sum, nil, opts)
}

// CheckDelta is [CheckSum] for a whole render known by how it differs
// from another one, the base, that root may hold (katonic's last render):
// base is the base's [ManifestSum], and changed maps each slash path where
// the two renders differ to its hash in the wanted render (64 lowercase
// hex digits), or to "" where the wanted render has no such path. When
// the manifest in root is the base's, the wanted render's manifest is that
// one with changed applied, and the Drift is Check's: the changed paths
// whose hash is not the manifest's, and the other paths whose file on disk
// drifted. Only the files of the unchanged paths are looked at. ok is
// false, with a zero Drift and no error, where CheckSum declines, and
// also when a changed path is not in the plain form (see [CheckPath]), a
// hash is not a SHA-256, or an added path lies inside another path of the
// wanted render or holds one: Check then reports what is wrong.
func CheckDelta(root, base string, changed map[string]string, opts Options) (d Drift, ok bool, err error) {
	for p, h := range changed {
		if !plainPath(p) || h != "" && (len(h) != 64 || !isLowerHex(h)) {
			return Drift{}, false, nil
		}
	}
	return checkSum(root, base, changed, opts)
}

// Changes returns what [CheckDelta] takes for the render want made from
// the render base, both as slash path -> hash: each path whose hash
// differs, with its hash in want, or "" where want has no such path.
func Changes(base, want map[string]string) map[string]string {
	changed := map[string]string{}
	for p, h := range want {
		if base[p] != h {
			changed[p] = h
		}
	}
	for p := range base {
		if _, ok := want[p]; !ok {
			changed[p] = ""
		}
	}
	return changed
}

// checkSum is CheckSum and CheckDelta: the render wanted is the one whose
// ManifestSum is sum, with changed applied (nil for CheckSum). CheckDelta
// checked changed's paths and hashes.
func checkSum(root, sum string, changed map[string]string, opts Options) (d Drift, ok bool, err error) {
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
	// The drift known from the manifest alone: changed paths with
	// another hash (skip: those the manifest lists, whose files are not
	// looked at), or none.
	var drift []string
	skip := map[int]bool{}
	if len(changed) > 0 && !deltaFits(paths, changed) {
		return Drift{}, false, nil
	}
	for p, h := range changed {
		i, found := slices.BinarySearch(paths, p)
		switch {
		case !found && h != "": // added
			drift = append(drift, p)
		case found && h != sums[i]: // changed or removed
			drift = append(drift, p)
			skip[i] = true
		}
	}
	listed := func(p string) bool { _, found := slices.BinarySearch(paths, p); return found }
	if ahead && pre.checked != nil {
		// The files were checked ahead against this very manifest: no
		// render wrote it since (it would have renamed a new one over it).
		defer pre.checked.cache.save(t, listed, nil, nil)
		for i, p := range paths {
			if pre.checked.drift[i] && !skip[i] {
				drift = append(drift, p)
			}
		}
		slices.Sort(drift)
		return Drift{Paths: drift}, true, nil
	}
	look, lookSums := paths, sums
	if len(skip) > 0 {
		look, lookSums = make([]string, 0, len(paths)-len(skip)), make([]string, 0, len(paths)-len(skip))
		for i, p := range paths {
			if !skip[i] {
				look, lookSums = append(look, p), append(lookSums, sums[i])
			}
		}
	}
	c := openStatCache(opts, t, l.stamp)
	defer c.save(t, listed, nil, nil)
	for i, r := range checkFiles(t.root, look, func(string) bool { return true }, c) {
		if r.err != nil || r.blocker != "" || r.leaf == nil || !r.leaf.Mode().IsRegular() || r.sumErr != nil || r.sum != lookSums[i] {
			drift = append(drift, look[i])
		}
	}
	slices.Sort(drift)
	return Drift{Paths: drift}, true, nil
}

// deltaFits reports whether the render made from the manifest's sorted
// paths with changed applied has no path inside another of its paths:
// an added path must not lie under a path the render keeps or adds, nor
// hold one (Check's rule for a render's paths, which the manifest's own
// paths already meet).
func deltaFits(paths []string, changed map[string]string) bool {
	kept := func(p string) bool {
		if h, ok := changed[p]; ok {
			return h != ""
		}
		_, found := slices.BinarySearch(paths, p)
		return found
	}
	for p, h := range changed {
		if h == "" {
			continue
		}
		if _, found := slices.BinarySearch(paths, p); found {
			continue // in the manifest already: neither a file nor a directory changes
		}
		for d := range parentDirs(p) {
			if kept(d) {
				return false
			}
		}
		// Paths under p: in the manifest, from where p+"/" sorts; added
		// ones are caught by the loop over their parents above.
		i, _ := slices.BinarySearch(paths, p+"/")
		for ; i < len(paths) && strings.HasPrefix(paths[i], p+"/"); i++ {
			if kept(paths[i]) {
				return false
			}
		}
	}
	return true
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
