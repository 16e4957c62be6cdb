package cli_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/cli"
)

// TestMakeBuildStampsVersion: `make build` links the version into the
// variable `katonic version` prints (cli.Version), so a renamed or moved
// variable, or a build target that forgot the stamp, fails here rather
// than in a release. It reads make's plan (-n); nothing is built.
func TestMakeBuildStampsVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on this machine")
	}
	_ = cli.Version // the variable the flag names must exist
	out, err := exec.Command("make", "-n", "-C", "../..", "build", "VERSION=v9.8.7-test").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	if want := "-X github.com/katonic/katonic/internal/cli.Version=v9.8.7-test"; !strings.Contains(string(out), want) {
		t.Errorf("make build does not stamp the version: want %q in\n%s", want, out)
	}
}
