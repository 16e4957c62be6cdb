package outdir

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hashesOf returns the SHA-256 of each file of tree.
func hashesOf(tree map[string]string) map[string]string {
	out := make(map[string]string, len(tree))
	for p, c := range tree {
		out[p] = hashHex([]byte(c))
	}
	return out
}

// countReads installs a testHook that counts the generated files read for
// their hash, and returns the counter.
func countReads(t *testing.T) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	setHook(t, func(ev, p string) error {
		if ev == "read" {
			n.Add(1)
		}
		return nil
	})
	return &n
}

// waitSettled sleeps until files changed before the call are settled for
// the stat cache (their ctime is before refTime).
func waitSettled() {
	start := time.Now().UnixNano()
	for refTime(0) <= start {
		time.Sleep(50 * time.Millisecond)
	}
}

// statCacheEdits are the ways a user changes a generated file behind
// katonic's back: each must be seen through the stat cache.
var statCacheEdits = []struct {
	name string
	edit func(t *testing.T, name string)
}{
	{"nothing", func(t *testing.T, name string) {}},
	{"same size edit in place", func(t *testing.T, name string) {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		must(t, err)
		_, err = f.WriteAt([]byte("X"), 0)
		must(t, err)
		must(t, f.Close())
	}},
	{"same size edit in place, mtime restored (touch -d)", func(t *testing.T, name string) {
		fi, err := os.Stat(name)
		must(t, err)
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		must(t, err)
		_, err = f.WriteAt([]byte("Y"), 0)
		must(t, err)
		must(t, f.Close())
		must(t, os.Chtimes(name, fi.ModTime(), fi.ModTime()))
	}},
	{"replaced by another file of the same size and mtime", func(t *testing.T, name string) {
		fi, err := os.Stat(name)
		must(t, err)
		b, err := os.ReadFile(name)
		must(t, err)
		b[0] = 'Z'
		tmp := name + ".new"
		must(t, os.WriteFile(tmp, b, 0o644))
		must(t, os.Chtimes(tmp, fi.ModTime(), fi.ModTime()))
		must(t, os.Rename(tmp, name))
	}},
	{"truncated", func(t *testing.T, name string) { must(t, os.Truncate(name, 0)) }},
	{"appended to", func(t *testing.T, name string) {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		must(t, err)
		_, err = f.WriteString("more\n")
		must(t, err)
		must(t, f.Close())
	}},
	{"deleted", func(t *testing.T, name string) { must(t, os.Remove(name)) }},
	{"mode changed only", func(t *testing.T, name string) { must(t, os.Chmod(name, 0o600)) }},
	{"replaced by a symbolic link to the same content", func(t *testing.T, name string) {
		b, err := os.ReadFile(name)
		must(t, err)
		must(t, os.WriteFile(name+".real", b, 0o644))
		must(t, os.Remove(name))
		must(t, os.Symlink(filepath.Base(name)+".real", name))
	}},
	{"replaced by a directory", func(t *testing.T, name string) {
		must(t, os.Remove(name))
		must(t, os.MkdirAll(filepath.Join(name, "sub"), 0o755))
	}},
}

// TestStatCacheAgreesWithoutIt: after the stat cache was made and trusted
// (a second check reads no file), a user edit of each kind, made at once, in
// the same second, gives Plan, UpToDate and Write exactly the results they
// have without the cache, and Write repairs the file.
func TestStatCacheAgreesWithoutIt(t *testing.T) {
	tree := map[string]string{
		"clusters/e1/kustomization.yaml": "kind: Kustomization\n",
		"clusters/e1/apps.yaml":          "kind: Kustomization\nname: apps\n",
		"environments/e1/a/release.yaml": "kind: HelmRelease\nname: a\n",
		"environments/e2/release.yaml":   "kind: HelmRelease\nname: b\n",
	}
	const victim = "environments/e1/a/release.yaml"
	scopes := map[string]Scope{"full": nil, "scoped": {"clusters/e1/", "environments/e1/"}}
	type rootCase struct{ root, cache string }
	roots := map[string]rootCase{}
	for _, ed := range statCacheEdits {
		for sn := range scopes {
			dir := t.TempDir()
			rc := rootCase{filepath.Join(dir, "out"), filepath.Join(dir, "cache", "stat")}
			writeTree(t, rc.root, map[string]string{"user.txt": "mine"})
			if _, err := Write(rc.root, bytesMap(tree), nil); err != nil {
				t.Fatal(err)
			}
			roots[ed.name+"/"+sn] = rc
		}
	}
	waitSettled() // once for every case
	for _, ed := range statCacheEdits {
		for sn, scope := range scopes {
			t.Run(ed.name+"/"+sn, func(t *testing.T) {
				rc := roots[ed.name+"/"+sn]
				reads := countReads(t)
				want := tree
				if scope != nil {
					want = maps.Clone(tree)
					delete(want, "environments/e2/release.yaml")
				}
				cached := Options{Scope: scope, StatCache: rc.cache}
				if ok, err := upToDate(rc.root, hashesOf(want), cached); !ok || err != nil {
					t.Fatalf("UpToDate before the edit: %v, %v", ok, err)
				}
				if n := reads.Load(); n != int64(len(want)) {
					t.Fatalf("the first check read %d files, want %d", n, len(want))
				}
				reads.Store(0)
				if ok, err := upToDate(rc.root, hashesOf(want), cached); !ok || err != nil {
					t.Fatalf("UpToDate with the cache: %v, %v", ok, err)
				}
				if changes, err := PlanWith(rc.root, bytesMap(want), cached); len(changes) != 0 || err != nil {
					t.Fatalf("Plan with the cache: %q, %v", changeStrings(changes), err)
				}
				if n := reads.Load(); n != 0 {
					t.Fatalf("checks with a warm cache read %d files, want none", n)
				}

				ed.edit(t, filepath.Join(rc.root, filepath.FromSlash(victim)))

				plain := Options{Scope: scope}
				wantChanges, wantErr := PlanWith(rc.root, bytesMap(want), plain)
				gotChanges, gotErr := PlanWith(rc.root, bytesMap(want), cached)
				if !slices.Equal(gotChanges, wantChanges) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("Plan with the cache: %q, %v; without: %q, %v", changeStrings(gotChanges), gotErr, changeStrings(wantChanges), wantErr)
				}
				ok, err := upToDate(rc.root, hashesOf(want), cached)
				if err != nil || ok != (wantErr == nil && len(wantChanges) == 0) {
					t.Fatalf("UpToDate with the cache after the edit: %v, %v; Plan without it: %q, %v", ok, err, changeStrings(wantChanges), wantErr)
				}
				if ed.name != "nothing" && ed.name != "mode changed only" && len(wantChanges) == 0 && wantErr == nil {
					t.Fatalf("the edit %q was not seen even without the cache", ed.name)
				}

				twin := filepath.Join(t.TempDir(), "out")
				linkCopy(t, rc.root, twin)
				wantChanges, wantErr = WriteWith(twin, bytesMap(want), plain)
				gotChanges, gotErr = WriteWith(rc.root, bytesMap(want), cached)
				if !slices.Equal(gotChanges, wantChanges) || fmt.Sprint(gotErr) != fmt.Sprint(strings.ReplaceAll(fmt.Sprint(wantErr), twin, rc.root)) {
					t.Fatalf("Write with the cache: %q, %v; without: %q, %v", changeStrings(gotChanges), gotErr, changeStrings(wantChanges), wantErr)
				}
				if got, want := snapshot(t, rc.root), snapshot(t, twin); !maps.Equal(got, want) {
					t.Fatalf("Write with the cache left\n%q\nwithout it\n%q", got, want)
				}
				if wantErr == nil {
					if ok, err := upToDate(rc.root, hashesOf(want), cached); !ok || err != nil {
						t.Fatalf("UpToDate after Write: %v, %v", ok, err)
					}
				}
			})
		}
	}
}

// TestStatCacheRacy: entries are trusted only once settled. A file whose
// ctime is not before the settling time is read again by every check, and
// an entry settles exactly when its ctime and mtime are before it.
func TestStatCacheRacy(t *testing.T) {
	dir := t.TempDir()
	root, cache := filepath.Join(dir, "out"), filepath.Join(dir, "stat")
	tree := map[string]string{"b.yaml": "b"}
	if _, err := Write(root, bytesMap(tree), nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, "b.yaml"))
	must(t, err)
	st, _ := statOf(fi)
	at := max(st.ctime, st.mtime)
	reads := countReads(t)
	var ref int64
	testRefTime = func() int64 { return ref }
	t.Cleanup(func() { testRefTime = nil })
	for _, step := range []struct {
		ref   int64
		reads []int64 // by each of two checks in a row
	}{
		{0, []int64{1, 1}},      // before the file's times: racy, never saved
		{at, []int64{1, 1}},     // at them: racy still
		{at + 1, []int64{1, 0}}, // after: settled, saved, trusted
	} {
		ref = step.ref
		must(t, os.RemoveAll(cache))
		for i, want := range step.reads {
			reads.Store(0)
			if ok, err := upToDate(root, hashesOf(tree), Options{StatCache: cache}); !ok || err != nil {
				t.Fatal(ok, err)
			}
			if n := reads.Load(); n != want {
				t.Errorf("settling time %d (file's %d), check %d: %d reads, want %d", ref, at, i+1, n, want)
			}
		}
	}

	// learn itself: settled strictly before ref, by ctime and by mtime.
	c := &statCache{next: map[string]statEntry{}, ref: 100}
	c.learn("ctime at", fileStat{ctime: 100, mtime: 50}, "s")
	c.learn("mtime at", fileStat{ctime: 50, mtime: 100}, "s")
	c.learn("before", fileStat{ctime: 99, mtime: 99}, "s")
	if got := slices.Sorted(maps.Keys(c.next)); !slices.Equal(got, []string{"before"}) {
		t.Errorf("settled entries %q, want only before", got)
	}
}

// TestStatCacheFile: a stat cache that is corrupt, unreadable, or made for
// another root (the same files under another name, or a root replaced by
// another directory) is ignored, never an error, and then rewritten.
func TestStatCacheFile(t *testing.T) {
	tree := map[string]string{"a/x.yaml": "x", "b.yaml": "b"}
	for _, tt := range []struct {
		name  string
		spoil func(t *testing.T, root, cache string) (newRoot string)
	}{
		{"garbage", func(t *testing.T, root, cache string) string {
			must(t, os.WriteFile(cache, []byte("\x00not a cache\n"), 0o644))
			return root
		}},
		{"cut short", func(t *testing.T, root, cache string) string {
			b, err := os.ReadFile(cache)
			must(t, err)
			must(t, os.WriteFile(cache, b[:len(b)-20], 0o644))
			return root
		}},
		{"a directory", func(t *testing.T, root, cache string) string {
			must(t, os.Remove(cache))
			must(t, os.Mkdir(cache, 0o755))
			return root
		}},
		{"root renamed", func(t *testing.T, root, cache string) string {
			moved := root + "2"
			must(t, os.Rename(root, moved))
			return moved
		}},
		{"root replaced", func(t *testing.T, root, cache string) string {
			moved := root + "2"
			must(t, os.Rename(root, moved))
			linkCopy(t, moved, root)
			return root
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			root, cache := filepath.Join(dir, "out"), filepath.Join(dir, "stat")
			if _, err := Write(root, bytesMap(tree), nil); err != nil {
				t.Fatal(err)
			}
			testRefTime = func() int64 { return time.Now().Add(time.Hour).UnixNano() }
			t.Cleanup(func() { testRefTime = nil })
			reads := countReads(t)
			opts := Options{StatCache: cache}
			if ok, err := upToDate(root, hashesOf(tree), opts); !ok || err != nil {
				t.Fatal(ok, err)
			}
			reads.Store(0)
			if ok, err := upToDate(root, hashesOf(tree), opts); !ok || err != nil || reads.Load() != 0 {
				t.Fatalf("warm: %v, %v, %d reads", ok, err, reads.Load())
			}
			root = tt.spoil(t, root, cache)
			reads.Store(0)
			if ok, err := upToDate(root, hashesOf(tree), opts); !ok || err != nil {
				t.Fatalf("after spoiling the cache: %v, %v", ok, err)
			}
			if n := reads.Load(); n != 2 {
				t.Errorf("a spoilt cache was trusted: %d reads, want 2", n)
			}
			if changes, err := PlanWith(root, bytesMap(tree), opts); len(changes) != 0 || err != nil {
				t.Errorf("Plan: %q, %v", changeStrings(changes), err)
			}
			if fi, err := os.Stat(cache); err == nil && !fi.IsDir() {
				reads.Store(0)
				if ok, err := upToDate(root, hashesOf(tree), opts); !ok || err != nil || reads.Load() != 0 {
					t.Errorf("the rewritten cache: %v, %v, %d reads", ok, err, reads.Load())
				}
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file %s left", e.Name())
				}
			}
		})
	}
}

// TestUpToDate: what UpToDate answers, without a stat cache, next to what
// Write would do.
func TestUpToDate(t *testing.T) {
	tree := map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b", "clusters/f/c.yaml": "c"}
	scope := Scope{"clusters/e/", "environments/e/"}
	inScope := map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b"}
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, root string)
		want  map[string]string
		scope Scope
		ok    bool
		err   string
	}{
		{"the same", nil, tree, nil, true, ""},
		{"the same, scoped", nil, inScope, scope, true, ""},
		{"a hash differs", nil, map[string]string{"clusters/e/a.yaml": "A", "environments/e/b.yaml": "b"}, scope, false, ""},
		{"a file more", nil, map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b", "clusters/e/new.yaml": "n"}, scope, false, ""},
		{"a file less", nil, map[string]string{"clusters/e/a.yaml": "a"}, scope, false, ""},
		{"file edited", func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, "clusters/e/a.yaml"), []byte("b"), 0o644))
		}, tree, nil, false, ""},
		{"file edited outside the scope", func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, "clusters/f/c.yaml"), []byte("x"), 0o644))
		}, inScope, scope, true, ""},
		{"manifest not canonical", func(t *testing.T, root string) {
			b, err := os.ReadFile(filepath.Join(root, ManifestName))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(root, ManifestName), append(b, "# note\n"...), 0o644))
		}, tree, nil, false, ""},
		{"manifest malformed", func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, ManifestName), []byte("nonsense\n"), 0o644))
		}, tree, nil, false, ManifestName + ":1"},
		{"journal left", func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, journalName), []byte(journalHeader+"\n"), 0o644))
		}, tree, nil, false, ""},
		{"staging left beside", func(t *testing.T, root string) {
			must(t, os.Mkdir(filepath.Join(filepath.Dir(root), ".out.katonic-stage-AAAAAAAAAA"), 0o755))
		}, tree, nil, false, ""},
		{"parent is a link", func(t *testing.T, root string) {
			must(t, os.Rename(filepath.Join(root, "clusters/e"), filepath.Join(root, "elsewhere")))
			must(t, os.Symlink("../elsewhere", filepath.Join(root, "clusters/e")))
		}, tree, nil, false, ""},
		{"root missing", func(t *testing.T, root string) { must(t, os.RemoveAll(root)) }, map[string]string{}, nil, false, ""},
		{"bad path", nil, map[string]string{"../x": "x"}, nil, false, `".." segment`},
		{"outside the scope", nil, tree, scope, false, "outside the render scope"},
		{"bad hash", nil, nil, nil, false, "not a SHA-256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "out")
			if _, err := Write(root, bytesMap(tree), nil); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, root)
			}
			want := hashesOf(tt.want)
			if tt.want == nil {
				want = map[string]string{"a": "ABC"}
			}
			ok, err := upToDate(root, want, Options{Scope: tt.scope})
			if ok != tt.ok || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("UpToDate: %v, %v; want %v, %q", ok, err, tt.ok, tt.err)
			}
			if tt.err != "" || errors.Is(err, os.ErrNotExist) {
				return
			}
			// True exactly when Write would write nothing (in out/ or
			// beside it).
			before := snapshot(t, filepath.Dir(root))
			var desired map[string][]byte
			if tt.want != nil {
				desired = bytesMap(tt.want)
			}
			changes, werr := WriteWith(root, desired, Options{Scope: tt.scope})
			if tt.ok && (werr != nil || len(changes) != 0 || !maps.Equal(snapshot(t, filepath.Dir(root)), before)) {
				t.Errorf("UpToDate said yes, but Write changed %q (%v)", changeStrings(changes), werr)
			}
			if !tt.ok && werr == nil && maps.Equal(snapshot(t, filepath.Dir(root)), before) {
				t.Errorf("UpToDate said no, but Write changed nothing")
			}
		})
	}
}

// TestStatCacheFormat: the file reads back as written, and any line cut
// short, or a number out of form, makes it unreadable (then ignored).
func TestStatCacheFormat(t *testing.T) {
	id := rootID{path: "/tmp/a \"b\"\n/out", dev: 7, ino: 1 << 40}
	entries := map[string]statEntry{
		"clusters/e/a b.yaml": {fileStat{size: 12, mtime: 1_700_000_000_123_456_789, ctime: 1_700_000_001_000_000_000, dev: 7, ino: 99}, hashHex([]byte("x"))},
		"z":                   {fileStat{}, hashHex(nil)},
	}
	raw := formatStatCache(id, entries)
	gotID, got, err := parseStatCache(string(raw))
	if err != nil || gotID != id || !maps.Equal(tableEntries(got), entries) {
		t.Fatalf("read back: %v, %v, %v", gotID, tableEntries(got), err)
	}
	for p := range entries {
		if i, ok := got.find(p); !ok || got.pathAt(i) != p {
			t.Errorf("find(%q) = %d, %v", p, i, ok)
		}
	}
	for _, p := range []string{"", "a", "clusters/e/a b.yaml0", "zz"} {
		if i, ok := got.find(p); ok {
			t.Errorf("find(%q) = %d, true", p, i)
		}
	}
	// findNext agrees with find, whatever the order of the lookups.
	next := 0
	for _, p := range []string{"clusters/e/a b.yaml", "z", "a", "z", "clusters/e/a b.yaml", "zz", "z"} {
		i, ok := got.find(p)
		if j, found := got.findNext(p, &next); j != i && ok || found != ok {
			t.Errorf("findNext(%q) = %d, %v; find %d, %v", p, j, found, i, ok)
		}
	}
	lines := strings.SplitAfter(string(raw), "\n")
	for i := range len(raw) - 1 {
		if _, _, err := parseStatCache(string(raw[:i])); err == nil && i > len(lines[0])+len(lines[1]) {
			// Cut at the end of a line, the rest is a smaller valid cache.
			if raw[i-1] != '\n' {
				t.Errorf("cut at %d: accepted", i)
			}
		}
	}
	for _, bad := range []string{" 01 ", " -1 ", " 1x ", " 99999999999999999999 "} {
		spoilt := strings.Replace(string(raw), " 12 ", bad, 1)
		if _, _, err := parseStatCache(spoilt); err == nil {
			t.Errorf("size %q accepted", bad)
		}
	}
	// Lines out of order, or a path twice, are not a stat cache katonic
	// wrote: binary search could not find their paths.
	swapped := lines[0] + lines[1] + lines[3] + lines[2]
	twice := lines[0] + lines[1] + lines[2] + lines[2]
	for name, bad := range map[string]string{"swapped": swapped, "twice": twice} {
		if _, _, err := parseStatCache(bad); err == nil {
			t.Errorf("%s lines accepted", name)
		}
	}
}

// TestCheck: where Check finds the drift, and that a Write scoped to the
// directories of the drifted paths then leaves the whole tree up to date
// (what katonic render relies on to write only the changed environments).
func TestCheck(t *testing.T) {
	tree := map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b", "clusters/f/c.yaml": "c"}
	edit := func(p, content string) func(t *testing.T, root string) {
		return func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(p)), []byte(content), 0o644))
		}
	}
	with := func(changes map[string]string) map[string]string {
		m := maps.Clone(tree)
		for p, c := range changes {
			if c == "" {
				delete(m, p)
			} else {
				m[p] = c
			}
		}
		return m
	}
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, root string)
		want  map[string]string
		whole bool
		paths []string
	}{
		{"the same", nil, tree, false, nil},
		{"a hash differs", nil, with(map[string]string{"clusters/e/a.yaml": "A"}), false, []string{"clusters/e/a.yaml"}},
		{"a file more", nil, with(map[string]string{"clusters/g/n.yaml": "n"}), false, []string{"clusters/g/n.yaml"}},
		{"a file less", nil, with(map[string]string{"environments/e/b.yaml": ""}), false, []string{"environments/e/b.yaml"}},
		{"file edited", edit("clusters/f/c.yaml", "x"), tree, false, []string{"clusters/f/c.yaml"}},
		{"file edited, another changed", edit("clusters/f/c.yaml", "x"), with(map[string]string{"environments/e/b.yaml": "B"}), false,
			[]string{"clusters/f/c.yaml", "environments/e/b.yaml"}},
		{"file removed", func(t *testing.T, root string) { must(t, os.Remove(filepath.Join(root, "environments/e/b.yaml"))) }, tree, false,
			[]string{"environments/e/b.yaml"}},
		{"parent is a link", func(t *testing.T, root string) {
			must(t, os.Rename(filepath.Join(root, "clusters/e"), filepath.Join(root, "elsewhere")))
			must(t, os.Symlink("../elsewhere", filepath.Join(root, "clusters/e")))
		}, tree, false, []string{"clusters/e/a.yaml"}},
		{"manifest not canonical", func(t *testing.T, root string) {
			b, err := os.ReadFile(filepath.Join(root, ManifestName))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(root, ManifestName), append(b, "# note\n"...), 0o644))
		}, tree, true, nil},
		{"manifest missing", func(t *testing.T, root string) { must(t, os.Remove(filepath.Join(root, ManifestName))) }, tree, true, nil},
		{"journal left", func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, journalName), []byte(journalHeader+"\n"), 0o644))
		}, tree, true, nil},
		{"root missing", func(t *testing.T, root string) { must(t, os.RemoveAll(root)) }, tree, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "out")
			if _, err := Write(root, bytesMap(tree), nil); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, root)
			}
			for _, cache := range []string{"", filepath.Join(t.TempDir(), "stat")} {
				d, err := Check(root, hashesOf(tt.want), Options{StatCache: cache})
				if err != nil || d.Whole != tt.whole || !slices.Equal(d.Paths, tt.paths) {
					t.Fatalf("Check (stat cache %q): %+v, %v; want whole %v, paths %q", cache, d, err, tt.whole, tt.paths)
				}
				// CheckSum answers when the manifest is the render's
				// (or there is none to compare), and then as Check does.
				sumOK := tt.name != "manifest not canonical" && (tt.whole || maps.Equal(tt.want, tree))
				d, ok, err := CheckSum(root, ManifestSum(hashesOf(tt.want)), Options{StatCache: cache})
				if err != nil || ok != sumOK || ok && (d.Whole != tt.whole || !slices.Equal(d.Paths, tt.paths)) || !ok && !reflect.DeepEqual(d, Drift{}) {
					t.Fatalf("CheckSum (stat cache %q): %+v, %v, %v; want ok %v, whole %v, paths %q", cache, d, ok, err, sumOK, tt.whole, tt.paths)
				}
				// CheckDelta answers from the tree written, the base,
				// as Check does, unless its manifest was edited.
				deltaOK := tt.name != "manifest not canonical"
				d, ok, err = CheckDelta(root, ManifestSum(hashesOf(tree)), Changes(hashesOf(tree), hashesOf(tt.want)), Options{StatCache: cache})
				if err != nil || ok != deltaOK || ok && (d.Whole != tt.whole || !slices.Equal(d.Paths, tt.paths)) || !ok && !reflect.DeepEqual(d, Drift{}) {
					t.Fatalf("CheckDelta (stat cache %q): %+v, %v, %v; want ok %v, whole %v, paths %q", cache, d, ok, err, deltaOK, tt.whole, tt.paths)
				}
			}
			if tt.whole {
				return
			}
			var scope Scope
			for _, p := range tt.paths {
				dir := strings.Join(strings.SplitN(p, "/", 3)[:2], "/") + "/"
				if !slices.Contains(scope, dir) {
					scope = append(scope, dir)
				}
			}
			slices.Sort(scope)
			desired := map[string][]byte{}
			for p, c := range tt.want {
				if scope.contains(p) {
					desired[p] = []byte(c)
				}
			}
			if len(scope) > 0 {
				if _, err := WriteWith(root, desired, Options{Scope: scope}); err != nil && tt.name != "parent is a link" {
					t.Fatalf("scoped Write: %v", err)
				}
			}
			if tt.name == "parent is a link" {
				return // Write refuses the link; what it says is TestUpToDate's and the kill tests' concern
			}
			if ok, err := upToDate(root, hashesOf(tt.want), Options{}); !ok || err != nil {
				t.Errorf("after a Write scoped to %q: UpToDate %v, %v", scope, ok, err)
			}
		})
	}
}

// TestStatCacheSaveMerges: a save keeps the lines read whose stat this call
// saw unchanged, or that lie outside the scope, adds the entries it
// learned in path order (a learned entry replaces the line read), and
// drops paths no longer in the manifest or whose file moved. When it
// would write what it read, it writes nothing.
func TestStatCacheSaveMerges(t *testing.T) {
	tg := &target{root: t.TempDir()}
	id, ok := currentRootID(tg)
	if !ok {
		t.Skip("this platform has no stat cache")
	}
	e := func(n int64) statEntry {
		return statEntry{fileStat{size: n, mtime: n, ctime: n, dev: 1, ino: uint64(n)}, hashHex([]byte{byte(n)})}
	}
	file := filepath.Join(t.TempDir(), "stat")
	old := map[string]statEntry{"a/1": e(1), "b/1": e(2), "b/2": e(3), "b/3": e(4), "b/4": e(5), "c/1": e(6), "c/2": e(7)}
	if err := os.WriteFile(file, formatStatCache(id, old), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := map[string]string{}
	for _, p := range []string{"a/1", "b/1", "b/2", "b/3", "b/25", "b/5", "c/2"} {
		manifest[p] = "h"
	}
	c := openStatCache(Options{StatCache: file}, tg, 0)
	if c.old.rows() != len(old) {
		t.Fatalf("read %d rows, want %d", c.old.rows(), len(old))
	}
	for _, p := range []string{"b/1", "b/3"} {
		i, _ := c.old.find(p)
		c.hit[i] = true
	}
	c.next["b/3"], c.next["b/25"], c.next["b/5"], c.next["gone"] = e(8), e(9), e(10), e(11)
	c.save(tg, listedIn(manifest), Scope{"b/", "c/"}, func(p string) bool { return p == "c/2" })

	read := prefetchFile(file, maxStatCache)
	if !read.ok {
		t.Fatal("the stat cache saved cannot be read")
	}
	_, got, err := parseStatCache(read.data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]statEntry{
		"a/1":  e(1),  // outside the scope: kept as read
		"b/1":  e(2),  // seen unchanged
		"b/25": e(9),  // learned, between two lines read
		"b/3":  e(8),  // learned anew: replaces the line read
		"b/5":  e(10), // learned, after every line read
		// b/2 not seen, b/4 and gone not in the manifest, c/1 not in the
		// manifest, c/2 moved
	}
	if g := tableEntries(got); !maps.Equal(g, want) {
		t.Errorf("saved %v\nwant %v", g, want)
	}

	// Everything seen unchanged, nothing learned: the file is left alone.
	before, _ := os.Stat(file)
	c = openStatCache(Options{StatCache: file}, tg, 0)
	for i := range c.hit {
		c.hit[i] = true
	}
	if err := os.Chtimes(file, time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	c.save(tg, listedIn(map[string]string{"a/1": "", "b/1": "", "b/25": "", "b/3": "", "b/5": ""}), nil, nil)
	if after, _ := os.Stat(file); !after.ModTime().Equal(time.Unix(1, 0)) || !os.SameFile(before, after) {
		t.Errorf("an unchanged stat cache was rewritten")
	}
	// One path fewer in the manifest: rewritten without it.
	c = openStatCache(Options{StatCache: file}, tg, 0)
	for i := range c.hit {
		c.hit[i] = true
	}
	c.save(tg, listedIn(map[string]string{"a/1": "", "b/1": "", "b/25": "", "b/3": ""}), nil, nil)
	if _, got, err = parseStatCache(prefetchFile(file, maxStatCache).data); err != nil || got.rows() != 4 {
		t.Errorf("after dropping a path: %d rows, %v", got.rows(), err)
	}
}

// TestCheckSumDeclines: CheckSum leaves to Check a scoped check, a sum
// that is not a SHA-256, and a manifest with a path in a form only
// CheckPath's full rules judge; ManifestSum is the SHA-256 of the
// manifest Write writes. CheckDelta leaves to Check changed paths and
// hashes out of form, and added paths inside another path of the render.
func TestCheckSumDeclines(t *testing.T) {
	tree := map[string]string{"clusters/e/a b.yaml": "a", "environments/e/b.yaml": "b"}
	root := filepath.Join(t.TempDir(), "out")
	if _, err := Write(root, bytesMap(tree), nil); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	sum := ManifestSum(hashesOf(tree))
	if sum != hashHex(raw) {
		t.Fatalf("ManifestSum = %s, the manifest's SHA-256 is %s", sum, hashHex(raw))
	}
	for name, call := range map[string]func() (Drift, bool, error){
		"a path with a space": func() (Drift, bool, error) { return CheckSum(root, sum, Options{}) },
		"scoped":              func() (Drift, bool, error) { return CheckSum(root, sum, Options{Scope: Scope{"clusters/e/"}}) },
		"not a SHA-256":       func() (Drift, bool, error) { return CheckSum(root, sum[:63], Options{}) },
	} {
		if d, ok, err := call(); ok || err != nil || !reflect.DeepEqual(d, Drift{}) {
			t.Errorf("%s: %+v, %v, %v; want a zero Drift, false, nil", name, d, ok, err)
		}
	}
	if d, err := Check(root, hashesOf(tree), Options{}); err != nil || !d.UpToDate() {
		t.Errorf("Check: %+v, %v", d, err)
	}

	// CheckDelta also leaves to Check the changes it cannot take from the
	// manifest alone.
	plain := map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b"}
	root = filepath.Join(t.TempDir(), "out")
	if _, err := Write(root, bytesMap(plain), nil); err != nil {
		t.Fatal(err)
	}
	base, h := ManifestSum(hashesOf(plain)), hashHex([]byte("n"))
	for name, changed := range map[string]map[string]string{
		"a path with a space":         {"clusters/e/n b.yaml": h},
		"a path not relative":         {"/etc/n": h},
		"a hash in capitals":          {"clusters/e/a.yaml": strings.ToUpper(h)},
		"a hash cut short":            {"clusters/e/a.yaml": h[:63]},
		"a file inside a file":        {"clusters/e/a.yaml/n": h},
		"a file holding a file":       {"clusters/e": h},
		"two added, one in the other": {"clusters/f": h, "clusters/f/n": h},
	} {
		if d, ok, err := CheckDelta(root, base, changed, Options{}); ok || err != nil || !reflect.DeepEqual(d, Drift{}) {
			t.Errorf("%s: %+v, %v, %v; want a zero Drift, false, nil", name, d, ok, err)
		}
	}
	if d, ok, err := CheckDelta(root, base, map[string]string{"clusters/e/a.yaml": h}, Options{Scope: Scope{"clusters/e/"}}); ok || err != nil || !reflect.DeepEqual(d, Drift{}) {
		t.Errorf("scoped: %+v, %v, %v; want a zero Drift, false, nil", d, ok, err)
	}
	// A file where a removed file's directory was is a change it takes.
	d, ok, err := CheckDelta(root, base, map[string]string{"clusters/e/a.yaml": "", "clusters/e": h}, Options{})
	if !ok || err != nil || !slices.Equal(d.Paths, []string{"clusters/e", "clusters/e/a.yaml"}) {
		t.Errorf("a file for a directory: %+v, %v, %v", d, ok, err)
	}
}
