package outdir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// dirMark is the value readTree gives an empty directory.
const dirMark = "<empty dir>"

// writeTree creates files under root (slash path -> content); a path ending in
// "/" is an empty directory.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		name := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(name, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree returns every file under root (slash path -> content), with empty
// directories as "dir/" -> dirMark. The manifest is left out.
func readTree(t *testing.T, root string) map[string]string {
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
		switch {
		case rel == "." || rel == ManifestName:
		case d.IsDir():
			if ents, _ := os.ReadDir(name); len(ents) == 0 {
				tree[rel+"/"] = dirMark
			}
		default:
			b, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			tree[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// manifestText builds a manifest listing the given files with their hashes,
// independently of formatManifest.
func manifestText(files map[string]string) string {
	var b strings.Builder
	b.WriteString(manifestHeader + "\n")
	for _, p := range slices.Sorted(maps.Keys(files)) {
		b.WriteString(hashHex([]byte(files[p])) + "  " + p + "\n")
	}
	return b.String()
}

func bytesMap(m map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

func changeStrings(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind.String()+" "+c.Path)
	}
	return out
}

func TestPlanAndWrite(t *testing.T) {
	tests := []struct {
		name    string
		noRoot  bool              // root does not exist
		disk    map[string]string // files on disk before, not generated
		owned   map[string]string // generated files: on disk and in the manifest
		listed  map[string]string // in the manifest only (content gives the hash)
		desired map[string]string
		scope   Scope

		want         []string          // changes, "<kind> <path>"
		wantErr      string            // substring; then the tree must be unchanged
		wantTree     map[string]string // whole tree after Write, manifest aside
		wantOwned    []string          // manifest paths after Write
		wantOwnerErr []string          // paths in the *OwnershipError
	}{{
		name:      "fresh render into a missing root",
		noRoot:    true,
		desired:   map[string]string{"clusters/acme/flux.yaml": "a", "README.md": "r"},
		want:      []string{"added README.md", "added clusters/acme/flux.yaml"},
		wantTree:  map[string]string{"clusters/acme/flux.yaml": "a", "README.md": "r"},
		wantOwned: []string{"README.md", "clusters/acme/flux.yaml"},
	}, {
		name:      "changed content",
		owned:     map[string]string{"a.yaml": "old"},
		desired:   map[string]string{"a.yaml": "new"},
		want:      []string{"changed a.yaml"},
		wantTree:  map[string]string{"a.yaml": "new"},
		wantOwned: []string{"a.yaml"},
	}, {
		name:      "unchanged content",
		owned:     map[string]string{"a.yaml": "same", "b/c.yaml": "same"},
		desired:   map[string]string{"a.yaml": "same", "b/c.yaml": "same"},
		want:      nil,
		wantTree:  map[string]string{"a.yaml": "same", "b/c.yaml": "same"},
		wantOwned: []string{"a.yaml", "b/c.yaml"},
	}, {
		name:      "stale generated files are removed with the directories they emptied",
		owned:     map[string]string{"a.yaml": "a", "b/c.yaml": "c", "d/e/f/g.yaml": "g", "d/keep.yaml": "k"},
		desired:   map[string]string{"a.yaml": "a", "d/keep.yaml": "k"},
		want:      []string{"removed b/c.yaml", "removed d/e/f/g.yaml"},
		wantTree:  map[string]string{"a.yaml": "a", "d/keep.yaml": "k"},
		wantOwned: []string{"a.yaml", "d/keep.yaml"},
	}, {
		name:      "full render removes everything no longer generated but keeps the root",
		owned:     map[string]string{"x/y.yaml": "y"},
		desired:   nil,
		want:      []string{"removed x/y.yaml"},
		wantTree:  map[string]string{},
		wantOwned: nil,
	}, {
		name:  "scoped render keeps entries outside the scope",
		owned: map[string]string{"clusters/acme/old.yaml": "o", "clusters/acme/same.yaml": "s", "clusters/beta/b.yaml": "b", "environments/beta/e.yaml": "e", "top.yaml": "t"},
		desired: map[string]string{
			"clusters/acme/same.yaml":  "s",
			"clusters/acme/new.yaml":   "n",
			"environments/acme/e.yaml": "ea",
		},
		scope: Scope{"clusters/acme/", "environments/acme/"},
		want:  []string{"added clusters/acme/new.yaml", "removed clusters/acme/old.yaml", "added environments/acme/e.yaml"},
		wantTree: map[string]string{
			"clusters/acme/same.yaml": "s", "clusters/acme/new.yaml": "n", "environments/acme/e.yaml": "ea",
			"clusters/beta/b.yaml": "b", "environments/beta/e.yaml": "e", "top.yaml": "t",
		},
		wantOwned: []string{"clusters/acme/new.yaml", "clusters/acme/same.yaml", "clusters/beta/b.yaml", "environments/acme/e.yaml", "environments/beta/e.yaml", "top.yaml"},
	}, {
		name:      "scope prefix is a directory, not a string prefix",
		owned:     map[string]string{"clusters/acme-prod/p.yaml": "p", "clusters/acme/a.yaml": "a"},
		desired:   map[string]string{},
		scope:     Scope{"clusters/acme/"},
		want:      []string{"removed clusters/acme/a.yaml"},
		wantTree:  map[string]string{"clusters/acme-prod/p.yaml": "p"},
		wantOwned: []string{"clusters/acme-prod/p.yaml"},
	}, {
		name:         "user file in the way is never overwritten",
		disk:         map[string]string{"a.yaml": "mine", "b.yaml": "mine too"},
		owned:        map[string]string{"c.yaml": "c"},
		desired:      map[string]string{"a.yaml": "gen", "b.yaml": "gen", "c.yaml": "c2", "d.yaml": "d"},
		wantOwnerErr: []string{"a.yaml", "b.yaml"},
		wantErr:      "not generated by katonic",
	}, {
		name:      "user files are left alone by stale cleanup",
		disk:      map[string]string{"gen/notes.txt": "mine", "mine.txt": "mine", "emptydir/": ""},
		owned:     map[string]string{"gen/a.yaml": "a", "gen/sub/b.yaml": "b"},
		desired:   map[string]string{},
		want:      []string{"removed gen/a.yaml", "removed gen/sub/b.yaml"},
		wantTree:  map[string]string{"gen/notes.txt": "mine", "mine.txt": "mine", "emptydir/": dirMark},
		wantOwned: nil,
	}, {
		name:      "a directory emptied of generated files but holding a user file stays",
		disk:      map[string]string{"d/e/user.txt": "mine"},
		owned:     map[string]string{"d/e/gen.yaml": "g"},
		desired:   map[string]string{"x.yaml": "x"},
		want:      []string{"removed d/e/gen.yaml", "added x.yaml"},
		wantTree:  map[string]string{"d/e/user.txt": "mine", "x.yaml": "x"},
		wantOwned: []string{"x.yaml"},
	}, {
		name:      "a pre-existing empty directory beside a stale file is not removed",
		disk:      map[string]string{"d/empty/": ""},
		owned:     map[string]string{"d/gen.yaml": "g"},
		desired:   map[string]string{},
		want:      []string{"removed d/gen.yaml"},
		wantTree:  map[string]string{"d/empty/": dirMark},
		wantOwned: nil,
	}, {
		name:      "listed in the manifest but missing on disk is added",
		listed:    map[string]string{"a.yaml": "a"},
		desired:   map[string]string{"a.yaml": "a"},
		want:      []string{"added a.yaml"},
		wantTree:  map[string]string{"a.yaml": "a"},
		wantOwned: []string{"a.yaml"},
	}, {
		name:      "stale entry already gone from disk is dropped from the manifest",
		listed:    map[string]string{"gone/a.yaml": "a"},
		disk:      map[string]string{"gone/user.txt": "u"},
		desired:   map[string]string{},
		want:      []string{"removed gone/a.yaml"},
		wantTree:  map[string]string{"gone/user.txt": "u"},
		wantOwned: nil,
	}, {
		name:      "a desired file replaces a directory of stale generated files",
		owned:     map[string]string{"a/b.yaml": "b", "a/c/d.yaml": "d"},
		desired:   map[string]string{"a": "file now"},
		want:      []string{"added a", "removed a/b.yaml", "removed a/c/d.yaml"},
		wantTree:  map[string]string{"a": "file now"},
		wantOwned: []string{"a"},
	}, {
		name:    "a desired file cannot replace a directory holding a user file",
		disk:    map[string]string{"a/user.txt": "mine"},
		owned:   map[string]string{"a/b.yaml": "b"},
		desired: map[string]string{"a": "file now"},
		wantErr: "a: is a directory on disk that holds files or directories katonic does not remove",
	}, {
		name:      "a desired file goes below a stale generated file",
		owned:     map[string]string{"a": "file"},
		desired:   map[string]string{"a/b.yaml": "b"},
		want:      []string{"removed a", "added a/b.yaml"},
		wantTree:  map[string]string{"a/b.yaml": "b"},
		wantOwned: []string{"a/b.yaml"},
	}, {
		name:    "a user file where a directory is needed",
		disk:    map[string]string{"a": "mine"},
		desired: map[string]string{"a/b.yaml": "b"},
		wantErr: `a/b.yaml: cannot be created: a is a file`,
	}, {
		name:    "desired path outside the scope",
		desired: map[string]string{"clusters/beta/x.yaml": "x"},
		scope:   Scope{"clusters/acme/"},
		wantErr: `clusters/beta/x.yaml: is outside the render scope ["clusters/acme/"]`,
	}, {
		name:    "desired path that is not clean",
		desired: map[string]string{"clusters/../x.yaml": "x"},
		wantErr: `clusters/../x.yaml: path has a ".." segment`,
	}, {
		name:    "desired path is the manifest",
		desired: map[string]string{ManifestName: "x"},
		wantErr: "path is the ownership manifest",
	}, {
		name:    "desired file inside another desired file",
		desired: map[string]string{"a": "x", "a/b": "y"},
		wantErr: "a/b: is inside a, which is also a desired file",
	}, {
		name:    "empty non-nil scope",
		desired: map[string]string{},
		scope:   Scope{},
		wantErr: "empty scope",
	}, {
		name:    "scope prefix without a trailing slash",
		desired: map[string]string{},
		scope:   Scope{"clusters/acme"},
		wantErr: `clusters/acme: scope prefix must end with "/"`,
	}, {
		name:    "scope prefix escaping the root",
		desired: map[string]string{},
		scope:   Scope{"../"},
		wantErr: `../: invalid scope prefix: path has a ".." segment`,
	}, {
		name:    "manifest entry that is a directory on disk",
		listed:  map[string]string{"d": "x"},
		disk:    map[string]string{"d/user.txt": "mine"},
		desired: map[string]string{},
		wantErr: "d: is listed in .katonic-generated as a generated file but is a directory on disk",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "out")
			if !tt.noRoot {
				writeTree(t, root, tt.disk)
				writeTree(t, root, tt.owned)
				listed := maps.Clone(tt.owned)
				if listed == nil {
					listed = map[string]string{}
				}
				maps.Copy(listed, tt.listed)
				if len(listed) > 0 {
					writeTree(t, root, map[string]string{ManifestName: manifestText(listed)})
				} else if err := os.MkdirAll(root, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			before := readTree(t, root)
			beforeManifest, _ := os.ReadFile(filepath.Join(root, ManifestName))
			desired := bytesMap(tt.desired)

			for _, op := range []struct {
				name string
				fn   func(string, map[string][]byte, Scope) ([]Change, error)
			}{{"Plan", Plan}, {"Write", Write}} {
				got, err := op.fn(root, desired, tt.scope)
				if tt.wantErr != "" || tt.wantOwnerErr != nil {
					if err == nil {
						t.Fatalf("%s: got changes %q, want error containing %q", op.name, changeStrings(got), tt.wantErr)
					}
					if !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("%s: error %q does not contain %q", op.name, err, tt.wantErr)
					}
					var oe *OwnershipError
					if tt.wantOwnerErr != nil && (!errors.As(err, &oe) || !slices.Equal(oe.Paths, tt.wantOwnerErr)) {
						t.Fatalf("%s: error %#v, want *OwnershipError for %q", op.name, err, tt.wantOwnerErr)
					}
					if got != nil {
						t.Errorf("%s: got changes %q with an error", op.name, changeStrings(got))
					}
					if after := readTree(t, root); !maps.Equal(after, before) {
						t.Errorf("%s failed but changed the tree:\nbefore %q\nafter  %q", op.name, before, after)
					}
					if m, _ := os.ReadFile(filepath.Join(root, ManifestName)); string(m) != string(beforeManifest) {
						t.Errorf("%s failed but changed the manifest", op.name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", op.name, err)
				}
				if !slices.Equal(changeStrings(got), tt.want) {
					t.Errorf("%s: changes\n got %q\nwant %q", op.name, changeStrings(got), tt.want)
				}
			}
			if tt.wantErr != "" || tt.wantOwnerErr != nil {
				return
			}
			if after := readTree(t, root); !maps.Equal(after, tt.wantTree) {
				t.Errorf("tree after Write\n got %q\nwant %q", after, tt.wantTree)
			}
			owned, err := ReadManifest(root)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(owned)); !slices.Equal(got, tt.wantOwned) {
				t.Errorf("manifest after Write lists %q, want %q", got, tt.wantOwned)
			}
			for p, sum := range owned {
				if b, err := os.ReadFile(filepath.Join(root, p)); err == nil && hashHex(b) != sum {
					t.Errorf("manifest hash for %s does not match the file", p)
				}
			}
			// A second render of the same input changes nothing.
			again, err := Plan(root, desired, tt.scope)
			if err != nil || len(again) != 0 {
				t.Errorf("Plan after Write: %q, %v; want no changes", changeStrings(again), err)
			}
		})
	}
}

func TestManifestFormat(t *testing.T) {
	root := t.TempDir()
	_, err := Write(root, bytesMap(map[string]string{"b/c.yaml": "c\n", "a.yaml": "a\n"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	want := manifestHeader + "\n" +
		"87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7  a.yaml\n" +
		"a3a5e715f0cc574a73c3f9bebb6bc24f32ffd5b67b387244c2c909da779a1478  b/c.yaml\n"
	if string(got) != want {
		t.Errorf("manifest\n got %q\nwant %q", got, want)
	}
	if !strings.HasPrefix(manifestHeader, "# ") || strings.Contains(manifestHeader, "\n") {
		t.Errorf("header %q is not one comment line", manifestHeader)
	}
	for _, name := range []string{"a.yaml", "b/c.yaml"} {
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", name, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(filepath.Join(root, "b")); fi.Mode().Perm()&^0o755 != 0 {
		t.Errorf("directory b has mode %v, want at most 0755", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.Contains(e.Name(), "katonic-tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWriteLeavesUnchangedFilesAlone(t *testing.T) {
	root := t.TempDir()
	desired := bytesMap(map[string]string{"a.yaml": "a", "b/c.yaml": "c"})
	if _, err := Write(root, desired, nil); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	names := []string{"a.yaml", "b/c.yaml", ManifestName}
	for _, n := range names {
		if err := os.Chtimes(filepath.Join(root, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	desired["d.yaml"] = []byte("d") // a change elsewhere rewrites the manifest only
	changes, err := Write(root, desired, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := changeStrings(changes); !slices.Equal(got, []string{"added d.yaml"}) {
		t.Fatalf("changes %q", got)
	}
	for _, n := range names[:2] {
		fi, err := os.Stat(filepath.Join(root, n))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s was rewritten: mtime %v", n, fi.ModTime())
		}
	}
	// Same input again: nothing at all is written, not even the manifest.
	for _, n := range append(names, "d.yaml") {
		if err := os.Chtimes(filepath.Join(root, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if changes, err := Write(root, desired, nil); err != nil || len(changes) != 0 {
		t.Fatalf("second Write: %q, %v", changeStrings(changes), err)
	}
	for _, n := range append(names, "d.yaml") {
		fi, _ := os.Stat(filepath.Join(root, n))
		if !fi.ModTime().Equal(old) {
			t.Errorf("%s was rewritten by an unchanged render", n)
		}
	}
}

func TestSymlinksAreRefused(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, root, outside string)
		desired map[string]string
		wantErr string
	}{{
		name: "parent directory is a link to outside",
		setup: func(t *testing.T, root, outside string) {
			must(t, os.Symlink(outside, filepath.Join(root, "clusters")))
		},
		desired: map[string]string{"clusters/acme/x.yaml": "x"},
		wantErr: "clusters/acme/x.yaml: its parent clusters is a symbolic link",
	}, {
		name: "deeper parent is a relative link to outside",
		setup: func(t *testing.T, root, outside string) {
			must(t, os.MkdirAll(filepath.Join(root, "a"), 0o755))
			must(t, os.Symlink("../../outside", filepath.Join(root, "a", "b")))
		},
		desired: map[string]string{"a/b/x.yaml": "x"},
		wantErr: "a/b/x.yaml: its parent a/b is a symbolic link",
	}, {
		name: "generated file replaced by a link to outside",
		setup: func(t *testing.T, root, outside string) {
			must(t, os.WriteFile(filepath.Join(outside, "x.yaml"), []byte("victim"), 0o644))
			must(t, os.Symlink(filepath.Join(outside, "x.yaml"), filepath.Join(root, "x.yaml")))
			must(t, os.WriteFile(filepath.Join(root, ManifestName), []byte(manifestText(map[string]string{"x.yaml": "x"})), 0o644))
		},
		desired: map[string]string{"x.yaml": "overwritten"},
		wantErr: "x.yaml: is a symbolic link",
	}, {
		name: "stale entry reached through a link is not removed",
		setup: func(t *testing.T, root, outside string) {
			must(t, os.WriteFile(filepath.Join(outside, "x.yaml"), []byte("victim"), 0o644))
			must(t, os.Symlink(outside, filepath.Join(root, "link")))
			must(t, os.WriteFile(filepath.Join(root, ManifestName), []byte(manifestText(map[string]string{"link/x.yaml": "victim"})), 0o644))
		},
		desired: map[string]string{},
		wantErr: "link/x.yaml: its parent link is a symbolic link",
	}, {
		name: "manifest is a link",
		setup: func(t *testing.T, root, outside string) {
			must(t, os.WriteFile(filepath.Join(outside, "m"), []byte(manifestText(map[string]string{"x.yaml": "x"})), 0o644))
			must(t, os.Symlink(filepath.Join(outside, "m"), filepath.Join(root, ManifestName)))
		},
		desired: map[string]string{"y.yaml": "y"},
		wantErr: ManifestName + ": ownership manifest is a symbolic link",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "repo", "out")
			outside := filepath.Join(base, "outside")
			must(t, os.MkdirAll(root, 0o755))
			must(t, os.MkdirAll(outside, 0o755))
			tt.setup(t, root, outside)
			before := readTree(t, outside)
			_, err := Write(root, bytesMap(tt.desired), nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Write error %v, want one containing %q", err, tt.wantErr)
			}
			if after := readTree(t, outside); !maps.Equal(after, before) {
				t.Errorf("Write changed files outside the root:\nbefore %q\nafter  %q", before, after)
			}
			if _, err := os.Lstat(filepath.Join(base, "repo", "clusters")); err == nil {
				t.Errorf("Write created files beside the root")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestManifestTampering(t *testing.T) {
	h := hashHex([]byte("x"))
	tests := []struct {
		name     string
		manifest string
		wantErr  string // "" means the manifest is accepted
	}{
		{"parent escape", h + "  ../victim.yaml\n", `.katonic-generated:1: invalid entry: ../victim.yaml: path has a ".." segment`},
		{"inner escape", manifestHeader + "\n" + h + "  a/../../victim.yaml\n", `.katonic-generated:2: invalid entry: a/../../victim.yaml: path has a ".." segment`},
		{"absolute", h + "  /etc/passwd\n", ".katonic-generated:1: invalid entry: /etc/passwd: path is absolute"},
		{"backslash", h + `  ..\victim.yaml` + "\n", ".katonic-generated:1: invalid entry: ..\\victim.yaml: path contains a backslash"},
		{"the manifest itself", h + "  " + ManifestName + "\n", "path is the ownership manifest"},
		{"short hash", "abc  a.yaml\n", `.katonic-generated:1: malformed entry "abc  a.yaml"`},
		{"upper-case hash", strings.ToUpper(h) + "  a.yaml\n", "malformed entry"},
		{"one space", h + " a.yaml\n", "malformed entry"},
		{"duplicate", h + "  a.yaml\n" + h + "  a.yaml\n", ".katonic-generated:2: duplicate entry for a.yaml (first on line 1)"},
		{"file and directory", h + "  a\n" + h + "  a/b\n", ".katonic-generated:1: entry a is listed as a file but is also the directory of entry a/b (line 2)"},
		// The first conflict in line order, whatever the map's order.
		{"two files and directories", h + "  a\n" + h + "  c\n" + h + "  c/d\n" + h + "  a/b\n",
			".katonic-generated:2: entry c is listed as a file but is also the directory of entry c/d (line 3)"},
		{"CRLF checkout", manifestHeader + "\r\n" + h + "  a.yaml\r\n", ""},
		{"comments and blank lines", "# one\n\n# two\n" + h + "  a.yaml\n\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "out")
			must(t, os.MkdirAll(root, 0o755))
			must(t, os.WriteFile(filepath.Join(base, "victim.yaml"), []byte("x"), 0o644))
			must(t, os.WriteFile(filepath.Join(root, ManifestName), []byte(tt.manifest), 0o644))
			_, planErr := Plan(root, nil, nil)
			_, writeErr := Write(root, nil, nil)
			_, readErr := ReadManifest(root)
			for _, err := range []error{planErr, writeErr, readErr} {
				switch {
				case tt.wantErr == "" && err != nil:
					t.Errorf("unexpected error: %v", err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
			}
			if _, err := os.Stat(filepath.Join(base, "victim.yaml")); err != nil {
				t.Errorf("file outside the root was removed: %v", err)
			}
		})
	}
}

func TestChangeKind(t *testing.T) {
	for k, want := range map[ChangeKind]string{Added: "added", Changed: "changed", Removed: "removed", 0: "ChangeKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
	b, err := json.Marshal([]Change{{"a.yaml", Added}, {"b.yaml", Removed}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"path":"a.yaml","kind":"added"},{"path":"b.yaml","kind":"removed"}]`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	if _, err := json.Marshal(Change{"a", 7}); err == nil {
		t.Error("invalid ChangeKind marshalled without error")
	}
}

func TestOwnershipErrorMessage(t *testing.T) {
	one := (&OwnershipError{Paths: []string{"clusters/acme/x.yaml"}}).Error()
	if want := "clusters/acme/x.yaml: exists in the output directory but was not generated by katonic (not listed in .katonic-generated); refusing to overwrite it: move or delete it"; one != want {
		t.Errorf("got  %q\nwant %q", one, want)
	}
	two := (&OwnershipError{Paths: []string{"a", "b c"}}).Error()
	if !strings.HasPrefix(two, "2 files exist") || !strings.HasSuffix(two, "\n\ta\n\t\"b c\"") {
		t.Errorf("got %q", two)
	}
}

// TestFailedWriteLeavesOldTree: a Write that fails half way (here, writing
// one file of the new tree) leaves the tree exactly as it was, with both
// strategies, and the next Write does the whole render.
func TestFailedWriteLeavesOldTree(t *testing.T) {
	for _, inPlace := range []bool{false, true} {
		t.Run(map[bool]string{false: "swap", true: "in place"}[inPlace], func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "out")
			must(t, os.MkdirAll(root, 0o755))
			must(t, os.WriteFile(filepath.Join(root, "user.txt"), []byte("mine"), 0o644))
			if inPlace {
				must(t, os.Mkdir(filepath.Join(root, ".git"), 0o755))
			}
			if _, err := Write(root, bytesMap(map[string]string{"old/x.yaml": "x"}), nil); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, root)
			desired := bytesMap(map[string]string{"a.yaml": "a", "b/b.yaml": "b", "c.yaml": "c"})
			setHook(t, func(event, p string) error {
				if event == "stage" && p == "b/b.yaml" {
					return errors.New("disk full")
				}
				return nil
			})
			_, err := Write(root, desired, nil)
			testHook = nil
			if err == nil || err.Error() != "disk full" {
				t.Fatalf("interrupted Write: %v", err)
			}
			if after := snapshot(t, root); !maps.Equal(after, before) {
				t.Fatalf("a failed Write changed the tree:\nbefore %q\nafter  %q", before, after)
			}
			if got := siblingNames(t, base); len(got) != 0 {
				t.Errorf("a failed Write left %q beside the root", got)
			}
			changes, err := Write(root, desired, nil)
			if err != nil {
				t.Fatalf("Write after a failed one: %v", err)
			}
			if got, want := changeStrings(changes), []string{"added a.yaml", "added b/b.yaml", "added c.yaml", "removed old/x.yaml"}; !slices.Equal(got, want) {
				t.Errorf("changes %q, want %q", got, want)
			}
			want := map[string]string{"user.txt": "mine", "a.yaml": "a", "b/b.yaml": "b", "c.yaml": "c"}
			if inPlace {
				want[".git/"] = dirMark
			}
			if got := readTree(t, root); !maps.Equal(got, want) {
				t.Errorf("tree %q, want %q", got, want)
			}
			owned, _ := ReadManifest(root)
			if got := slices.Sorted(maps.Keys(owned)); !slices.Equal(got, []string{"a.yaml", "b/b.yaml", "c.yaml"}) {
				t.Errorf("manifest lists %q", got)
			}
		})
	}
}

// TestIsManifestOf: comparing a manifest with the entries it should list,
// without formatting them, agrees with formatting and comparing, for the
// manifest itself, every prefix of it, it with a byte more, and every
// single byte changed.
func TestIsManifestOf(t *testing.T) {
	entries := map[string]string{
		"clusters/e/a.yaml":         hashHex([]byte("a")),
		"environments/e/b c.yaml":   hashHex([]byte("b")),
		"environments/e/sub/d.yaml": hashHex(nil),
	}
	paths := slices.Sorted(maps.Keys(entries))
	want := formatManifestSorted(paths, entries)
	if !isManifestOf(want, paths, entries) {
		t.Fatal("the manifest itself does not match")
	}
	check := func(name string, raw []byte) {
		t.Helper()
		if got, exp := isManifestOf(raw, paths, entries), bytes.Equal(raw, want); got != exp {
			t.Errorf("%s: isManifestOf = %v, bytes.Equal = %v", name, got, exp)
		}
	}
	for i := range want {
		check(fmt.Sprintf("cut at %d", i), want[:i])
		spoilt := bytes.Clone(want)
		spoilt[i] ^= 0x20
		check(fmt.Sprintf("byte %d changed", i), spoilt)
	}
	check("a byte more", append(bytes.Clone(want), '\n'))
	check("no entries", formatManifestSorted(nil, nil))
}
