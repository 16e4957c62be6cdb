// Command katonic-e2e reconciles katonic's example environments with the
// real Flux controllers on a local control plane, one run at a time, and
// prints a table: Kustomizations and HelmReleases Ready, pods scheduled on
// their node pools, and the time each took. `make e2e` runs it after
// building the binaries (make e2e-tools).
//
// The runs (scenarios.go): every example environment, its charts served
// from a Helm repository or, for the environments of -oci, an OCI
// registry; for the environments of -upgrade, a second reconciliation at
// the newest platform version, checked against `katonic diff`; and, unless
// -negative=false, two runs that must fail with the right reason: a
// cluster whose platform nodes are smaller than the environment says (the
// scheduler's "Insufficient" reason), and an out/ whose dependsOn would
// deadlock (a cycle, reported as one).
//
// Exit status: 0 when every run went as it should, 1 when one did not (the
// report names each object that is not Ready with its controller's message,
// and each pod the scheduler could not place with its reason; the
// components' logs are kept), 2 for a usage error or a harness failure.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/katonic/katonic/e2e/harness"
)

func main() {
	os.Exit(run())
}

func run() int {
	bin := flag.String("bin", "bin", "`directory` of the binaries make e2e-tools builds")
	repo := flag.String("repo", "..", "the katonic `repository` whose environments run")
	refCharts := flag.String("charts", "../../shared/reference/charts", "`directory` of packaged real charts served as the charts mirror")
	envs := flag.String("envs", "", "comma-separated `environments` (default: every environments/*.cue)")
	oci := flag.String("oci", "acme-azure", "comma-separated `environments` whose charts come from an OCI registry (the others': a Helm repository)")
	upgrade := flag.String("upgrade", "globex-cloud", "comma-separated `environments` upgraded to the newest platform version once reconciled")
	negative := flag.Bool("negative", true, "also run the scenarios that must fail (a platform pool too small, a dependsOn deadlock)")
	work := flag.String("work", "", "work `directory` (default: a new temporary directory, removed when every run passed)")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long one reconciliation may take to become Ready")
	hostNet := flag.Bool("host-network", false, "run in the host's network namespace instead of one with only loopback")
	flag.Parse()

	if !*hostNet && os.Getenv(netnsEnv) == "" {
		status, ok, err := inNetns()
		if !ok || err != nil {
			fmt.Fprintf(os.Stderr, "katonic-e2e: %v (run as root, or with -host-network)\n", err)
			return 2
		}
		return status
	}
	if os.Getenv(netnsEnv) != "" {
		if err := loopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "katonic-e2e: %v\n", err)
			return 2
		}
	}

	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	bins := harness.Binaries{Dir: abs(*bin)}
	if err := bins.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "katonic-e2e: %v\n", err)
		return 2
	}
	names := splitList(*envs)
	if len(names) == 0 {
		files, _ := filepath.Glob(filepath.Join(*repo, "environments", "*.cue"))
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".cue"))
		}
		sort.Strings(names)
	}
	if len(names) == 0 {
		fmt.Fprintf(os.Stderr, "katonic-e2e: no environments in %s\n", filepath.Join(*repo, "environments"))
		return 2
	}
	// The defaults of -oci and -upgrade name examples: they apply to the
	// environments run; a name given on the command line must be run.
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	ociEnvs, upgradeEnvs := splitList(*oci), splitList(*upgrade)
	if !set["oci"] {
		ociEnvs = only(ociEnvs, names)
	}
	if !set["upgrade"] {
		upgradeEnvs = only(upgradeEnvs, names)
	}
	runs, err := plan(names, ociEnvs, upgradeEnvs, *negative)
	if err != nil {
		fmt.Fprintf(os.Stderr, "katonic-e2e: %v\n", err)
		return 2
	}
	dir := *work
	keep := dir != ""
	if dir == "" {
		d, err := os.MkdirTemp("", "katonic-e2e-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "katonic-e2e: %v\n", err)
			return 2
		}
		dir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var results []*harness.Result
	failed := false
	for i, sc := range runs {
		o := sc.options
		o.Repo, o.Katonic, o.RefCharts, o.Timeout = abs(*repo), bins.Path("katonic"), abs(*refCharts), *timeout
		o.Work = filepath.Join(dir, fmt.Sprintf("%02d-%s", i+1, sc.slug()))
		o.Log = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "katonic-e2e: [%s] "+format+"\n", append([]any{sc.name}, args...)...)
		}
		fmt.Fprintf(os.Stderr, "katonic-e2e: run %d of %d: %s\n", i+1, len(runs), sc.name)
		r, err := harness.Run(ctx, bins, o)
		if err != nil {
			fmt.Fprintf(os.Stderr, "katonic-e2e: %s: %v\n", sc.name, err)
			return 2
		}
		r.Name = sc.name
		results = append(results, r)
		failed = failed || !r.OK()
	}
	printTable(os.Stdout, results)
	// Every cluster was stopped; none of its processes may outlive it.
	if left := harness.Leftovers(bins.Dir); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "katonic-e2e: processes left behind: %s\n", strings.Join(left, ", "))
		failed = true
	} else {
		fmt.Fprintf(os.Stderr, "katonic-e2e: every component stopped; no process left behind\n")
	}
	if failed {
		fmt.Fprintf(os.Stderr, "katonic-e2e: not every run went as it should; logs are in %s\n", dir)
		return 1
	}
	if !keep {
		_ = os.RemoveAll(dir)
	}
	return 0
}

// printTable writes one row per run, then what each row needs said: the
// stand-ins, an upgrade's changes, a negative run's expected failure, and
// every failure of a run that did not go as it should.
func printTable(w io.Writer, rs []*harness.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tMIRROR\tKUSTOMIZATIONS READY\tHELMRELEASES READY\tPODS SCHEDULED\tON THEIR POOL\tTIME\tRESULT")
	for _, r := range rs {
		result := "ok"
		switch {
		case r.Negative && r.OK():
			result = "ok, failed as expected"
		case r.Negative:
			result = "FAILED: the expected failure did not show"
		case !r.OK():
			result = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%s\t%s\n", r.Name, r.Mirror, r.KustomizationsReady, r.Kustomizations,
			r.HelmReleasesReady, r.HelmReleases, r.PodsScheduled, r.Pods, r.PodsOnPool, r.Pods, r.Duration.Round(time.Second), result)
	}
	tw.Flush()
	for _, r := range rs {
		if len(r.StandIns) > 0 && !r.Negative {
			fmt.Fprintf(w, "%s: stand-ins for what the mirror lacks: %s\n", r.Name, strings.Join(r.StandIns, ", "))
		}
		if r.Upgrade != "" && r.OK() {
			fmt.Fprintf(w, "%s: katonic diff listed %d changed objects; the cluster shows every one\n", r.Name, r.Changes)
		}
		if r.Negative && r.OK() {
			fmt.Fprintf(w, "%s: %s\n", r.Name, r.Expected)
			continue
		}
		if !r.OK() {
			for _, f := range r.Failures {
				fmt.Fprintf(w, "%s: %s\n", r.Name, f)
			}
			fmt.Fprintf(w, "%s: logs in %s\n", r.Name, r.LogDir)
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
