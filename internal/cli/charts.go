package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/charts"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/verify"
)

func newChartsCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "charts",
		Short: "Manage the local chart cache and charts.lock",
		Long: `charts manages the Helm charts the rendered HelmReleases install: the local,
content-addressed chart cache that 'katonic verify' templates them from, and
charts.lock, which records each chart's digest so a chart that changes
upstream is detected, not silently used.`,
		Example: `  katonic charts pull`,
	}
	cmd.AddCommand(newChartsPullCmd(stdout, stderr))
	return cmd
}

type pullOptions struct {
	update    bool
	plainHTTP bool
	cache     string
}

func newChartsPullCmd(stdout, stderr io.Writer) *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:               "pull [ENV...]",
		ValidArgsFunction: completeEnvs,
		Short:             "Download the charts of the rendered HelmReleases and lock their digests",
		Long: `pull renders all environments, or the named ones, in memory and downloads
every chart their HelmReleases install from the rendered HelmRepository and
OCIRepository sources, with Helm's own repository downloader and registry
client, into the chart cache. Each chart's sha256 digest is recorded in
charts.lock at the repository root.

A chart whose digest differs from charts.lock is not accepted: pull reports
it and exits 5 until you review the change and run pull --update. Without
environment arguments, entries no environment uses any more are removed
from charts.lock. One line per chart goes to stdout: status, chart, digest.`,
		Example: `  # Fill the cache and charts.lock for every environment
  katonic charts pull

  # Accept charts that changed upstream, after reviewing them
  katonic charts pull --update

  # A mirror on plain HTTP (e.g. a registry on localhost)
  katonic charts pull --plain-http`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runChartsPull(cmd.Context(), stdout, stderr, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.update, "update", false, "accept charts whose digest differs from charts.lock")
	f.BoolVar(&o.plainHTTP, "plain-http", false, "use plain HTTP for OCI registries")
	f.StringVar(&o.cache, "cache", "", "chart cache `directory` (default $KATONIC_CACHE_DIR or the user cache directory)")
	markPaths(cmd, "cache")
	return cmd
}

func runChartsPull(ctx context.Context, stdout, stderr io.Writer, o pullOptions, envs []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := compile.Compile(compile.Options{Envs: envs, Render: true})
	if err := report(stderr, res, err); err != nil {
		return err
	}
	var refs []charts.Ref
	for _, e := range res.Envs {
		for _, r := range verify.ChartRefs(e.Releases) {
			if !slices.Contains(refs, r) {
				refs = append(refs, r)
			}
		}
	}
	slices.SortFunc(refs, func(a, b charts.Ref) int { return strings.Compare(a.String(), b.String()) })
	lockPath := filepath.Join(res.Dir, charts.LockFile)
	lock, err := charts.ReadLock(lockPath)
	if err != nil {
		return exitf(ExitInvalid, "%v", err)
	}
	cache, err := chartCache(o.cache)
	if err != nil {
		return exitf(ExitUsage, "%v", err)
	}
	results, pullErr := charts.Pull(ctx, refs, charts.PullOptions{
		Cache: cache, Lock: lock, Update: o.update, PlainHTTP: o.plainHTTP,
	})
	for _, r := range results {
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", r.Status, r.Entry.Ref, r.Entry.Digest)
	}
	failures := unjoin(pullErr)
	for _, f := range failures {
		fmt.Fprintf(stderr, "katonic: %v\n", f)
	}
	var removed []charts.Entry
	if len(envs) == 0 && pullErr == nil {
		removed = lock.Retain(refs)
		for _, e := range removed {
			fmt.Fprintf(stdout, "removed\t%s\t%s\n", e.Ref, e.Digest)
		}
	}
	// The lock records what was fetched; a pull that fetched nothing (no
	// network, say) leaves it as it was, and never creates an empty one.
	changed := len(removed) > 0
	for _, r := range results {
		changed = changed || r.Status != charts.StatusUnchanged
	}
	if changed {
		if err := lock.Write(lockPath); err != nil {
			return exitf(ExitOutput, "%v", err)
		}
	}
	total := fmt.Sprintf("%d %s fetched, %d failed", len(results), plural(len(results), "chart"), len(failures))
	if pullErr != nil {
		var de *charts.DigestError
		if errors.As(pullErr, &de) {
			return exitf(ExitVerify, "charts pull: %s: a chart differs from charts.lock", total)
		}
		if unreachable(failures) {
			total += `; the chart repositories could not be reached: on a machine without access to them, set charts.mirror in the environment to a mirror it can reach (README, "Charts")`
		}
		// A chart not fetched is not locked, and verify fails on it.
		total += "; katonic verify fails on the charts not fetched until they are locked (or run it with --layers " +
			strings.Join([]string{verify.LayerBuild, verify.LayerSchema, verify.LayerRefs, verify.LayerPolicy}, ",") + ")"
		return exitf(ExitFetch, "charts pull: %s", total)
	}
	fmt.Fprintf(stderr, "charts pull: %s\n", total)
	return nil
}

// unjoin splits the errors.Join of charts.Pull into one error per chart.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// unreachable reports whether any failure is a network one: a name that
// does not resolve, a connection refused or timed out.
func unreachable(errs []error) bool {
	for _, e := range errs {
		var dns *net.DNSError
		var op *net.OpError
		if errors.As(e, &dns) || errors.As(e, &op) {
			return true
		}
		msg := e.Error()
		for _, s := range []string{"no such host", "connection refused", "i/o timeout", "network is unreachable", "dial tcp"} {
			if strings.Contains(msg, s) {
				return true
			}
		}
	}
	return false
}
