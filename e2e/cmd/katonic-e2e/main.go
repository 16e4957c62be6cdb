// Command katonic-e2e reconciles katonic's example environments with the
// real Flux controllers on a local control plane, one environment at a
// time, and prints a table: Kustomizations and HelmReleases Ready, pods
// scheduled on their node pools, and the time each took. `make e2e` runs it
// after building the binaries (make e2e-tools).
//
// Exit status: 0 when every environment reconciled, 1 when one did not (the
// report names each object that is not Ready with its controller's message,
// and each pod the scheduler could not place with its reason; the
// components' logs are kept), 2 for a usage error or a harness failure.
package main

import (
	"context"
	"flag"
	"fmt"
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
	work := flag.String("work", "", "work `directory` (default: a new temporary directory, removed when every environment passed)")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long one environment may take to become Ready")
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
	for _, name := range names {
		o := harness.Options{
			Repo: abs(*repo), Env: name, Katonic: bins.Path("katonic"), RefCharts: abs(*refCharts),
			Work: filepath.Join(dir, name), Timeout: *timeout,
			Log: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "katonic-e2e: "+format+"\n", args...) },
		}
		r, err := harness.Run(ctx, bins, o)
		if err != nil {
			fmt.Fprintf(os.Stderr, "katonic-e2e: %s: %v\n", name, err)
			return 2
		}
		results = append(results, r)
		failed = failed || !r.OK()
	}
	printTable(os.Stdout, results)
	if failed {
		fmt.Fprintf(os.Stderr, "katonic-e2e: not every environment reconciled; logs are in %s\n", dir)
		return 1
	}
	if !keep {
		_ = os.RemoveAll(dir)
	}
	return 0
}

func printTable(w *os.File, rs []*harness.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tKUSTOMIZATIONS READY\tHELMRELEASES READY\tPODS SCHEDULED\tON THEIR POOL\tTIME\tRESULT")
	for _, r := range rs {
		result := "ok"
		if !r.OK() {
			result = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%s\t%s\n", r.Env, r.KustomizationsReady, r.Kustomizations,
			r.HelmReleasesReady, r.HelmReleases, r.PodsScheduled, r.Pods, r.PodsOnPool, r.Pods, r.Duration.Round(time.Second), result)
	}
	tw.Flush()
	for _, r := range rs {
		if len(r.StandIns) > 0 {
			fmt.Fprintf(w, "%s: stand-ins for what the mirror lacks: %s\n", r.Env, strings.Join(r.StandIns, ", "))
		}
		for _, f := range r.Failures {
			fmt.Fprintf(w, "%s: %s\n", r.Env, f)
		}
		if !r.OK() {
			fmt.Fprintf(w, "%s: logs in %s\n", r.Env, r.LogDir)
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
