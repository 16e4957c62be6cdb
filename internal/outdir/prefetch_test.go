package outdir

import (
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
