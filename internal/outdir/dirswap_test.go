package outdir

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dirSwapCase is a scoped render that changes one environment, adds one
// (its parent directory new too), removes one (its parent emptied too), and
// leaves another alone, in a root with files katonic does not own.
var dirSwapCase = struct {
	user     map[string]string
	old, new map[string]string
	scope    Scope
	units    []string // the directories it replaces
}{
	user: map[string]string{"clusters/a/flux-system/gotk.yaml": "bootstrap", "README.md": "mine", "environments/a/empty/": ""},
	old: map[string]string{
		"clusters/a/k.yaml": "1", "clusters/a/apps/x.yaml": "x", "environments/a/e.yaml": "e",
		"clusters/b/k.yaml": "b", "gone/g/g.yaml": "g",
	},
	new: map[string]string{
		"clusters/a/k.yaml": "2", "clusters/a/apps/x.yaml": "x", "environments/a/e2.yaml": "e2",
		"new/n/n.yaml": "n",
	},
	scope: Scope{"clusters/a/", "environments/a/", "gone/g/", "new/n/"},
	units: []string{"clusters/a", "environments/a", "gone", "new"},
}

// subtree returns the entries of tree under the directory dir.
func subtree(tree map[string]string, dir string) map[string]string {
	out := map[string]string{}
	for p, v := range tree {
		if strings.HasPrefix(p, dir+"/") {
			out[p] = v
		}
	}
	return out
}

// TestDirSwapReplacesOnlyTheScope: a scoped Write replaces the directories
// of the scope that change, and nothing else: root, the other
// environments' directories and every unchanged file keep their inodes;
// nothing is left beside root or in it.
func TestDirSwapReplacesOnlyTheScope(t *testing.T) {
	c := dirSwapCase
	base := t.TempDir()
	root := filepath.Join(base, "out")
	writeTree(t, root, c.user)
	if _, err := Write(root, bytesMap(c.old), nil); err != nil {
		t.Fatal(err)
	}
	must(t, os.Chmod(filepath.Join(root, "clusters/a/apps"), 0o750))
	keep := []string{"", "clusters", "clusters/b", "clusters/b/k.yaml", "environments", "clusters/a/flux-system/gotk.yaml", "clusters/a/apps/x.yaml"}
	inodes := map[string]uint64{}
	for _, p := range keep {
		inodes[p] = inode(t, filepath.Join(root, p))
	}
	clustersA := inode(t, filepath.Join(root, "clusters/a"))
	var mode []string
	setHook(t, func(ev, p string) error {
		if ev == "mode" {
			mode = append(mode, p)
		}
		return nil
	})
	changes, err := Write(root, bytesMap(c.new), c.scope)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mode, []string{"directories"}) {
		t.Errorf("strategy %q, want directories", mode)
	}
	want := []string{"added environments/a/e2.yaml", "changed clusters/a/k.yaml", "removed environments/a/e.yaml", "removed gone/g/g.yaml", "added new/n/n.yaml"}
	if got := changeStrings(changes); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("changes %q, want %q", got, want)
	}
	wantTree := map[string]string{"clusters/b/k.yaml": "b"}
	maps.Copy(wantTree, c.user)
	maps.Copy(wantTree, c.new)
	wantTree["environments/a/empty/"] = dirMark
	got := readTree(t, root)
	if !maps.Equal(got, wantTree) {
		t.Errorf("tree %q, want %q", got, wantTree)
	}
	for p, ino := range inodes {
		if inode(t, filepath.Join(root, p)) != ino {
			t.Errorf("%q was replaced", p)
		}
	}
	if inode(t, filepath.Join(root, "clusters/a")) == clustersA {
		t.Errorf("clusters/a was not replaced")
	}
	if fi, err := os.Stat(filepath.Join(root, "clusters/a/apps")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("clusters/a/apps lost its mode: %v, %v", fi.Mode(), err)
	}
	if _, err := os.Lstat(filepath.Join(root, "gone")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("gone/, emptied, stays: %v", err)
	}
	for _, n := range []string{journalName, stagingName} {
		if _, err := os.Lstat(filepath.Join(root, n)); err == nil {
			t.Errorf("%s left in the root", n)
		}
	}
	if left := siblingNames(t, base); len(left) != 0 {
		t.Errorf("left beside the root: %q", left)
	}
}

// TestDirSwapRecovery simulates a kill at every step of a scoped Write
// (with the exchange, and with the fallback renames), and checks that each
// directory of the scope is, before any recovery, wholly old or wholly new,
// the rest of the tree untouched; and that each entry point (Plan,
// ReadManifest, Write) then gives the complete old tree (killed before the
// journal was committed) or the complete new one, with a manifest to match.
func TestDirSwapRecovery(t *testing.T) {
	c := dirSwapCase
	setUp := func(t *testing.T) (string, map[string]map[string]string) {
		root := filepath.Join(t.TempDir(), "out")
		writeTree(t, root, c.user)
		if _, err := Write(root, bytesMap(c.old), nil); err != nil {
			t.Fatal(err)
		}
		trees := map[string]map[string]string{"old": snapshot(t, root)}
		twin := filepath.Join(t.TempDir(), "out")
		linkCopy(t, root, twin)
		if _, err := Write(twin, bytesMap(c.new), c.scope); err != nil {
			t.Fatal(err)
		}
		trees["new"] = snapshot(t, twin)
		return root, trees
	}
	for _, noExchange := range []bool{false, true} {
		testNoExchange = noExchange
		_, trees := setUp(t)
		// The steps of the write.
		var steps []string
		root, _ := setUp(t)
		setHook(t, func(ev, p string) error {
			steps = append(steps, ev+" "+p)
			return nil
		})
		if _, err := Write(root, bytesMap(c.new), c.scope); err != nil {
			t.Fatal(err)
		}
		testHook = nil
		if got := snapshot(t, root); !maps.Equal(got, trees["new"]) {
			t.Fatal("the scoped write is not repeatable")
		}
		commit := slices.Index(steps, "journal ")
		if commit < 0 || !slices.Contains(steps, "parked gone") {
			t.Fatalf("steps %q", steps)
		}
		if noExchange != slices.Contains(steps, "parked clusters/a") {
			t.Fatalf("steps %q", steps)
		}
		for i, step := range steps {
			ev, _, _ := strings.Cut(step, " ")
			if ev == "locked" || ev == "unlocking" {
				continue
			}
			for _, entry := range []string{"Plan", "ReadManifest", "Write"} {
				name := fmt.Sprintf("%s/%d %s/%s", map[bool]string{false: "exchange", true: "fallback"}[noExchange], i, step, entry)
				t.Run(name, func(t *testing.T) {
					root, trees := setUp(t)
					n := 0
					setHook(t, func(string, string) error {
						if n++; n == i+1 {
							return errTestCrash
						}
						return nil
					})
					if _, err := Write(root, bytesMap(c.new), c.scope); !errors.Is(err, errTestCrash) {
						t.Fatalf("Write: %v, want the simulated crash", err)
					}
					testHook = nil
					got := snapshot(t, root)
					// Only the fallback leaves a unit missing: between
					// moving the old directory away and the new one in.
					missing := ""
					if u, ok := strings.CutPrefix(step, "parked "); ok && noExchange && u != "gone" {
						missing = u
						if got[path.Dir(u)+"/"] != "" {
							delete(got, path.Dir(u)+"/") // its parent, empty for that instant
						}
					}
					for p, v := range got {
						if strings.HasPrefix(p, ".katonic-") || slices.ContainsFunc(c.units, func(u string) bool { return strings.HasPrefix(p, u+"/") }) {
							continue
						}
						if v != trees["old"][p] && p != ManifestName {
							t.Errorf("before recovery, %s outside the scope changed", p)
						}
					}
					for _, u := range c.units {
						sub := subtree(got, u)
						if u == missing && len(sub) == 0 {
							continue
						}
						if !maps.Equal(sub, subtree(trees["old"], u)) && !maps.Equal(sub, subtree(trees["new"], u)) {
							t.Errorf("before recovery, %s/ is mixed: %q", u, sub)
						}
					}
					want := "old"
					if i >= commit {
						want = "new"
					}
					var err error
					switch entry {
					case "Plan":
						_, err = Plan(root, bytesMap(c.new), c.scope)
					case "ReadManifest":
						_, err = ReadManifest(root)
					case "Write":
						_, err = Write(root, bytesMap(c.new), c.scope)
						want = "new"
					}
					if err != nil {
						t.Fatalf("%s after the crash: %v", entry, err)
					}
					if got := snapshot(t, root); !maps.Equal(got, trees[want]) {
						t.Errorf("after %s: %q, want the %s tree %q", entry, got, want, trees[want])
					}
					if left := siblingNames(t, filepath.Dir(root)); len(left) != 0 {
						t.Errorf("left beside the root: %q", left)
					}
				})
			}
		}
	}
	testNoExchange = false
}
