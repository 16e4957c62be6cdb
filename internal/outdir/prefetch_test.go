package outdir

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPrefetch: what StartPrefetch read is used while the manifest and the
// stat cache are the files it read, and read again once a render (or
// anyone) replaced or changed them; CheckSum gives the same answer either
// way.
func TestPrefetch(t *testing.T) {
	tree := map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b"}
	other := map[string]string{"clusters/e/a.yaml": "A", "environments/e/b.yaml": "b"}
	root := filepath.Join(t.TempDir(), "out")
	stat := filepath.Join(t.TempDir(), "stat")
	opts := Options{StatCache: stat}
	if _, err := WriteWith(root, bytesMap(tree), opts); err != nil {
		t.Fatal(err)
	}
	if d, ok, err := CheckSum(root, ManifestSum(hashesOf(tree)), opts); err != nil || !ok || !d.UpToDate() {
		t.Fatalf("CheckSum: %+v, %v, %v", d, ok, err) // and the stat cache is written
	}
	resolved, err := resolve(root)
	if err != nil {
		t.Fatal(err)
	}

	pre := StartPrefetch(root, opts)
	if pre.wait(resolved.root) == nil || !pre.manifest.ok || !pre.plain || !pre.stat.ok || !pre.valid {
		t.Fatalf("nothing read ahead: %+v", pre)
	}
	if _, ahead, err := readManifestAhead(resolved.root, pre); err != nil || !ahead {
		t.Fatalf("the manifest read ahead is not used: %v, %v", ahead, err)
	}
	with := opts
	with.Prefetch = pre
	if d, ok, err := CheckSum(root, ManifestSum(hashesOf(tree)), with); err != nil || !ok || !d.UpToDate() {
		t.Fatalf("CheckSum read ahead: %+v, %v, %v", d, ok, err)
	}
	if d, ok, err := CheckSum(root, ManifestSum(hashesOf(other)), with); err != nil || ok {
		t.Fatalf("CheckSum of another render, read ahead: %+v, %v, %v", d, ok, err)
	}

	// A render replaces the manifest and the stat cache: read again.
	if _, err := WriteWith(root, bytesMap(other), opts); err != nil {
		t.Fatal(err)
	}
	if _, ahead, err := readManifestAhead(resolved.root, pre); err != nil || ahead {
		t.Fatalf("a replaced manifest is taken from the read ahead: %v, %v", ahead, err)
	}
	if d, ok, err := CheckSum(root, ManifestSum(hashesOf(other)), with); err != nil || !ok || !d.UpToDate() {
		t.Fatalf("CheckSum after a render: %+v, %v, %v", d, ok, err)
	}
	if _, ok, err := CheckSum(root, ManifestSum(hashesOf(tree)), with); err != nil || ok {
		t.Fatalf("CheckSum of the render replaced: %v, %v", ok, err)
	}

	// Changed in place, to the same size: read again.
	pre = StartPrefetch(root, opts)
	with.Prefetch = pre
	name := filepath.Join(root, ManifestName)
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, raw, 0o644); err != nil { // a new ctime
		t.Fatal(err)
	}
	if pre.wait(resolved.root) == nil {
		t.Fatal("no read ahead")
	}
	if _, ahead, err := readManifestAhead(resolved.root, pre); err != nil || ahead && !sameStatFile(t, name, pre.manifest.st) {
		t.Fatalf("a manifest written since is taken from the read ahead: %v, %v", ahead, err)
	}
	edited := slices.Clone(raw)
	edited[0] = 'X'
	if err := os.WriteFile(name, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := CheckSum(root, ManifestSum(hashesOf(other)), with); err != nil || ok {
		t.Fatalf("CheckSum of a manifest edited after the read ahead: %v, %v", ok, err)
	}

	// Another output root: not used.
	if pre.wait(resolved.root+"x") != nil {
		t.Error("a read ahead of one root is used for another")
	}
	var none *Prefetch
	if none.wait(resolved.root) != nil {
		t.Error("a nil Prefetch waited for")
	}
}

// sameStatFile reports whether the file name has stat st now.
func sameStatFile(t *testing.T, name string, st fileStat) bool {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return sameStat(fi, st)
}

// TestCheckAhead: StartPrefetch checks the files the manifest lists, under
// the lock, and CheckSum, CheckDelta and Check take that check while the
// manifest is the one read: a file edited before it is drift, a changed path is
// judged from the delta. A render in between, or a lock held by another
// process, leaves the check to the call, which then gives the same answer.
func TestCheckAhead(t *testing.T) {
	tree := map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b", "clusters/f/c.yaml": "c"}
	root := filepath.Join(t.TempDir(), "out")
	opts := Options{StatCache: filepath.Join(t.TempDir(), "stat")}
	if _, err := WriteWith(root, bytesMap(tree), opts); err != nil {
		t.Fatal(err)
	}
	sum := ManifestSum(hashesOf(tree))
	edit := func(p, content string) {
		t.Helper()
		must(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(p)), []byte(content), 0o644))
	}
	ahead := func() Options {
		t.Helper()
		with := opts
		with.Prefetch = StartPrefetch(root, opts)
		with.Prefetch.settle()
		return with
	}

	edit("clusters/f/c.yaml", "edited")
	with := ahead()
	if with.Prefetch.checked == nil || !slices.Equal(with.Prefetch.checked.drift, []bool{false, true, false}) {
		t.Fatalf("checked ahead: %+v; want clusters/f/c.yaml drifted", with.Prefetch.checked)
	}
	// The check ahead is what CheckSum reports: a file edited after it is
	// not looked at again.
	edit("clusters/e/a.yaml", "late")
	if d, ok, err := CheckSum(root, sum, with); err != nil || !ok || !slices.Equal(d.Paths, []string{"clusters/f/c.yaml"}) {
		t.Fatalf("CheckSum with the check ahead: %+v, %v, %v", d, ok, err)
	}
	changed := map[string]string{"environments/e/b.yaml": hashHex([]byte("B")), "clusters/g/n.yaml": hashHex([]byte("n"))}
	if d, ok, err := CheckDelta(root, sum, changed, with); err != nil || !ok ||
		!slices.Equal(d.Paths, []string{"clusters/f/c.yaml", "clusters/g/n.yaml", "environments/e/b.yaml"}) {
		t.Fatalf("CheckDelta with the check ahead: %+v, %v, %v", d, ok, err)
	}
	// Check takes it too, for any render.
	if d, err := Check(root, hashesOf(tree), with); err != nil || !slices.Equal(d.Paths, []string{"clusters/f/c.yaml"}) {
		t.Fatalf("Check with the check ahead: %+v, %v", d, err)
	}
	other := maps.Clone(tree)
	other["environments/e/b.yaml"], other["clusters/g/n.yaml"] = "B", "n"
	if d, err := Check(root, hashesOf(other), with); err != nil ||
		!slices.Equal(d.Paths, []string{"clusters/f/c.yaml", "clusters/g/n.yaml", "environments/e/b.yaml"}) {
		t.Fatalf("Check of another render with the check ahead: %+v, %v", d, err)
	}
	edit("clusters/e/a.yaml", "a")

	// A render after the check ahead: the manifest is another, so the
	// call checks the files itself.
	with = ahead()
	if with.Prefetch.checked == nil {
		t.Fatal("no check ahead")
	}
	next := maps.Clone(tree)
	next["clusters/f/c.yaml"] = "C"
	if _, err := WriteWith(root, bytesMap(next), opts); err != nil {
		t.Fatal(err)
	}
	edit("environments/e/b.yaml", "edited since")
	if d, ok, err := CheckSum(root, ManifestSum(hashesOf(next)), with); err != nil || !ok || !slices.Equal(d.Paths, []string{"environments/e/b.yaml"}) {
		t.Fatalf("CheckSum after a render: %+v, %v, %v", d, ok, err)
	}
	if d, err := Check(root, hashesOf(next), with); err != nil || !slices.Equal(d.Paths, []string{"environments/e/b.yaml"}) {
		t.Fatalf("Check after a render: %+v, %v", d, err)
	}
	edit("environments/e/b.yaml", "b")

	// The lock held elsewhere: no check ahead, and the call (which waits
	// for the lock) checks the files itself.
	edit("clusters/e/a.yaml", "edited")
	tg, err := resolve(root)
	if err != nil {
		t.Fatal(err)
	}
	held, err := tg.lock(Options{}, true)
	if err != nil {
		t.Fatal(err)
	}
	with = ahead()
	held.release()
	if with.Prefetch.checked != nil || !with.Prefetch.manifest.ok {
		t.Fatalf("checked ahead while the lock was held: %+v", with.Prefetch.checked)
	}
	if d, ok, err := CheckSum(root, ManifestSum(hashesOf(next)), with); err != nil || !ok || !slices.Equal(d.Paths, []string{"clusters/e/a.yaml"}) {
		t.Fatalf("CheckSum without a check ahead: %+v, %v, %v", d, ok, err)
	}
}

// TestWriteAhead: a Write given the manifest read ahead (Options.Prefetch)
// does what a Write that reads it does, for the manifest katonic writes
// and for manifests in the plain form that only a parse judges: lines out
// of order, a path twice, a path that is another's directory.
func TestWriteAhead(t *testing.T) {
	tree := map[string]string{"clusters/e/a.yaml": "a", "environments/e/b.yaml": "b", "clusters/f/c.yaml": "c"}
	next := map[string]string{"clusters/e/a.yaml": "A", "clusters/e/n.yaml": "n"} // the scope's
	line := func(p, content string) string { return hashHex([]byte(content)) + "  " + p + "\n" }
	head := manifestHeader + "\n"
	for name, manifest := range map[string]string{
		"as written":   "",
		"out of order": head + line("environments/e/b.yaml", "b") + line("clusters/e/a.yaml", "a") + line("clusters/f/c.yaml", "c"),
		"twice":        head + line("clusters/e/a.yaml", "a") + line("clusters/e/a.yaml", "a") + line("clusters/f/c.yaml", "c"),
		"a directory":  head + line("clusters/e", "x") + line("clusters/e/a.yaml", "a") + line("clusters/f/c.yaml", "c"),
	} {
		t.Run(name, func(t *testing.T) {
			var got [2]string
			for i, ahead := range []bool{false, true} {
				root := filepath.Join(t.TempDir(), "out")
				if _, err := Write(root, bytesMap(tree), nil); err != nil {
					t.Fatal(err)
				}
				if manifest != "" {
					must(t, os.WriteFile(filepath.Join(root, ManifestName), []byte(manifest), 0o644))
				}
				opts := Options{Scope: Scope{"clusters/e/"}}
				if ahead {
					opts.Prefetch = StartPrefetch(root, Options{})
					if opts.Prefetch.wait(mustResolve(t, root)) == nil || !opts.Prefetch.plain {
						t.Fatal("the manifest was not read ahead in the plain form")
					}
				}
				changes, err := WriteWith(root, bytesMap(next), opts)
				got[i] = fmt.Sprintf("%q %v %v", changeStrings(changes), err, snapshot(t, root))
			}
			if got[0] != got[1] {
				t.Errorf("Write with the manifest read ahead:\n%s\nwithout:\n%s", got[1], got[0])
			}
		})
	}
}

// mustResolve returns root resolved as the package's calls resolve it.
func mustResolve(t *testing.T, root string) string {
	t.Helper()
	tg, err := resolve(root)
	if err != nil {
		t.Fatal(err)
	}
	return tg.root
}
