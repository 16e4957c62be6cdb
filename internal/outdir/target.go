package outdir

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Names katonic uses inside the output directory besides [ManifestName]. They
// are reserved: [CheckPath] refuses them, so no generated file can take them.
const (
	// insideLockName is the lock file inside root, used only when the lock
	// file cannot be created beside root (its parent is not writable).
	insideLockName = ".katonic-lock"
	// journalName is the in-place strategy's commit record.
	journalName = ".katonic-journal"
	// stagingName is the directory where the in-place strategy writes new
	// content before it commits.
	stagingName = ".katonic-staging"
)

// Kinds of katonic's directories beside root, named
// ".<base>.katonic-<kind>-<id>": a staging tree being built, a complete one
// ("ready", the fallback swap's marker), and the previous tree after the
// fallback swap moved it away ("old").
const (
	kindStage = "stage"
	kindReady = "ready"
	kindOld   = "old"
)

// idLen is the length of the random id in the names of katonic's sibling
// directories; ids are upper-case base32 (crypto/rand.Text).
const idLen = 10

// target is an output root, resolved.
type target struct {
	name   string // root as the caller gave it, for messages
	root   string // absolute, symbolic links resolved
	parent string // filepath.Dir(root)
	base   string // filepath.Base(root)
	exists bool   // root is a directory on disk (when resolved)
}

// resolve makes root absolute and resolves symbolic links in it, so that a
// root given as a link is written where the link points (as [os.OpenRoot]
// would) and two spellings of one directory share one lock. A root that does
// not exist yet is resolved through its deepest existing ancestor.
func resolve(root string) (*target, error) {
	if root == "" {
		return nil, errors.New("outdir: the output root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("output root %s: %w", root, err)
	}
	dir, rest := abs, ""
	for {
		if _, err := os.Lstat(dir); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("output root %s: %w", root, err)
		}
		up := filepath.Dir(dir)
		if up == dir {
			break
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = up
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("output root %s: %s is a symbolic link to a missing directory", root, dir)
		}
		return nil, fmt.Errorf("output root %s: %w", root, err)
	}
	t := &target{name: root, root: filepath.Join(real, rest)}
	t.parent, t.base = filepath.Dir(t.root), filepath.Base(t.root)
	if rest == "" {
		fi, err := os.Stat(t.root)
		if err != nil {
			return nil, fmt.Errorf("output root %s: %w", root, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("output root %s is not a directory", root)
		}
		t.exists = true
	}
	return t, nil
}

// refresh updates t.exists after recovery or another render changed the disk.
func (t *target) refresh() error {
	fi, err := os.Lstat(t.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.exists = false
	case err != nil:
		return fmt.Errorf("output root %s: %w", t.name, err)
	case !fi.IsDir():
		return fmt.Errorf("output root %s is not a directory", t.name)
	default:
		t.exists = true
	}
	return nil
}

// siblingName returns the name of one of katonic's directories beside root.
func (t *target) siblingName(kind, id string) string {
	return "." + t.base + ".katonic-" + kind + "-" + id
}

// newID returns a fresh random id for sibling names.
func newID() string { return rand.Text()[:idLen] }

// sibling is one of katonic's directories found beside root.
type sibling struct {
	name, kind, id string
}

// siblings lists katonic's directories beside root, sorted by name. Only
// names katonic makes (".<base>.katonic-<kind>-<id>" with a well-formed id)
// that are real directories, not links, are listed. An unreadable parent
// yields none: katonic cannot have staged anything there either.
func (t *target) siblings() []sibling {
	ents, err := os.ReadDir(t.parent)
	if err != nil {
		return nil
	}
	prefix := "." + t.base + ".katonic-"
	var out []sibling
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		kind, id, ok := strings.Cut(rest, "-")
		if !ok || !isID(id) || (kind != kindStage && kind != kindReady && kind != kindOld) {
			continue
		}
		out = append(out, sibling{name: e.Name(), kind: kind, id: id})
	}
	return out
}

func isID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// needsRecovery reports, without locking, whether a killed render left
// something that [target.recover] must finish before the tree can be read:
// a fallback swap that moved root away, or an in-place journal or staging
// directory.
func (t *target) needsRecovery() bool {
	if !t.exists {
		return slices.ContainsFunc(t.siblings(), func(s sibling) bool { return s.kind != kindStage })
	}
	for _, n := range []string{journalName, stagingName} {
		if _, err := os.Lstat(filepath.Join(t.root, n)); err == nil {
			return true
		}
	}
	return false
}

// recover finishes or rolls back a render that was killed, so that root is
// the complete old or the complete new tree. It must be called with the lock
// held. It is deterministic:
//
//   - root is missing and a ready directory (a complete new tree) is beside
//     it: the fallback swap had moved the old tree away; the ready tree
//     becomes root (finished). Without a ready directory, an old one becomes
//     root (rolled back).
//   - root holds a journal: the in-place render had committed; its remaining
//     steps are replayed (finished).
//   - root holds an in-place staging directory without a journal: the render
//     had not committed; the directory is removed (rolled back).
//   - root exists, and so do a ready tree and the old tree of the same
//     render: root was recreated by hand after a kill; that is an error,
//     since removing either tree could lose data.
//
// With cleanup (Write), the leftover directories of killed renders beside root
// are then removed as well.
func (t *target) recover(cleanup bool) error {
	sibs := t.siblings()
	if !t.exists {
		if from := pickRecovery(sibs); from != nil {
			src := filepath.Join(t.parent, from.name)
			if err := os.Rename(src, t.root); err != nil {
				return fmt.Errorf("output root %s: finishing an interrupted render: moving %s into place: %w", t.name, src, err)
			}
			if err := t.refresh(); err != nil {
				return err
			}
			sibs = t.siblings()
		}
	}
	if t.exists {
		// Both halves of a fallback swap while root exists: root was made
		// by someone else after the render was killed. Neither tree is
		// garbage; a person must choose.
		for _, s := range sibs {
			if s.kind == kindReady && slices.ContainsFunc(sibs, func(o sibling) bool { return o.kind == kindOld && o.id == s.id }) {
				return fmt.Errorf("output root %s: an interrupted render left its new tree %s and the previous tree %s beside it, but %s exists again; move the tree you want to %s (or remove both), then run again",
					t.name, filepath.Join(t.parent, s.name), filepath.Join(t.parent, t.siblingName(kindOld, s.id)), t.root, t.root)
			}
		}
		if err := t.recoverInPlace(); err != nil {
			return err
		}
	}
	if cleanup {
		for _, s := range sibs {
			// Removal failures are not fatal: the next Write tries again.
			removeTree(filepath.Join(t.parent, s.name))
		}
	}
	return nil
}

// pickRecovery chooses the directory that becomes root when root is missing:
// a ready tree, preferring the one whose old tree is also there (the render
// that was swapping), else the previous tree; ties go to the first name.
// It returns nil when there is neither.
func pickRecovery(sibs []sibling) *sibling {
	var ready, old []*sibling
	for i := range sibs {
		switch sibs[i].kind {
		case kindReady:
			ready = append(ready, &sibs[i])
		case kindOld:
			old = append(old, &sibs[i])
		}
	}
	for _, r := range ready {
		if slices.ContainsFunc(old, func(o *sibling) bool { return o.id == r.id }) {
			return r
		}
	}
	switch {
	case len(ready) > 0:
		return ready[0]
	case len(old) > 0:
		return old[0]
	}
	return nil
}

// inPlaceReason says why root must be written in place rather than swapped,
// or returns "" when swapping is fine. Swapping moves root itself, so it is
// ruled out when root is a repository's root (it holds .git: the checkout,
// editors and shells live there), holds this process's working directory,
// or is a mount point (it cannot be renamed). Other reasons are found while
// staging (see [carryError]).
func (t *target) inPlaceReason() string {
	if !t.exists {
		return ""
	}
	if t.parent == t.root {
		return "it is the file system root"
	}
	if _, err := os.Lstat(filepath.Join(t.root, ".git")); err == nil {
		return "it holds .git (it is a repository's root)"
	}
	if wd, err := os.Getwd(); err == nil {
		if wd, err = filepath.EvalSymlinks(wd); err == nil {
			if rel, err := filepath.Rel(t.root, wd); err == nil && filepath.IsLocal(rel) {
				return "it holds the working directory"
			}
		}
	}
	rfi, err1 := os.Lstat(t.root)
	pfi, err2 := os.Lstat(t.parent)
	if err1 == nil && err2 == nil {
		rdev, _, ok1 := fileID(rfi)
		pdev, _, ok2 := fileID(pfi)
		if ok1 && ok2 && rdev != pdev {
			return "it is a mount point"
		}
	}
	return ""
}

// removeTree removes a directory tree of katonic's beside root (a staging or
// an old tree). Directories of the tree that forbid removing their entries
// are made writable first: they are katonic's copies, or the previous tree's
// directories that the new tree no longer uses. Files are never changed:
// they may be hard links shared with the new tree.
func removeTree(name string) error {
	if err := os.RemoveAll(name); err == nil {
		return nil
	}
	filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(name)
}
