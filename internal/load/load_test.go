package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/testrepo"
)

const goodEnv = `package environments

environments: good: {
	profile:           "cloud"
	platformVersion:   "4.5"
	kubernetesVersion: "1.27"
	domain:            "good.example"
	nodePools: {
		platform: {minNodes: 2, maxNodes: 2, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 1, maxNodes: 2, cpu: 8, memoryGiB: 32}
	}
}
`

// TestMaxFileSize: a file of exactly MaxFileSize bytes is read; one byte
// more is refused without being read.
func TestMaxFileSize(t *testing.T) {
	dir := t.TempDir()
	head := "package environments\n\n_x: 1\n// "
	for _, n := range []int{MaxFileSize, MaxFileSize + 1} {
		src := head + strings.Repeat("x", n-len(head)-1) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "big.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		found, diags, err := scanEnvironments(dir, parserOptions)
		if err != nil {
			t.Fatal(err)
		}
		if over := n > MaxFileSize; over != (len(diags) == 1) || !over && len(found.sources[filepath.Join(dir, "big.cue")]) != n {
			t.Errorf("%d bytes: %v", n, diags)
		}
	}
}

// TestStandIns: an environment file that cannot be loaded still names an
// environment, without a Value, beside the ones that load; so does an
// entry rejected for its kind.
func TestStandIns(t *testing.T) {
	dir := testrepo.New(t, "../..", map[string]string{
		"environments/good.cue":     goodEnv,
		"environments/broken.cue":   "package environments\n\nenvironments: broken: {\n",
		"environments/notes.txt":    "notes",
		"environments/nested/x.cue": "package environments\n",
	})
	repo, diags, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 3 {
		t.Fatalf("want 3 diagnostics (syntax, not CUE, directory), got %v", diags)
	}
	var names []string
	for _, e := range repo.Envs {
		names = append(names, e.Name)
		if e.Value.Exists() != (e.Name == "good") {
			t.Errorf("%s: Value exists %v", e.Name, e.Value.Exists())
		}
	}
	if got := strings.Join(names, " "); got != "broken good nested notes" {
		t.Errorf("environments %q, want broken good nested notes", got)
	}
}
