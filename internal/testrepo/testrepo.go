// Package testrepo makes katonic configuration repositories for tests: a
// temporary directory with the real cue.mod/, schema/, profiles/ and
// policy/ of this repository plus the environment files a test gives. Only
// tests import it.
package testrepo

import (
	"os"
	"path/filepath"
	"testing"
)

// Packages are the directories of the real repository a test repository
// gets a copy of: the CUE module, the schema, the profiles and the policy
// set. Seed fails when one is missing.
var Packages = []string{"cue.mod", "schema", "profiles", "policy"}

// New creates a repository in t.TempDir() from the real one at root (the
// katonic checkout, e.g. "../.."), with files — paths relative to the new
// repository, such as "environments/acme.cue" — written into it. It
// returns the new repository's directory and fails the test on any error.
func New(t testing.TB, root string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := Seed(root, dir); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Seed copies Packages from the repository at root into dir.
func Seed(root, dir string) error {
	for _, d := range Packages {
		if err := CopyDir(filepath.Join(root, d), filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	return nil
}

// CopyDir copies the tree at from to to, creating directories as needed.
func CopyDir(from, to string) error {
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
}
