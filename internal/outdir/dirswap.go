package outdir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// unit is a directory that a scoped Write replaces as a whole.
type unit struct {
	path   string      // slash path under root, never root itself
	staged string      // the name of its new content in stagingName: "0", "1"…
	old    fs.FileInfo // the directory on disk; nil if it does not exist yet
	remove bool        // its new content is empty: it is removed
}

// writeDirs writes a scoped plan (opts.Scope is not nil, root exists) by
// replacing only the directories of the scope that change, each as a whole,
// so that its cost is that of the scope, not of the tree:
//
//  1. Units: for each scope prefix under which a file is written or a stale
//     file removed, its directory, or, if that does not exist yet, its
//     outermost missing ancestor; a unit whose new content is empty, and
//     whose parent holds nothing else, gives way to that parent (the
//     directories a removal empties are removed).
//  2. Each unit's new content is built in root/.katonic-staging/<n>: new
//     files written, every other entry of the unit hard-linked (or copied)
//     from it, directories recreated with their modes. A kill here leaves
//     root as it was, plus that directory, which the next call removes.
//  3. The journal, listing each unit with the identity (device and inode) of
//     its old and new directory, and the new manifest, are written there; the
//     journal is renamed to root/.katonic-journal: the commit point.
//  4. Each unit is exchanged with its new content (renameat2
//     RENAME_EXCHANGE; where unsupported, the old directory is renamed into
//     the staging directory and the new one into place), a new one renamed
//     in, a removed one renamed out; then the manifest is renamed into
//     place, the journal removed, and the staging directory, which now holds
//     the old directories, removed. A kill here leaves the journal, which the
//     next Write, Plan or ReadManifest replays: a unit whose path already
//     holds the new directory is done.
//
// Readers see each unit old or new, never mixed, at every instant. It
// returns whether a path of root was moved (its file linked anew, so its
// stat changed), for the stat cache, or a *carryError, before anything
// visible changed, when a unit cannot be staged (a mount point, an entry
// neither linked nor copied, an ancestor that is not a directory, the
// working directory inside a unit): Write then writes in place.
func (t *target) writeDirs(pl *plan, opts Options) (moved func(string) bool, err error) {
	if err := hook("mode", "directories"); err != nil {
		return nil, err
	}
	units, err := t.pickUnits(pl, opts.Scope)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(t.root)
	if err != nil {
		return nil, fmt.Errorf("opening output root %s: %w", t.name, err)
	}
	defer r.Close()
	rootFI, err := r.Lstat(".")
	if err != nil {
		return nil, fmt.Errorf("output root %s: %w", t.name, err)
	}
	if err := r.Mkdir(stagingName, 0o700); err != nil {
		return nil, &PathError{Path: stagingName, Rule: "creating the staging directory: " + bareErr(err)}
	}
	committed := false
	defer func() {
		if err != nil && !committed && !crashed(err) {
			removeTree(filepath.Join(t.root, stagingName))
		}
	}()
	for i := range units {
		if err := t.stageUnit(r, pl, rootFI, &units[i]); err != nil {
			return nil, err
		}
	}
	if units, err = t.pruneUnits(units); err != nil {
		return nil, err
	}

	var ops []op
	for _, u := range units {
		o := op{kind: "dir", staged: u.staged, path: u.path, oldID: "-", newID: "-"}
		if u.old != nil {
			o.oldID = dirID(u.old)
		}
		if u.remove {
			o.kind = "rmdir"
		} else {
			fi, err := r.Lstat(path.Join(stagingName, u.staged))
			if err != nil {
				return nil, &PathError{Path: u.path, Rule: "its new content in the staging directory: " + bareErr(err)}
			}
			o.newID = dirID(fi)
		}
		ops = append(ops, o)
	}
	if pl.oldRaw == nil || !bytes.Equal(pl.manifest, pl.oldRaw) {
		if err := writeNewFile(r, path.Join(stagingName, "manifest"), pl.manifest); err != nil {
			return nil, &PathError{Path: ManifestName, Rule: "writing into the staging directory " + stagingName + ": " + bareErr(err)}
		}
		ops = append(ops, op{kind: "manifest"})
	}
	if err := writeNewFile(r, path.Join(stagingName, "journal"), formatJournal(ops)); err != nil {
		return nil, &PathError{Path: journalName, Rule: "writing the journal: " + bareErr(err)}
	}
	if err := hook("staged", ""); err != nil {
		return nil, err
	}
	if err := r.Rename(path.Join(stagingName, "journal"), journalName); err != nil {
		return nil, &PathError{Path: journalName, Rule: "committing the journal: " + bareErr(err)}
	}
	committed = true
	if err := hook("journal", ""); err != nil {
		return nil, err
	}
	if err := t.applyJournal(r, ops); err != nil {
		return nil, fmt.Errorf("output root %s: applying the committed render (the next katonic render finishes it; journal %s): %w",
			t.name, filepath.Join(t.root, journalName), err)
	}
	return func(p string) bool {
		return pl.write[p] || slices.ContainsFunc(units, func(u unit) bool { return strings.HasPrefix(p, u.path+"/") })
	}, nil
}

// pickUnits returns the units of a scoped plan, sorted by path, each with
// its staged name; see writeDirs.
func (t *target) pickUnits(pl *plan, scope Scope) ([]unit, error) {
	var tops []string
	for _, prefix := range scope {
		hit := slices.ContainsFunc(pl.changes, func(c Change) bool {
			return strings.HasPrefix(c.Path, prefix) && (c.Kind != Removed || !pl.gone[c.Path])
		})
		if !hit {
			continue
		}
		dir := strings.TrimSuffix(prefix, "/")
		top := dir
		for a := range pathPrefixes(dir) {
			fi, err := os.Lstat(filepath.Join(t.root, filepath.FromSlash(a)))
			if errors.Is(err, fs.ErrNotExist) {
				top = a
				break
			}
			if err != nil {
				return nil, &PathError{Path: a, Rule: bareErr(err)}
			}
			if !fi.IsDir() {
				return nil, &carryError{fmt.Sprintf("%s is not a directory", quotePath(a))}
			}
		}
		tops = append(tops, top)
	}
	slices.Sort(tops)
	tops = slices.Compact(tops)
	var units []unit
	for _, p := range tops {
		if slices.ContainsFunc(tops, func(o string) bool { return strings.HasPrefix(p, o+"/") }) {
			continue // inside another unit
		}
		u := unit{path: p, staged: strconv.Itoa(len(units))}
		if fi, err := os.Lstat(filepath.Join(t.root, filepath.FromSlash(p))); err == nil {
			u.old = fi
		}
		units = append(units, u)
	}
	if wd, err := os.Getwd(); err == nil {
		if wd, err = filepath.EvalSymlinks(wd); err == nil {
			for _, u := range units {
				if dir := filepath.Join(t.root, filepath.FromSlash(u.path)); wd == dir || strings.HasPrefix(wd, dir+string(filepath.Separator)) {
					return nil, &carryError{fmt.Sprintf("%s holds the working directory", quotePath(u.path))}
				}
			}
		}
	}
	return units, nil
}

// stageUnit builds the new content of u in the staging directory, or, if
// it is empty, marks u to be removed.
func (t *target) stageUnit(r *os.Root, pl *plan, rootFI fs.FileInfo, u *unit) error {
	name := path.Join(stagingName, u.staged)
	perm := fs.FileMode(0o755)
	if u.old != nil {
		perm = 0o700 // until it gets the mode of u's directory
	}
	if err := r.Mkdir(name, perm); err != nil {
		return &PathError{Path: u.path, Rule: "creating its staging directory " + name + ": " + bareErr(err)}
	}
	b := &builder{
		t: t, pl: pl, pr: r, where: filepath.Join(t.root, name), top: u.path,
		src:  func(p string) string { return filepath.FromSlash(p) },
		dst:  func(p string) string { return path.Join(name, strings.TrimPrefix(p, u.path)) },
		dirs: map[string]fs.FileInfo{}, made: map[string]bool{u.path: true},
	}
	if u.old != nil {
		b.rootDev, _, b.devOK = fileID(rootFI)
		if dev, _, ok := fileID(u.old); ok && b.devOK && dev != b.rootDev {
			return &carryError{fmt.Sprintf("%s is a mount point", quotePath(u.path))}
		}
		b.dirs[u.path] = u.old
		if err := b.carryDir(u.path); err != nil {
			return err
		}
	}
	if err := b.writeNew(); err != nil {
		return err
	}
	if err := b.finishDirs(); err != nil {
		return err
	}
	if u.old == nil {
		return nil
	}
	if empty, err := isEmptyDir(r, name); err != nil {
		return &PathError{Path: u.path, Rule: "reading its staging directory " + name + ": " + bareErr(err)}
	} else if empty {
		u.remove = true
		return r.Remove(name)
	}
	chownLike(r, name, u.old)
	if err := r.Chmod(name, u.old.Mode()&modeBits); err != nil {
		return &PathError{Path: u.path, Rule: "setting the mode of its copy in the staging tree: " + bareErr(err)}
	}
	return nil
}

// pruneUnits replaces removed units that are all a directory holds (never
// root) by that directory, removed, until there are none: the directories
// a render empties go with it.
func (t *target) pruneUnits(units []unit) ([]unit, error) {
	for {
		byParent := map[string][]string{}
		for _, u := range units {
			if p := path.Dir(u.path); u.remove && p != "." {
				byParent[p] = append(byParent[p], path.Base(u.path))
			}
		}
		var parent string
		for _, p := range slices.Sorted(func(yield func(string) bool) {
			for p := range byParent {
				if !yield(p) {
					return
				}
			}
		}) {
			ents, err := os.ReadDir(filepath.Join(t.root, filepath.FromSlash(p)))
			if err != nil {
				return nil, &PathError{Path: p, Rule: "reading directory: " + bareErr(err)}
			}
			adds := slices.ContainsFunc(units, func(u unit) bool { return !u.remove && strings.HasPrefix(u.path, p+"/") })
			if len(ents) == len(byParent[p]) && !adds {
				parent = p
				break
			}
		}
		if parent == "" {
			return units, nil
		}
		fi, err := os.Lstat(filepath.Join(t.root, filepath.FromSlash(parent)))
		if err != nil {
			return nil, &PathError{Path: parent, Rule: bareErr(err)}
		}
		next := 0
		for _, u := range units {
			n, _ := strconv.Atoi(u.staged)
			next = max(next, n+1)
		}
		kept := slices.DeleteFunc(units, func(u unit) bool { return path.Dir(u.path) == parent })
		units = append(kept, unit{path: parent, staged: strconv.Itoa(next), old: fi, remove: true})
		slices.SortFunc(units, func(a, b unit) int { return strings.Compare(a.path, b.path) })
	}
}

// dirID identifies a directory by device and inode ("<dev>:<ino>"), which
// stay with it when it is renamed; "-" where the platform has none.
func dirID(fi fs.FileInfo) string {
	dev, ino, ok := fileID(fi)
	if !ok {
		return "-"
	}
	return strconv.FormatUint(dev, 10) + ":" + strconv.FormatUint(ino, 10)
}

// applyDir runs one step "dir" of a journal: it puts the new content of the
// unit o.path in place, or removes the unit. It may run again after a kill:
// a path that already holds the new directory (by its identity; without
// identities, a staged directory that is gone) is done. The old directory
// is left in the staging directory, under the staged name (after an
// exchange) or the staged name with ".old".
func (t *target) applyDir(r *os.Root, o op) error {
	staged := path.Join(stagingName, o.staged)
	parked := staged + ".old"
	name := filepath.FromSlash(o.path)
	cur, err := r.Lstat(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &PathError{Path: o.path, Rule: bareErr(err)}
	}
	exists := err == nil
	if o.kind == "rmdir" {
		if !exists || o.oldID != "-" && dirID(cur) != o.oldID {
			return nil // already moved away
		}
		if err := r.Rename(name, parked); err != nil {
			return &PathError{Path: o.path, Rule: "moving the removed directory away: " + bareErr(err)}
		}
		return hook("parked", o.path)
	}
	st, serr := r.Lstat(staged)
	if exists && o.newID != "-" && dirID(cur) == o.newID {
		return nil // done
	}
	if serr != nil {
		if errors.Is(serr, fs.ErrNotExist) && o.newID == "-" {
			return nil // moved in before a kill
		}
		return &PathError{Path: o.path, Rule: "its new content " + staged + " is gone: " + bareErr(serr)}
	}
	if o.newID != "-" && dirID(st) != o.newID {
		return &PathError{Path: o.path, Rule: "its new content " + staged + " is not the directory the journal names; refusing to use it"}
	}
	if exists {
		if o.oldID != "-" && dirID(cur) != o.oldID {
			return &PathError{Path: o.path, Rule: "was replaced since the render committed; refusing to replace it"}
		}
		pf, err := r.Open(filepath.FromSlash(path.Dir(o.path)))
		if err != nil {
			return &PathError{Path: o.path, Rule: "opening its parent directory: " + bareErr(err)}
		}
		defer pf.Close()
		sf, err := r.Open(stagingName)
		if err != nil {
			return &PathError{Path: o.path, Rule: "opening the staging directory: " + bareErr(err)}
		}
		defer sf.Close()
		err = exchangeAt(int(pf.Fd()), path.Base(o.path), int(sf.Fd()), o.staged)
		if err == nil {
			return hook("exchanged", o.path)
		}
		if !errors.Is(err, errNoExchange) {
			return &PathError{Path: o.path, Rule: "exchanging it with its new content: " + bareErr(err)}
		}
		if err := r.Rename(name, parked); err != nil {
			return &PathError{Path: o.path, Rule: "moving the old directory away: " + bareErr(err)}
		}
		if err := hook("parked", o.path); err != nil {
			return err
		}
	}
	if err := r.Rename(staged, name); err != nil {
		return &PathError{Path: o.path, Rule: "moving its new content into place: " + bareErr(err)}
	}
	return hook("exchanged", o.path)
}
