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
