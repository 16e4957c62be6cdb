package outdir

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestParseMemo: a parse remembered for some bytes is reused only for the
// same bytes, and ReadManifest's callers changing what they got do not
// change what the next caller gets.
func TestParseMemo(t *testing.T) {
	h := strings.Repeat("a", 64)
	one := []byte(manifestHeader + "\n" + h + "  clusters/e/a.yaml\n")
	two := []byte(manifestHeader + "\n" + h + "  clusters/e/b.yaml\n")
	m, err := parseManifest(one)
	if err != nil || len(m) != 1 || m["clusters/e/a.yaml"] != h {
		t.Fatalf("parseManifest: %v, %v", m, err)
	}
	m, err = parseManifest(one)
	if err != nil || len(m) != 1 || m["clusters/e/a.yaml"] != h {
		t.Fatalf("parseManifest again, after the caller changed its map: %v, %v", m, err)
	}
	m, err = parseManifest(two)
	if err != nil || len(m) != 1 || m["clusters/e/b.yaml"] != h {
		t.Fatalf("parseManifest of other bytes: %v, %v", m, err)
	}
	// The same length, other bytes: still parsed anew.
	bad := append([]byte(nil), two...)
	bad[len(manifestHeader)+1] = 'X'
	if _, err := parseManifest(bad); err == nil {
		t.Fatal("a malformed manifest of the remembered length parsed")
	}

	id := rootID{path: "/out", dev: 1, ino: 2}
	entries := map[string]statEntry{"clusters/e/a.yaml": {fileStat{size: 1, mtime: 2, ctime: 3, dev: 4, ino: 5}, h}}
	raw := formatStatCache(id, entries)
	for range 2 {
		gotID, got, err := parseStatCache(raw)
		if err != nil || gotID != id || len(got) != 1 || got["clusters/e/a.yaml"] != entries["clusters/e/a.yaml"] {
			t.Fatalf("parseStatCache: %v, %v, %v", gotID, got, err)
		}
	}
	other := formatStatCache(rootID{path: "/elsewhere", dev: 1, ino: 2}, entries)
	if gotID, _, err := parseStatCache(other); err != nil || gotID.path != "/elsewhere" {
		t.Fatalf("parseStatCache of another root: %v, %v", gotID, err)
	}
}

func TestReadManifestCopy(t *testing.T) {
	root := filepath.Join(t.TempDir(), "out")
	if _, err := Write(root, map[string][]byte{"clusters/e/a.yaml": []byte("a")}, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		m, err := ReadManifest(root)
		if err != nil || len(m) != 1 || m["clusters/e/a.yaml"] != hashHex([]byte("a")) {
			t.Fatalf("ReadManifest: %v, %v", m, err)
		}
		delete(m, "clusters/e/a.yaml") // the caller's own copy
	}
}
