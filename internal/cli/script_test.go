package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/katonic/katonic/internal/cli"
	"github.com/katonic/katonic/internal/testrepo"
)

// repoRoot is the katonic repository: scripts get a copy of its cue.mod/,
// schema/ and profiles/, so they test the real schema.
const repoRoot = "../.."

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"katonic": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs the scenarios in testdata/script/*.txtar, one per
// command and error class. Each starts in a fresh directory holding the
// repository's cue.mod/, schema/ and profiles/ plus the script's own files.
// KATONIC_UPDATE=1 rewrites the expected files of failing cmp commands.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       os.Getenv("KATONIC_UPDATE") != "",
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			if err := testrepo.Seed(repoRoot, env.WorkDir); err != nil {
				return err
			}
			// The repository's example environments, for scripts that want
			// the real thing: cp $EXAMPLES/x.cue environments/.
			abs, err := filepath.Abs(filepath.Join(repoRoot, "environments"))
			if err != nil {
				return err
			}
			env.Setenv("EXAMPLES", abs)
			return nil
		},
	})
}
