package outdir

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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
//
// Every call keeps a stat cache (beside out/'s parent), trusted as soon as
// a file is older than the call (testRefTime). With edit, after the first
// render one of its files is changed behind katonic's back (see
// fuzzEdit): Plan and UpToDate must then agree with a Plan without the
// cache, and the second Write must still produce exactly its tree.
func FuzzWrite(f *testing.F) {
	f.Add("a.yaml\nb/c.yaml", "b/c.yaml/d\na.yaml", []byte("x"), false, uint8(0))
	f.Add("clusters/acme/k.yaml\nenvironments/acme/p/x.yaml", "clusters/acme/k.yaml", []byte("kind: A\n"), true, uint8(0))
	f.Add("../escape", "a/../../escape", []byte("x"), false, uint8(0))
	f.Add("a\na/b", "/abs\nok", []byte{}, true, uint8(0))
	f.Add(".katonic-generated", ".katonic-staging/x\n.katonic-journal", []byte("m"), false, uint8(0))
	f.Add("user.txt", "x//y\n.\nz\\w", []byte("u"), false, uint8(0))
	f.Add("dir/f", "dir", []byte("swap a directory for a file"), true, uint8(0))
	f.Add("a.yaml\nb/c.yaml", "a.yaml\nb/c.yaml", []byte("same size"), false, uint8(1))
	f.Add("a.yaml\nb/c.yaml", "a.yaml\nb/c.yaml", []byte("same size"), true, uint8(6))
	f.Add("a.yaml\nb/c.yaml", "a.yaml\nb/c.yaml", []byte("x"), false, uint8(3))
	f.Add("a.yaml\nb/c.yaml", "a.yaml", []byte("x"), false, uint8(4))
	f.Add("k.yaml", "k.yaml", []byte("replaced"), false, uint8(2))
	f.Fuzz(func(t *testing.T, first, second string, content []byte, inPlace bool, edit uint8) {
		base := t.TempDir()
		root := filepath.Join(base, "out")
		cache := filepath.Join(t.TempDir(), "stat")
		var ref int64
		testRefTime = func() int64 { return ref }
		defer func() { testRefTime = nil }()
		cached := Options{StatCache: cache}
		must(t, os.WriteFile(filepath.Join(base, "victim"), []byte("outside"), 0o644))
		user := map[string]string{"user.txt": "mine"}
		if inPlace {
			user[".git/HEAD"] = "ref"
		}
		writeTree(t, root, user)
		for i, spec := range []string{first, second} {
			desired := fuzzTree(spec, content)
			before := snapshot(t, root)
			_, err := WriteWith(root, desired, cached)
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
				if changes, err := PlanWith(root, desired, cached); err != nil || len(changes) != 0 {
					t.Fatalf("Plan after Write: %q, %v", changeStrings(changes), err)
				}
				if i == 0 && edit > 0 {
					fuzzEdit(t, root, desired, cached, &ref, edit)
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

// fuzzEdit makes the stat cache trust every file of tree under root (they
// are older than the settling time), then, 20 ms later (more than a tick of
// the kernel's file clock), changes one of them as edit says, and checks that
// Plan and UpToDate with the cache agree with Plan without it.
func fuzzEdit(t *testing.T, root string, tree map[string][]byte, cached Options, ref *int64, edit uint8) {
	*ref = time.Now().UnixNano()
	time.Sleep(20 * time.Millisecond)
	want := map[string]string{}
	for p, b := range tree {
		want[p] = hashHex(b)
	}
	if ok, err := upToDate(root, want, cached); !ok || err != nil {
		t.Fatalf("UpToDate after Write: %v, %v", ok, err)
	}
	paths := slices.Sorted(maps.Keys(tree))
	p := paths[int(edit/4)%len(paths)]
	name := filepath.Join(root, filepath.FromSlash(p))
	fi, err := os.Stat(name)
	must(t, err)
	b := slices.Clone(tree[p])
	switch edit % 4 {
	case 0: // truncated
		must(t, os.Truncate(name, 0))
	case 1, 2: // same size (or one byte more when empty), mtime restored; 2: as a new file renamed over it
		if len(b) == 0 {
			b = []byte{'x'}
		} else {
			b[0]++
		}
		tmp := name
		if edit%4 == 2 {
			tmp += ".new"
		}
		must(t, os.WriteFile(tmp, b, 0o644))
		must(t, os.Chtimes(tmp, fi.ModTime(), fi.ModTime()))
		if tmp != name {
			must(t, os.Rename(tmp, name))
		}
	case 3: // deleted
		must(t, os.Remove(name))
	}
	plain, perr := Plan(root, tree, nil)
	got, err := PlanWith(root, tree, cached)
	if !slices.Equal(got, plain) || fmt.Sprint(err) != fmt.Sprint(perr) {
		t.Fatalf("edit %d of %s: Plan with the cache %q, %v; without %q, %v", edit, p, changeStrings(got), err, changeStrings(plain), perr)
	}
	if len(plain) == 0 {
		t.Fatalf("edit %d of %s: not seen", edit, p)
	}
	if ok, err := upToDate(root, want, cached); ok || err != nil {
		t.Fatalf("edit %d of %s: UpToDate %v, %v", edit, p, ok, err)
	}
}

// FuzzScopedWrite renders a first tree in full, then a second one scoped to
// the prefixes of scopeSpec (one a line; the second tree's paths outside
// them are dropped), into a root holding files katonic does not own. The
// scoped Write, which replaces only the scope's directories, must give
// exactly what the whole-root swap gives (error or changes, tree and
// manifest), and leave nothing beside the root or in it.
func FuzzScopedWrite(f *testing.F) {
	f.Add("clusters/a/k.yaml\nenvironments/a/e.yaml\nenvironments/gone/g.yaml\nclusters/b/k.yaml", "clusters/a/k.yaml\nenvironments/new/n.yaml", "clusters/a\nenvironments/a\nenvironments/gone\nenvironments/new", []byte("x"), true)
	f.Add("clusters/e/k.yaml\nenvironments/e/x/y/z.yaml", "", "clusters/e\nenvironments/e", []byte("y"), false)
	f.Add("clusters/e/k.yaml", "clusters/e/k.yaml/deeper", "clusters/e", []byte("z"), false)
	f.Add("a/b/c", "a/b", "a", []byte("file for a directory"), true)
	f.Add("x/1\ny/2", "z/3/4\nz/5", "z\nx", []byte{}, false)
	f.Add("environments/e/keep/x", "environments/f/y", "environments/e\nenvironments/f", []byte("q"), true)
	f.Fuzz(func(t *testing.T, first, second, scopeSpec string, content []byte, userFiles bool) {
		var scope Scope
		for _, l := range strings.SplitN(scopeSpec, "\n", 4) {
			if CheckPath(l) != nil {
				t.Skip()
			}
			scope = append(scope, l+"/")
		}
		a := fuzzTree(first, content)
		b := map[string][]byte{}
		for p, c := range fuzzTree(second, content) {
			if scope.contains(p) {
				b[p] = c
			}
		}
		if !fuzzValid(a) {
			t.Skip()
		}
		var roots [2]string
		for i := range roots {
			roots[i] = filepath.Join(t.TempDir(), "out")
			if userFiles {
				writeTree(t, roots[i], map[string]string{"clusters/e/flux-system/x.yaml": "mine", "u.txt": "mine", "environments/e/keep/": ""})
			}
			if _, err := Write(roots[i], a, nil); err != nil {
				t.Skip() // a tree that meets a user file
			}
		}
		var changes [2][]Change
		var errs [2]string
		for i, root := range roots {
			testNoDirSwap = i == 1
			ch, err := Write(root, b, scope)
			testNoDirSwap = false
			changes[i], errs[i] = ch, strings.ReplaceAll(fmt.Sprint(err), root, "ROOT")
		}
		if !slices.Equal(changes[0], changes[1]) || errs[0] != errs[1] {
			t.Fatalf("scoped Write: %q, %s; whole-root swap: %q, %s", changeStrings(changes[0]), errs[0], changeStrings(changes[1]), errs[1])
		}
		if got, want := snapshot(t, roots[0]), snapshot(t, roots[1]); !maps.Equal(got, want) {
			t.Fatalf("scoped Write left\n%q\nthe whole-root swap\n%q", got, want)
		}
		for _, root := range roots {
			if left := siblingNames(t, filepath.Dir(root)); len(left) != 0 {
				t.Fatalf("left beside the root: %q", left)
			}
		}
	})
}

// FuzzCheckDelta writes a tree from the fuzzer (the base), optionally
// edits one of its files behind katonic's back (see fuzzEdit), and checks
// a second tree against it both ways: CheckDelta, from the base's
// ManifestSum and the paths where the trees differ, must answer as Check
// does whenever it answers, and must answer whenever both trees' paths are
// plain and the second has none inside another. The check through the
// delta keeps a stat cache; Check does not.
func FuzzCheckDelta(f *testing.F) {
	f.Add("clusters/a/k.yaml\nenvironments/a/e.yaml\nclusters/b/k.yaml", "clusters/a/k.yaml\nenvironments/a/x.yaml\nclusters/b/k.yaml", []byte("x"), []byte("y"), uint8(0))
	f.Add("a/b/c\na/d", "a/b\na/d", []byte("file for a directory"), []byte("z"), uint8(1))
	f.Add("a/b", "a/b/c\na/b", []byte("q"), []byte("q"), uint8(3))
	f.Add("x/1\ny/2", "x/1\ny/2", []byte("same"), []byte("same"), uint8(4))
	f.Add("x/1\ny/2", "x/1 2\ny/2", []byte("a space"), []byte("n"), uint8(2))
	f.Fuzz(func(t *testing.T, first, second string, content, next []byte, edit uint8) {
		base, want := fuzzTree(first, content), fuzzTree(second, next)
		root := filepath.Join(t.TempDir(), "out")
		if _, err := Write(root, base, nil); err != nil {
			return // a base Write refuses is not a render out/ can hold
		}
		cached := Options{StatCache: filepath.Join(filepath.Dir(root), "stat")}
		if edit > 0 {
			var ref int64
			fuzzEdit(t, root, base, cached, &ref, edit)
		}
		baseHashes, wantHashes := map[string]string{}, map[string]string{}
		for p, b := range base {
			baseHashes[p] = hashHex(b)
		}
		for p, b := range want {
			wantHashes[p] = hashHex(b)
		}
		ref, refErr := Check(root, wantHashes, Options{})
		d, ok, err := CheckDelta(root, ManifestSum(baseHashes), Changes(baseHashes, wantHashes), cached)
		if err != nil {
			t.Fatalf("CheckDelta: %v (Check: %+v, %v)", err, ref, refErr)
		}
		if ok && (refErr != nil || d.Whole != ref.Whole || !slices.Equal(d.Paths, ref.Paths)) {
			t.Fatalf("CheckDelta: %+v; Check: %+v, %v", d, ref, refErr)
		}
		plain := fuzzValid(want)
		for p := range maps.Keys(base) {
			plain = plain && plainPath(p)
		}
		for p := range maps.Keys(want) {
			plain = plain && plainPath(p)
		}
		if plain && !ok && refErr == nil {
			t.Fatalf("CheckDelta declined plain trees (Check: %+v)", ref)
		}
	})
}
