package outdir

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// setHook installs testHook for the test and removes it afterwards. Tests
// that use it must not run in parallel.
func setHook(t *testing.T, h func(event, p string) error) {
	t.Helper()
	testHook = h
	t.Cleanup(func() { testHook = nil })
}

// snapshot returns everything under root, manifest included, slash path ->
// description: a file's mode and content, a link's target, an empty
// directory's mark. A missing root is an empty map.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return tree
	}
	err := filepath.WalkDir(root, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, name)
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case rel == ".":
		case d.IsDir():
			if ents, _ := os.ReadDir(name); len(ents) == 0 {
				tree[rel+"/"] = fmt.Sprintf("dir %v", fi.Mode().Perm())
			}
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(name)
			if err != nil {
				return err
			}
			tree[rel] = "-> " + target
		default:
			b, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			tree[rel] = fmt.Sprintf("%v %s", fi.Mode(), b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// siblingNames lists the entries of dir (the root's parent) that katonic
// made beside a root named "out": staging, ready and old directories, and
// the lock file.
func siblingNames(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); len(n) > len(".out.katonic-") && n[:len(".out.katonic-")] == ".out.katonic-" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// upToDate is Check's answer reduced to yes or no.
func upToDate(root string, want map[string]string, opts Options) (bool, error) {
	d, err := Check(root, want, opts)
	return err == nil && d.UpToDate(), err
}

// formatStatCache renders a stat cache file of entries for root id, as
// statCache.save writes one.
func formatStatCache(id rootID, entries map[string]statEntry) []byte {
	b := appendStatHeader(nil, id)
	for _, p := range slices.Sorted(maps.Keys(entries)) {
		b = appendStatLine(b, p, entries[p])
	}
	return b
}

// tableEntries returns the entries of a stat cache table as a map.
func tableEntries(t statTable) map[string]statEntry {
	m := map[string]statEntry{}
	for i := range t.rows() {
		m[t.pathAt(i)] = t.entryAt(i)
	}
	return m
}
