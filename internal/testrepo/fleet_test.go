package testrepo

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestGenerateFleet writes a configuration repository with a generated
// fleet, for measuring the katonic binary on it (docs/performance.md):
//
//	KATONIC_FLEET_DIR=/tmp/fleet KATONIC_FLEET_SIZE=1000 go test ./internal/testrepo -run TestGenerateFleet
//
// Without KATONIC_FLEET_DIR it checks Fleet in a temporary directory.
func TestGenerateFleet(t *testing.T) {
	dir, n := os.Getenv("KATONIC_FLEET_DIR"), 12
	if s := os.Getenv("KATONIC_FLEET_SIZE"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("KATONIC_FLEET_SIZE=%q: want a positive number", s)
		}
	}
	if dir == "" {
		dir = t.TempDir()
	}
	if err := Seed("../..", dir); err != nil {
		t.Fatal(err)
	}
	files := Fleet(n)
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := filepath.Glob(filepath.Join(dir, "environments", "fleet-*.cue"))
	if len(got) != n {
		t.Fatalf("wrote %d environments, want %d", len(got), n)
	}
}
