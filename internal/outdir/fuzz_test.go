package outdir

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fuzzTree turns fuzz input into a desired tree: up to eight paths, one a
// line of spec, each with content followed by its index.
func fuzzTree(spec string, content []byte) map[string][]byte {
	tree := map[string][]byte{}
	for i, p := range strings.SplitN(spec, "\n", 8) {
		tree[p] = append(slices.Clip(content), strconv.Itoa(i)...)
	}
	return tree
}

// fuzzValid reports whether Write must accept tree: every path passes
// CheckPath and none is the directory of another.
func fuzzValid(tree map[string][]byte) bool {
	for p := range tree {
		if CheckPath(p) != nil {
			return false
		}
		for d := range parentDirs(p) {
			if _, ok := tree[d]; ok {
				return false
			}
		}
	}
	return true
}

// FuzzWrite renders two trees from the fuzzer, one after the other, into a
// fresh out/ (holding a user file, and with inPlace a .git directory, so
// that both strategies are fuzzed). Each Write must refuse a tree with a bad
// path, leaving out/ as it was, or produce exactly the tree, manifest and
// user file; and nothing beside out/ may change.
func FuzzWrite(f *testing.F) {
	f.Add("a.yaml\nb/c.yaml", "b/c.yaml/d\na.yaml", []byte("x"), false)
	f.Add("clusters/acme/k.yaml\nenvironments/acme/p/x.yaml", "clusters/acme/k.yaml", []byte("kind: A\n"), true)
	f.Add("../escape", "a/../../escape", []byte("x"), false)
	f.Add("a\na/b", "/abs\nok", []byte{}, true)
	f.Add(".katonic-generated", ".katonic-staging/x\n.katonic-journal", []byte("m"), false)
	f.Add("user.txt", "x//y\n.\nz\\w", []byte("u"), false)
	f.Add("dir/f", "dir", []byte("swap a directory for a file"), true)
	f.Fuzz(func(t *testing.T, first, second string, content []byte, inPlace bool) {
		base := t.TempDir()
		root := filepath.Join(base, "out")
		must(t, os.WriteFile(filepath.Join(base, "victim"), []byte("outside"), 0o644))
		user := map[string]string{"user.txt": "mine"}
		if inPlace {
			user[".git/HEAD"] = "ref"
		}
		writeTree(t, root, user)
		for _, spec := range []string{first, second} {
			desired := fuzzTree(spec, content)
			before := snapshot(t, root)
			_, err := Write(root, desired, nil)
			valid := fuzzValid(desired)
			conflict := false // a desired path meets a user file: refused, rightly
			for p := range desired {
				for u := range user {
					if p == u || strings.HasPrefix(u, p+"/") || strings.HasPrefix(p, u+"/") {
						conflict = true
					}
				}
				for _, seg := range strings.Split(p, "/") {
					if len(seg) > 255 {
						conflict = true // the file system's limit
					}
				}
			}
			switch {
			case !valid && err == nil:
				t.Fatalf("Write accepted %q", slices.Sorted(maps.Keys(desired)))
			case valid && !conflict && err != nil:
				t.Fatalf("Write refused %q: %v", slices.Sorted(maps.Keys(desired)), err)
			case err != nil:
				if after := snapshot(t, root); !maps.Equal(after, before) {
					t.Fatalf("a refused Write (%v) changed out/:\nbefore %q\nafter  %q", err, before, after)
				}
			default:
				want := maps.Clone(user)
				for p, b := range desired {
					want[p] = string(b)
				}
				if got := readTree(t, root); !maps.Equal(got, want) {
					t.Fatalf("tree\n got %q\nwant %q", got, want)
				}
				m, err := ReadManifest(root)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := slices.Sorted(maps.Keys(m)), slices.Sorted(maps.Keys(desired)); !slices.Equal(got, want) {
					t.Fatalf("manifest lists %q, want %q", got, want)
				}
				if changes, err := Plan(root, desired, nil); err != nil || len(changes) != 0 {
					t.Fatalf("Plan after Write: %q, %v", changeStrings(changes), err)
				}
			}
			ents, _ := os.ReadDir(base)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if !slices.Equal(names, []string{"out", "victim"}) {
				t.Fatalf("beside out/: %q", names)
			}
			if b, _ := os.ReadFile(filepath.Join(base, "victim")); string(b) != "outside" {
				t.Fatalf("a file outside out/ changed: %q", b)
			}
		}
	})
}
