package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/katonic/katonic/internal/chartrepo"
	"github.com/katonic/katonic/internal/cli"
	"github.com/katonic/katonic/internal/testrepo"
)

// repoRoot is the katonic repository: scripts get a copy of its cue.mod/,
// schema/ and profiles/, so they test the real schema.
const repoRoot = "../.."

// installerDir holds the real Katonic installer configurations of the
// shared reference documents (katonic-installer/), read by the import
// scenarios only.
const installerDir = "../../../shared/reference/katonic-installer"

// refChartsDir holds real upstream charts, packaged with an index.yaml (the
// shared reference documents' offline chart mirror), for the scenarios
// that need a real chart's values; [refcharts] is false where it is absent.
const refChartsDir = "../../../shared/reference/charts"

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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mockcharts": cmdMockCharts,
			"chartrepo":  cmdChartRepo,
			"expand":     cmdExpand,
		},
		Setup: func(env *testscript.Env) error {
			// Charts pulled by scripts stay in the script's directory.
			env.Setenv("KATONIC_CACHE_DIR", filepath.Join(env.WorkDir, ".cache", "katonic"))
			env.Setenv("KATONIC_RENDER_CACHE_DIR", filepath.Join(env.WorkDir, ".cache", "render"))
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
			env.Values["chartrepo"] = &serverBox{}
			// Katonic's real installer configurations, for the import
			// scenarios; [installer] is false where ../shared/reference
			// is absent (as on a user's machine), and they skip.
			if dir, err := filepath.Abs(installerDir); err == nil {
				env.Setenv("INSTALLER", dir)
			}
			// The real charts, served as-is with chartrepo static
			// $REFCHARTS; scenarios guard on [refcharts].
			if dir, err := filepath.Abs(refChartsDir); err == nil {
				env.Setenv("REFCHARTS", dir)
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "installer":
				_, err := os.Stat(filepath.Join(installerDir, "installer_katonic.yml"))
				return err == nil, nil
			case "refcharts":
				_, err := os.Stat(filepath.Join(refChartsDir, "index.yaml"))
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// cmdMockCharts writes stand-in charts for every chart of a platform
// version's catalog: mockcharts DIR VERSION.
func cmdMockCharts(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mockcharts DIR VERSION")
	}
	ts.Check(testrepo.MockCharts(ts.MkAbs(args[0]), args[1]))
}

// cmdChartRepo serves chart directories on loopback for the rest of the
// script:
//
//	chartrepo http DIR   a Helm HTTP repository; sets $CHARTS to its URL
//	chartrepo oci DIR    an OCI registry; sets $CHARTS to oci://host:port/charts
//	chartrepo static DIR a directory of packaged charts and its index.yaml,
//	                     served as-is over HTTP; sets $CHARTS to its URL
//	chartrepo reload     re-package (and re-push) the served charts
func cmdChartRepo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: chartrepo http|oci|static DIR | chartrepo reload")
	}
	const key = "chartrepo"
	if args[0] == "reload" {
		srv, _ := ts.Value(key).(*serverBox)
		if srv == nil || srv.s == nil {
			ts.Fatalf("chartrepo reload: no server started")
		}
		ts.Check(srv.s.Reload())
		return
	}
	if len(args) != 2 {
		ts.Fatalf("usage: chartrepo http|oci|static DIR")
	}
	var (
		s   *chartrepo.Server
		err error
	)
	switch args[0] {
	case "http":
		s, err = chartrepo.NewHelmRepo(ts.MkAbs(args[1]))
	case "oci":
		s, err = chartrepo.NewOCIRegistry(ts.MkAbs(args[1]))
	case "static":
		s, err = chartrepo.NewStaticRepo(ts.MkAbs(args[1]))
	default:
		ts.Fatalf("chartrepo: unknown kind %q", args[0])
	}
	ts.Check(err)
	ts.Defer(s.Close)
	ts.Value(key).(*serverBox).s = s
	ts.Setenv("CHARTS", s.URL)
}

// serverBox holds a script's chart server (testscript values are set once,
// in Setup).
type serverBox struct{ s *chartrepo.Server }

// cmdExpand replaces $VAR and ${VAR} in a file with the script's
// environment: expand FILE.
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expand FILE")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	ts.Check(os.WriteFile(p, []byte(os.Expand(string(b), ts.Getenv)), 0o644))
}
