package outdir

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// journalHeader is the first line of the in-place strategy's journal.
const journalHeader = "# katonic journal: a committed render of this directory, not yet fully applied; katonic finishes it. Do not edit."

// op is one step of a journal: for an in-place render, remove a stale
// generated file ("del") or move a staged file into place ("put"); for a
// scoped render (see writeDirs), put a directory's new content in place
// ("dir") or remove a directory ("rmdir"); then move the staged manifest
// into place ("manifest", always last).
type op struct {
	kind   string // "del", "put", "dir", "rmdir" or "manifest"
	staged string // put, dir, rmdir: the staged entry's name in stagingName
	path   string // del, put, dir, rmdir: slash path under root
	// dir, rmdir: the device and inode ("<dev>:<ino>", "-" for none or
	// unknown) of the directory the step puts in place, and of the one it
	// replaces or removes.
	newID, oldID string
}

// writeInPlace writes the plan into root itself, where root cannot be
// swapped (reason says why). It is all or nothing through a journal:
//
//  1. The new content of every added or changed file, and the new manifest,
//     are written into root/.katonic-staging. A kill here leaves root as it
//     was (plus that directory, which the next call removes).
//  2. The list of steps is written to .katonic-staging/journal and renamed to
//     root/.katonic-journal: the commit point.
//  3. The steps run: stale files removed (with the directories that empties),
//     staged files renamed into place, the manifest last; then the journal
//     and the staging directory are removed. A kill here leaves the journal,
//     and the next Write, Plan or ReadManifest replays it (every step can run
//     again), so the tree ends up complete and new.
func (t *target) writeInPlace(pl *plan, reason string) (err error) {
	if err := hook("mode", reason); err != nil {
		return err
	}
	if !t.exists {
		if err := os.Mkdir(t.root, 0o755); err != nil {
			return fmt.Errorf("output root %s: %s, and creating it in place failed: %w", t.name, reason, err)
		}
		t.exists = true
	}
	r, err := os.OpenRoot(t.root)
	if err != nil {
		return fmt.Errorf("opening output root %s: %w", t.name, err)
	}
	defer r.Close()
	if err := r.Mkdir(stagingName, 0o700); err != nil {
		return &PathError{Path: stagingName, Rule: "creating the staging directory: " + bareErr(err)}
	}
	committed := false
	defer func() {
		if err != nil && !committed && !crashed(err) {
			r.RemoveAll(stagingName)
		}
	}()

	var ops []op
	for _, c := range pl.changes {
		// A stale file already gone by hand is removed too: its removal
		// prunes the directories it leaves empty.
		if c.Kind == Removed && !pl.blocked[c.Path] {
			ops = append(ops, op{kind: "del", path: c.Path})
		}
	}
	for _, c := range pl.changes {
		if c.Kind == Removed {
			continue
		}
		if err := hook("stage", c.Path); err != nil {
			return err
		}
		staged := strconv.Itoa(len(ops))
		if err := writeNewFile(r, path.Join(stagingName, staged), pl.desired[c.Path]); err != nil {
			return &PathError{Path: c.Path, Rule: "writing into the staging directory " + stagingName + ": " + bareErr(err)}
		}
		ops = append(ops, op{kind: "put", staged: staged, path: c.Path})
	}
	if pl.oldRaw == nil || !bytes.Equal(pl.manifest, pl.oldRaw) {
		if err := writeNewFile(r, path.Join(stagingName, "manifest"), pl.manifest); err != nil {
			return &PathError{Path: ManifestName, Rule: "writing into the staging directory " + stagingName + ": " + bareErr(err)}
		}
		ops = append(ops, op{kind: "manifest"})
	}
	if err := writeNewFile(r, path.Join(stagingName, "journal"), formatJournal(ops)); err != nil {
		return &PathError{Path: journalName, Rule: "writing the journal: " + bareErr(err)}
	}
	if err := hook("staged", ""); err != nil {
		return err
	}
	if err := r.Rename(path.Join(stagingName, "journal"), journalName); err != nil {
		return &PathError{Path: journalName, Rule: "committing the journal: " + bareErr(err)}
	}
	committed = true
	if err := hook("journal", ""); err != nil {
		return err
	}
	if err := t.applyJournal(r, ops); err != nil {
		return fmt.Errorf("output root %s: applying the committed render (the next katonic render finishes it; journal %s): %w",
			t.name, filepath.Join(t.root, journalName), err)
	}
	return nil
}

// applyJournal runs the steps of a committed in-place render. Every step
// may have run before (a replay after a kill): a stale file already removed,
// a staged file already moved, are skipped.
func (t *target) applyJournal(r *os.Root, ops []op) error {
	for _, o := range ops {
		if err := hook("apply", o.path); err != nil {
			return err
		}
		var err error
		switch o.kind {
		case "del":
			err = removeStale(t.root, r, o.path)
		case "put":
			err = putStaged(t.root, r, path.Join(stagingName, o.staged), o.path)
		case "dir", "rmdir":
			err = t.applyDir(r, o)
		case "manifest":
			err = putStaged(t.root, r, path.Join(stagingName, "manifest"), ManifestName)
		}
		if err != nil {
			return err
		}
	}
	if err := hook("applied", ""); err != nil {
		return err
	}
	if err := r.Remove(journalName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &PathError{Path: journalName, Rule: "removing the journal of a finished render: " + bareErr(err)}
	}
	if err := removeTree(filepath.Join(t.root, stagingName)); err != nil {
		return &PathError{Path: stagingName, Rule: "removing the staging directory of a finished render: " + bareErr(err)}
	}
	return nil
}

// removeStale removes the stale generated file p if it is still a regular
// file (a directory there is what the render put in its place), then each
// parent directory that is empty, stopping below root: those it emptied now,
// or emptied before a kill.
func removeStale(root string, r *os.Root, p string) error {
	leaf, blocker, err := inspect(root, p)
	if err != nil {
		return err
	}
	if leaf != nil && blocker == "" && !leaf.IsDir() {
		if !leaf.Mode().IsRegular() {
			return &PathError{Path: p, Rule: "stale generated file is no longer a regular file; refusing to remove it"}
		}
		if err := r.Remove(filepath.FromSlash(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &PathError{Path: p, Rule: "removing stale generated file: " + bareErr(err)}
		}
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		empty, err := isEmptyDir(r, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed before a kill
		}
		if err != nil {
			return &PathError{Path: dir, Rule: "checking whether directory is empty: " + bareErr(err)}
		}
		if !empty {
			return nil
		}
		if err := r.Remove(filepath.FromSlash(dir)); err != nil {
			return &PathError{Path: dir, Rule: "removing directory emptied of stale files: " + bareErr(err)}
		}
	}
	return nil
}

// putStaged moves the staged file into place at p (a rename; a copy where p
// is on another file system), creating p's directories. A staged file that
// is gone was moved before a kill.
func putStaged(root string, r *os.Root, staged, p string) error {
	if _, err := r.Lstat(staged); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if p != ManifestName {
		if _, _, err := inspect(root, p); err != nil {
			return err
		}
		if dir := path.Dir(p); dir != "." {
			if err := r.MkdirAll(filepath.FromSlash(dir), 0o755); err != nil {
				return &PathError{Path: p, Rule: "creating its directory: " + bareErr(err)}
			}
		}
	} else if fi, err := r.Lstat(ManifestName); err == nil && !fi.Mode().IsRegular() {
		return &PathError{Path: ManifestName, Rule: "ownership manifest is not a regular file; refusing to replace it"}
	}
	err := r.Rename(staged, filepath.FromSlash(p))
	if err != nil && isEXDEV(err) {
		var data []byte
		if data, err = r.ReadFile(staged); err == nil {
			if err = writeAtomic(r, p, data); err == nil {
				err = r.Remove(staged)
			}
		}
	}
	if err != nil {
		return &PathError{Path: p, Rule: "moving its new content into place: " + bareErr(err)}
	}
	return nil
}

// formatJournal renders the steps, one a line.
func formatJournal(ops []op) []byte {
	var b bytes.Buffer
	b.WriteString(journalHeader + "\n")
	for _, o := range ops {
		switch o.kind {
		case "del":
			fmt.Fprintf(&b, "del %s\n", o.path)
		case "put":
			fmt.Fprintf(&b, "put %s %s\n", o.staged, o.path)
		case "dir":
			fmt.Fprintf(&b, "dir %s %s %s %s\n", o.staged, o.newID, o.oldID, o.path)
		case "rmdir":
			fmt.Fprintf(&b, "rmdir %s %s %s\n", o.staged, o.oldID, o.path)
		case "manifest":
			b.WriteString("manifest\n")
		}
	}
	return b.Bytes()
}

// parseJournal parses a journal; errors name its line.
func parseJournal(data []byte) ([]op, error) {
	var ops []op
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("%s:%d: %s: %q", journalName, i+1, why, line)
		}
		kind, rest, _ := strings.Cut(line, " ")
		o := op{kind: kind}
		switch kind {
		case "del":
			o.path = rest
		case "put":
			var ok bool
			if o.staged, o.path, ok = strings.Cut(rest, " "); !ok {
				return nil, bad("malformed step")
			}
			if n, err := strconv.Atoi(o.staged); err != nil || n < 0 || strconv.Itoa(n) != o.staged {
				return nil, bad("malformed staged file name")
			}
		case "dir", "rmdir":
			n := 4
			if kind == "rmdir" {
				n = 3
			}
			f := strings.SplitN(rest, " ", n)
			if len(f) != n {
				return nil, bad("malformed step")
			}
			o.staged, o.path, o.oldID, o.newID = f[0], f[n-1], f[n-2], "-"
			if kind == "dir" {
				o.newID = f[1]
			}
			if m, err := strconv.Atoi(o.staged); err != nil || m < 0 || strconv.Itoa(m) != o.staged {
				return nil, bad("malformed staged directory name")
			}
			if !isDirID(o.oldID) || !isDirID(o.newID) {
				return nil, bad("malformed directory identity")
			}
		case "manifest":
			if rest != "" {
				return nil, bad("malformed step")
			}
		default:
			return nil, bad("unknown step")
		}
		if kind != "manifest" {
			if err := CheckPath(o.path); err != nil {
				return nil, bad("invalid path: " + err.Error())
			}
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// recoverInPlace finishes a committed in-place render (root holds a
// journal) or removes the staging directory of one that had not committed.
func (t *target) recoverInPlace() error {
	fi, err := os.Lstat(filepath.Join(t.root, journalName))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Lstat(filepath.Join(t.root, stagingName)); err != nil {
			return nil
		}
		if err := removeTree(filepath.Join(t.root, stagingName)); err != nil {
			return fmt.Errorf("output root %s: removing the staging directory of an interrupted render: %w", t.name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("output root %s: %s: %w", t.name, journalName, err)
	}
	if !fi.Mode().IsRegular() {
		return &PathError{Path: journalName, Rule: "journal of an interrupted render is not a regular file; refusing to read it"}
	}
	r, err := os.OpenRoot(t.root)
	if err != nil {
		return fmt.Errorf("opening output root %s: %w", t.name, err)
	}
	defer r.Close()
	data, err := r.ReadFile(journalName)
	if err != nil {
		return fmt.Errorf("output root %s: %s: %w", t.name, journalName, err)
	}
	ops, err := parseJournal(data)
	if err == nil {
		err = t.applyJournal(r, ops)
	}
	if err != nil {
		return fmt.Errorf("output root %s: finishing an interrupted render (journal %s): %w", t.name, filepath.Join(t.root, journalName), err)
	}
	return nil
}

// isDirID reports whether s is a directory identity of a journal: "-" or
// "<dev>:<ino>" in decimal.
func isDirID(s string) bool {
	if s == "-" {
		return true
	}
	dev, ino, ok := strings.Cut(s, ":")
	_, err1 := strconv.ParseUint(dev, 10, 64)
	_, err2 := strconv.ParseUint(ino, 10, 64)
	return ok && err1 == nil && err2 == nil
}
