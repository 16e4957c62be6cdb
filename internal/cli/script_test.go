package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/katonic/katonic/internal/cli"
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
			for _, d := range []string{"cue.mod", "schema", "profiles"} {
				if err := copyDir(filepath.Join(repoRoot, d), filepath.Join(env.WorkDir, d)); err != nil {
					return err
				}
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

func copyDir(from, to string) error {
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
