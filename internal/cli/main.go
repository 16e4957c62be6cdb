// Package cli is katonic's command line: it parses flags and calls the
// compiler's packages, which take their inputs and writers as arguments.
// Every command is built by a constructor; there is no package-level cobra
// state, so tests can run Main as often as they like.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/katonic/katonic/internal/budget"
)

// Exit codes of the katonic command, documented in the README.
const (
	ExitOK        = 0 // success
	ExitInvalid   = 1 // the configuration has errors (or warnings, with --strict)
	ExitUsage     = 2 // bad flags or arguments, unknown environment, not a katonic repository
	ExitOutOfDate = 3 // render --check: out/ differs from a fresh render; diff: there are changes
	ExitOutput    = 4 // the output directory cannot be written safely (a file katonic does not own, an unsafe path, I/O)
	ExitVerify    = 5 // verify found an error (or a warning, with --strict); charts pull: a chart differs from charts.lock
	ExitFetch     = 6 // charts pull could not fetch a chart (network, repository or registry error)
	ExitPolicy    = 7 // a policy of policy/ is violated (policy, render, verify) and not waived
	ExitRisk      = 8 // diff --fail-on: a change at or above the given risk level
)

// exitError carries an exit code through cobra. A nil err means the
// message has already been printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// Main runs katonic with os.Args and the process's standard streams and
// returns the exit code. cmd/katonic calls it; so do the testscript tests.
func Main() int {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	return Run(os.Args[1:], os.Stdout, os.Stderr)
}

// gcPercent is the garbage collector's target (GOGC) the katonic process
// runs with unless the environment sets GOGC: the heap may grow to three
// times the live data between collections, rather than Go's default two.
// A fleet render allocates much short-lived data (CUE values, YAML trees);
// at 200 a render of 1,000 environments took 10 to 30% less CPU time than
// at Go's default, for about 40% more peak memory, 0.7 GiB
// (docs/performance.md, "Garbage collection"). The --max-eval-memory bound
// still applies: internal/budget sets it as the runtime's soft memory
// limit, which makes the collector work harder as the process nears it.
const gcPercent = 200

// Run runs katonic with args (without the program name), writing data to
// stdout and diagnostics and progress to stderr, and returns the exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	var stopWatch func()
	root := newRootCmd(stdout, stderr, &stopWatch)
	root.SetArgs(args)
	err := root.Execute()
	if stopWatch != nil {
		stopWatch()
	}
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "katonic: %v\n", ee.err)
		}
		return ee.code
	}
	// Errors cobra raises itself: unknown command, bad flag, wrong arity.
	fmt.Fprintf(stderr, "katonic: %v\nRun 'katonic --help' for usage.\n", err)
	return ExitUsage
}

// Default evaluation limits (--max-eval-time, --max-eval-memory): far
// above what katonic's own fleet benchmarks use (docs/performance.md),
// far below what ends the process on the 24 GiB machines it is built on.
const (
	defaultEvalTime   = 2 * time.Minute
	defaultEvalMemory = "6Gi"
)

// newRootCmd builds the katonic command. Before any command runs, it
// starts the evaluation watch (internal/budget) with the limits of the
// flags; *stopWatch is set to the function that stops it.
func newRootCmd(stdout, stderr io.Writer, stopWatch *func()) *cobra.Command {
	root := &cobra.Command{
		Use:   "katonic",
		Short: "Compile Katonic environments (CUE) into a Flux repository",
		Long: `katonic validates Katonic MLOps platform installations described in CUE
(cue.mod/, schema/, profiles/, environments/) and renders them into Flux
Kustomizations, HelmReleases and their sources under out/.

Run it anywhere in the configuration repository: like git, it finds the
root (the nearest directory above that holds cue.mod/) and works there;
paths given on the command line stay relative to where it was run.`,
		Example: `  katonic new acme-prod --profile azure-private
  katonic vet
  katonic render
  katonic show acme-prod --why loadBalancer
  katonic graph acme-prod`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	evalTime := root.PersistentFlags().Duration("max-eval-time", defaultEvalTime,
		"stop when one evaluation (the schema and profiles, an environment, or the policies over one) takes longer (0: no limit)")
	evalMemory := root.PersistentFlags().String("max-eval-memory", defaultEvalMemory,
		"stop when katonic's memory passes this `quantity` while it evaluates CUE (Kubernetes quantity: 512Mi, 8Gi; 0: no limit)")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := emptyPaths(cmd); err != nil {
			return err
		}
		if err := toRepositoryRoot(cmd, args); err != nil {
			return err
		}
		q, err := resource.ParseQuantity(*evalMemory)
		if err != nil || q.Sign() < 0 {
			return exitf(ExitUsage, "--max-eval-memory %s: want a Kubernetes quantity such as 512Mi or 8Gi", *evalMemory)
		}
		if *evalTime < 0 {
			return exitf(ExitUsage, "--max-eval-time %s: want a duration such as 30s or 5m", *evalTime)
		}
		// CUE's evaluation cannot be interrupted: past a limit, katonic
		// says which file and exits, before anything is written.
		*stopWatch = budget.Watch(budget.Limits{Time: *evalTime, Memory: uint64(q.Value())}, func(e *budget.Exceeded) {
			fmt.Fprintf(stderr, "katonic: %v\n", e)
			os.Exit(ExitInvalid)
		})
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitf(ExitUsage, "%v\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(
		newRenderCmd(stdout, stderr),
		newVetCmd(stdout, stderr),
		newVerifyCmd(stdout, stderr),
		newChartsCmd(stdout, stderr),
		newDiffCmd(stdout, stderr),
		newPolicyCmd(stdout, stderr),
		newImportCmd(stdout, stderr),
		newNewCmd(stdout, stderr),
		newEnvsCmd(stdout, stderr),
		newShowCmd(stdout, stderr),
		newDNSCmd(stdout, stderr),
		newGraphCmd(stdout, stderr),
		newRequirementsCmd(stdout, stderr),
		newVersionCmd(stdout),
	)
	// Commands grouped in --help by what they are for.
	root.AddGroup(
		&cobra.Group{ID: "build", Title: "Compile and check:"},
		&cobra.Group{ID: "inspect", Title: "Inspect an environment:"},
		&cobra.Group{ID: "author", Title: "Write environments:"},
	)
	groups := map[string]string{
		"render": "build", "vet": "build", "verify": "build", "policy": "build", "diff": "build", "charts": "build",
		"envs": "inspect", "show": "inspect", "dns": "inspect", "graph": "inspect", "requirements": "inspect",
		"new": "author", "import": "author",
	}
	for _, c := range root.Commands() {
		c.GroupID = groups[c.Name()]
	}
	return root
}

// pathFlag is the annotation of a flag whose value is a path: relative to
// the directory katonic runs in, not to the repository root.
const pathFlag = "katonic-path"

// pathArgsWith is the annotation of a command whose arguments are paths
// when the flag it names is set (diff --merge: the arguments are report
// files, not environment names).
const pathArgsWith = "katonic-path-args-with"

// markPaths annotates the flags of cmd named names as paths.
func markPaths(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.Flags().SetAnnotation(n, pathFlag, []string{"true"}); err != nil {
			panic(err) // a flag name katonic does not define: a bug
		}
	}
}

// emptyPaths refuses a path flag (markPaths) set to the empty string, as
// `--out "$OUT"` gives with OUT unset: it is a usage error, not the
// working directory.
func emptyPaths(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err == nil && f.Changed && f.Annotations[pathFlag] != nil && f.Value.String() == "" {
			err = exitf(ExitUsage, "--%s is empty: give a directory", f.Name)
		}
	})
	return err
}

// toRepositoryRoot finds the configuration repository above the working
// directory (the nearest directory that holds cue.mod/, as CUE finds its
// module) and changes to it, so that katonic works from any subdirectory
// as git does. The path flags the user set (markPaths) and the path
// arguments of a command annotated pathFlag (or pathArgsWith, its flag
// set) are made absolute first, so
// they keep meaning what they meant where katonic was run. Outside any
// repository nothing changes, and the command reports the missing
// repository as before.
func toRepositoryRoot(cmd *cobra.Command, args []string) error {
	cwd, err := os.Getwd()
	if err != nil {
		return nil
	}
	// Getwd may return $PWD as the shell spelled it ("a/.."): walking up
	// must start from the directory it names.
	cwd = filepath.Clean(cwd)
	root := ""
	for d := cwd; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "cue.mod")); err == nil && fi.IsDir() {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
	if root == cwd {
		return nil
	}
	var ferr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Changed || f.Annotations[pathFlag] == nil || f.Value.String() == "" || filepath.IsAbs(f.Value.String()) {
			return
		}
		if err := f.Value.Set(filepath.Join(cwd, f.Value.String())); err != nil && ferr == nil {
			ferr = err
		}
	})
	if ferr != nil {
		return ferr
	}
	if cmd.Annotations[pathFlag] != "" || (cmd.Annotations[pathArgsWith] != "" && cmd.Flags().Changed(cmd.Annotations[pathArgsWith])) {
		for i, a := range args {
			if a != "-" && !filepath.IsAbs(a) {
				args[i] = filepath.Join(cwd, a)
			}
		}
	}
	if err := os.Chdir(root); err != nil {
		return exitf(ExitUsage, "cannot work in the repository root %s: %v", root, err)
	}
	return nil
}
