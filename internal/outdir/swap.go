package outdir

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// carryError says that the tree cannot be swapped: it cannot be carried
// faithfully into a staging directory beside it (the parent is read-only, a
// directory is a mount point, an entry can be neither linked nor copied), or
// root cannot be renamed. It is returned only before anything visible has
// changed, and Write then writes in place instead. The staging directory is
// removed by then.
type carryError struct{ reason string }

func (e *carryError) Error() string { return "cannot stage the new tree: " + e.reason }

// modeBits are the mode bits a recreated directory keeps.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// writeSwap writes the plan by building the complete new tree in a staging
// directory beside root and swapping it in (see swap). Entries that the
// render does not change, generated or not, are hard-linked into the staging
// tree (copied, content and mode and mtime kept, where linking fails);
// directories are recreated with their modes (and, where allowed, owners).
func (t *target) writeSwap(pl *plan, opts Options) (err error) {
	if err := hook("mode", ""); err != nil {
		return err
	}
	pr, err := os.OpenRoot(t.parent)
	if err != nil {
		return &carryError{fmt.Sprintf("its parent directory cannot be opened: %v", bareErr(err))}
	}
	defer pr.Close()
	id := newID()
	stage := t.siblingName(kindStage, id)
	if err := pr.Mkdir(stage, 0o755); err != nil {
		if errors.Is(err, fs.ErrPermission) || isEROFS(err) {
			return &carryError{"its parent directory is not writable"}
		}
		return fmt.Errorf("output root %s: creating the staging directory %s: %w", t.name, filepath.Join(t.parent, stage), err)
	}
	defer func() {
		if err != nil && !crashed(err) {
			removeTree(filepath.Join(t.parent, stage))
		}
	}()
	b := &builder{
		t: t, pl: pl, pr: pr, where: filepath.Join(t.parent, stage),
		src:  func(p string) string { return path.Join(t.base, p) },
		dst:  func(p string) string { return path.Join(stage, p) },
		dirs: map[string]fs.FileInfo{}, made: map[string]bool{},
	}
	if t.exists {
		if err := b.carryTree(); err != nil {
			return err
		}
	}
	if err := b.writeNew(); err != nil {
		return err
	}
	if err := b.finish(); err != nil {
		return err
	}
	if err := hook("staged", ""); err != nil {
		return err
	}
	return t.swap(pr, stage, id, opts)
}

// builder builds a staging tree: the new content of root (top "", in a
// directory beside it) or of one directory top of root (in root's staging
// directory; see writeDirs).
type builder struct {
	t  *target
	pl *plan
	pr *os.Root // the directory that src and dst names are relative to
	// src and dst name the entry of slash path p (relative to root) in
	// root and in the staging tree, relative to pr.
	src, dst  func(p string) string
	where     string                 // the staging tree's absolute path, for messages
	top       string                 // what is staged: "" (root) or a directory under it
	dirs      map[string]fs.FileInfo // root's directories by slash path ("" is root)
	made      map[string]bool        // directories created in the staging tree
	recreated []string               // those that copy one of root's, parents first
	rootDev   uint64
	devOK     bool
}

func (b *builder) oldName(p string) string   { return b.src(p) }
func (b *builder) stageName(p string) string { return b.dst(p) }

// carryTree walks root and carries into the staging tree every entry that
// the render keeps as it is.
func (b *builder) carryTree() error {
	fi, err := b.pr.Lstat(b.t.base)
	if err != nil {
		return fmt.Errorf("output root %s: %w", b.t.name, err)
	}
	b.dirs[""] = fi
	b.rootDev, _, b.devOK = fileID(fi)
	return b.carryDir("")
}

func (b *builder) carryDir(rel string) error {
	f, err := b.pr.Open(b.oldName(rel))
	if err != nil {
		return &carryError{fmt.Sprintf("directory %s cannot be opened: %v", quotePath(rel), bareErr(err))}
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return &carryError{fmt.Sprintf("directory %s cannot be read: %v", quotePath(rel), bareErr(err))}
	}
	if len(ents) == 0 && rel != b.top {
		if staleUnder(b.pl.stale, rel) {
			return nil // katonic's, emptied of its stale files by hand: pruned, as removing them prunes it
		}
		return b.mkdirs(rel) // an empty directory stays
	}
	slices.SortFunc(ents, func(x, y fs.DirEntry) int { return strings.Compare(x.Name(), y.Name()) })
	for _, e := range ents {
		p := path.Join(rel, e.Name())
		if rel == "" && e.Name() == ManifestName {
			continue // written by finish
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return &carryError{fmt.Sprintf("%s cannot be examined: %v", quotePath(p), bareErr(err))}
		}
		if fi.IsDir() {
			if dev, _, ok := fileID(fi); ok && b.devOK && dev != b.rootDev {
				return &carryError{fmt.Sprintf("%s is a mount point", quotePath(p))}
			}
			b.dirs[p] = fi
			if err := b.carryDir(p); err != nil {
				return err
			}
			continue
		}
		if b.pl.stale[p] || b.pl.write[p] {
			continue // removed, or replaced by new content
		}
		if err := hook("carry", p); err != nil {
			return err
		}
		if err := b.carry(p, fi); err != nil {
			return err
		}
	}
	return nil
}

// carry hard-links root's entry p (a file, a symbolic link or another
// non-directory, described by fi) into the staging tree, or copies it where
// linking fails: a regular file with its content, mode and mtime, a link with
// its target. Links are never followed.
func (b *builder) carry(p string, fi fs.FileInfo) error {
	if err := b.mkdirs(path.Dir(p)); err != nil {
		return err
	}
	src, dst := b.oldName(p), b.stageName(p)
	lerr := b.pr.Link(src, dst)
	if lerr == nil {
		return nil
	}
	fail := func(err error) error {
		return &carryError{fmt.Sprintf("%s can be neither hard-linked (%v) nor copied (%v)", quotePath(p), bareErr(lerr), bareErr(err))}
	}
	switch {
	case fi.Mode().IsRegular():
		if err := copyFile(b.pr, src, dst, fi); err != nil {
			return fail(err)
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := b.pr.Readlink(src)
		if err == nil {
			err = b.pr.Symlink(target, dst)
		}
		if err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("it is a %v, not a regular file", fi.Mode().Type()))
	}
	return nil
}

// copyFile copies the regular file src to the new file dst under r, keeping
// its mode and modification time.
func copyFile(r *os.Root, src, dst string, fi fs.FileInfo) error {
	in, err := r.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil || !os.SameFile(st, fi) {
		return fmt.Errorf("%s changed while it was copied", src)
	}
	out, err := r.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(fi.Mode() & modeBits)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Chtimes(dst, time.Time{}, fi.ModTime())
	}
	return err
}

// mkdirs creates directory rel and its parents in the staging tree: a copy
// of root's directory of that path (writable to katonic until finish gives
// it its mode), or a new directory 0755 less the umask.
func (b *builder) mkdirs(rel string) error {
	if rel == "." || rel == "" || rel == b.top || b.made[rel] {
		return nil
	}
	if err := b.mkdirs(path.Dir(rel)); err != nil {
		return err
	}
	perm := fs.FileMode(0o755)
	_, old := b.dirs[rel]
	if old {
		perm = 0o700
	}
	if err := b.pr.Mkdir(b.stageName(rel), perm); err != nil {
		return &PathError{Path: rel, Rule: "creating directory in the staging tree " + b.where + ": " + bareErr(err)}
	}
	b.made[rel] = true
	if old {
		b.recreated = append(b.recreated, rel)
	}
	return nil
}

// writeNew writes the added and changed files into the staging tree.
func (b *builder) writeNew() error {
	for _, c := range b.pl.changes {
		if c.Kind == Removed || b.top != "" && !strings.HasPrefix(c.Path, b.top+"/") {
			continue
		}
		if err := hook("stage", c.Path); err != nil {
			return err
		}
		if err := b.mkdirs(path.Dir(c.Path)); err != nil {
			return err
		}
		if err := writeNewFile(b.pr, b.stageName(c.Path), b.pl.desired[c.Path]); err != nil {
			return &PathError{Path: c.Path, Rule: "writing into the staging tree " + b.where + ": " + bareErr(err)}
		}
	}
	return nil
}

// finish writes the manifest (linking the old one if its bytes do not
// change) and gives the recreated directories, and the staging root, the
// modes and owners of root's.
func (b *builder) finish() error {
	name := b.stageName(ManifestName)
	if b.pl.oldRaw != nil && bytes.Equal(b.pl.manifest, b.pl.oldRaw) && b.pr.Link(b.oldName(ManifestName), name) == nil {
		// unchanged: the same file
	} else if err := writeNewFile(b.pr, name, b.pl.manifest); err != nil {
		return &PathError{Path: ManifestName, Rule: "writing into the staging tree " + b.where + ": " + bareErr(err)}
	}
	if err := b.finishDirs(); err != nil {
		return err
	}
	if fi, ok := b.dirs[""]; ok {
		chownLike(b.pr, b.stageName(""), fi)
		if err := b.pr.Chmod(b.stageName(""), fi.Mode()&modeBits); err != nil {
			return fmt.Errorf("output root %s: setting the mode of the staging tree: %w", b.t.name, err)
		}
	}
	return nil
}

// finishDirs gives the recreated directories, innermost first, the modes
// and owners of root's.
func (b *builder) finishDirs() error {
	for _, rel := range slices.Backward(b.recreated) {
		fi := b.dirs[rel]
		chownLike(b.pr, b.stageName(rel), fi)
		if err := b.pr.Chmod(b.stageName(rel), fi.Mode()&modeBits); err != nil {
			return &PathError{Path: rel, Rule: "setting the mode of its copy in the staging tree: " + bareErr(err)}
		}
	}
	return nil
}

// writeNewFile creates the file name under r, which must not exist, with
// data and mode 0644.
func writeNewFile(r *os.Root, name string, data []byte) error {
	f, err := r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// swap puts the complete staging tree in root's place. Where renameat2
// supports it (Linux), root and the staging directory are exchanged in one
// atomic step, and the old tree, now under the staging name, is removed.
// Otherwise: the staging directory is renamed "ready" (the marker that it is
// complete), root is renamed "old", the ready tree is renamed root, and the
// old tree is removed; a kill between the middle two renames leaves no root,
// and recovery (see target.recover) moves the ready tree in. A root that did
// not exist is created by one rename.
func (t *target) swap(pr *os.Root, stage, id string, opts Options) error {
	pf, err := os.Open(t.parent)
	if err != nil {
		return fmt.Errorf("output root %s: opening its parent directory: %w", t.name, err)
	}
	defer pf.Close()
	fd := int(pf.Fd())
	if !t.exists {
		err := renameNoReplace(fd, stage, t.base)
		if errors.Is(err, errNoExchange) {
			err = pr.Rename(stage, t.base)
		}
		if err != nil {
			return fmt.Errorf("output root %s: moving the new tree %s into place: %w", t.name, filepath.Join(t.parent, stage), err)
		}
		return hook("swapped", "")
	}
	err = exchange(fd, stage, t.base)
	if err == nil {
		if err := hook("swapped", ""); err != nil {
			return err
		}
		t.discard(stage, opts)
		return hook("cleaned", "")
	}
	if !errors.Is(err, errNoExchange) {
		// A bind mount (EBUSY), a sticky parent (EPERM)...: write in place.
		return &carryError{fmt.Sprintf("it cannot be exchanged with the staging tree: %v", bareErr(err))}
	}

	ready, old := t.siblingName(kindReady, id), t.siblingName(kindOld, id)
	if err := pr.Rename(stage, ready); err != nil {
		return &carryError{fmt.Sprintf("the staging tree cannot be renamed: %v", bareErr(err))}
	}
	if err := hook("ready", ""); err != nil {
		if !crashed(err) {
			removeTree(filepath.Join(t.parent, ready))
		}
		return err
	}
	if err := pr.Rename(t.base, old); err != nil {
		removeTree(filepath.Join(t.parent, ready))
		return &carryError{fmt.Sprintf("it cannot be renamed: %v", bareErr(err))}
	}
	if err := hook("old-moved", ""); err != nil {
		return err // root is missing: recovery moves the ready tree in
	}
	if err := pr.Rename(ready, t.base); err != nil {
		if rerr := pr.Rename(old, t.base); rerr != nil {
			return fmt.Errorf("output root %s: moving the new tree %s into place: %w; and moving the previous tree %s back: %v (the next katonic render finishes the swap)",
				t.name, filepath.Join(t.parent, ready), err, filepath.Join(t.parent, old), rerr)
		}
		removeTree(filepath.Join(t.parent, ready))
		return fmt.Errorf("output root %s: moving the new tree %s into place: %w", t.name, filepath.Join(t.parent, ready), err)
	}
	if err := hook("swapped", ""); err != nil {
		return err
	}
	t.discard(old, opts)
	return hook("cleaned", "")
}

// discard removes the previous tree, now the sibling name. A failure is not
// an error of the render, which is complete: it is reported on the progress
// writer, and the next Write removes the directory.
func (t *target) discard(name string, opts Options) {
	abs := filepath.Join(t.parent, name)
	if err := removeTree(abs); err != nil && opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "katonic: note: could not remove the previous tree %s: %v; the next render removes it\n", abs, err)
	}
}
