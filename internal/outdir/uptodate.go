package outdir

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
)

// UpToDate reports whether root already holds exactly the files a render
// would write, given only their hashes: want maps each desired slash path
// (relative to root) to the lowercase hex SHA-256 of its content, as
// [Write]'s desired map would hold the contents. It is for a caller that has
// the hashes cached but not the bytes.
//
// It returns true if and only if a Write of that content with the same
// opts.Scope would write nothing: root exists; its manifest lists, inside
// the scope, exactly the paths of want with those hashes (entries outside
// the scope are not looked at) and is byte for byte what Write would
// write; every path of want is a regular file on disk, reached through
// directories only (no symbolic link), whose content has that hash; and no
// killed render left anything for the next call to finish or remove (a
// journal or staging directory in root, a staging, ready or old directory
// beside it). With [Options.StatCache], files whose stat is the one the
// cache recorded are not read (see the package documentation), and the
// cache is saved afterwards.
//
// Like [Plan], it holds the output directory's lock while it reads, so it
// never sees a render half done; unlike Plan, it does not finish or roll
// back a killed render: it returns false, and the Write that follows does.
// It writes nothing but its lock file (removed) and the stat cache.
//
// It returns an error, and false, if: opts.Scope is invalid; a path of want
// fails [CheckPath], lies outside the scope, or is inside another path of
// want; a hash is not 64 lowercase hex digits; the manifest cannot be read
// or is malformed (as [ReadManifest] reports it); or the lock is held for
// longer than opts.LockTimeout (a [*LockError]). A file that is missing,
// changed, unreadable, not a regular file or behind a symbolic link is not
// an error: the answer is false, and Write reports what is wrong.
func UpToDate(root string, want map[string]string, opts Options) (bool, error) {
	paths := slices.Sorted(maps.Keys(want))
	if err := validatePaths(paths, func(p string) bool { _, ok := want[p]; return ok }, opts.Scope); err != nil {
		return false, err
	}
	for _, p := range paths {
		if h := want[p]; len(h) != 64 || !isLowerHex(h) {
			return false, &PathError{Path: p, Rule: fmt.Sprintf("its hash %q is not a SHA-256 as 64 lowercase hex digits", h)}
		}
	}
	t, err := resolve(root)
	if err != nil {
		return false, err
	}
	if !t.exists {
		return false, nil
	}
	l, err := t.lock(opts, false)
	if err != nil {
		return false, err
	}
	defer l.release()
	if err := t.refresh(); err != nil || !t.exists {
		return false, err
	}
	if t.needsRecovery() || len(t.siblings()) > 0 {
		return false, nil
	}
	old, raw, err := readManifest(t.root)
	if err != nil || raw == nil {
		return false, err
	}
	next := make(map[string]string, len(old))
	for p, h := range old {
		if !opts.Scope.contains(p) {
			next[p] = h
		}
	}
	maps.Copy(next, want)
	if !bytes.Equal(formatManifest(next), raw) {
		return false, nil
	}
	c := openStatCache(opts, t, l.stamp)
	defer c.save(t, old, opts.Scope, nil)
	for i, r := range checkFiles(t.root, paths, func(string) bool { return true }, c) {
		if r.err != nil || r.blocker != "" || r.leaf == nil || !r.leaf.Mode().IsRegular() || r.sumErr != nil || r.sum != want[paths[i]] {
			return false, nil
		}
	}
	return true, nil
}
