package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/charts"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/verify"
)

type verifyOptions struct {
	out    string
	render bool
	layers []string
	format string
	strict bool
	cache  string
}

func newVerifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:               "verify [ENV...]",
		ValidArgsFunction: completeEnvs,
		Short:             "Prove offline that Flux will reconcile the rendered output",
		Long: `verify checks the rendered output of all environments, or the named ones,
in layers, without a cluster and without the network:

  build   every Flux Kustomization reachable from out/clusters/ENV/ is built
          the way kustomize-controller builds it (fluxcd/pkg/kustomize), with
          strict post-build variable substitution
  schema  every Flux object is validated against its CRD, CEL rules included;
          every other object is strictly decoded into its Kubernetes type
  refs    every sourceRef, chartRef, dependsOn, valuesFrom and secretRef
          resolves; dependsOn has no cycle; every namespace used is created
  charts  every HelmRelease is templated through its chart from the local
          chart cache (filled by 'katonic charts pull', pinned by charts.lock);
          its Ingress hosts must follow the DNS conventions
  fit     the templated charts and the Kustomizations' objects must fit the
          environment: pods select their node pool and tolerate its taints
          (DaemonSets excepted), each fits one node's allocatable and each
          pool holds its pods at maxNodes; volume claims name an existing
          StorageClass and, on-prem, fit Longhorn's disks; images are pinned
          (never latest) and come from the chart's registries or the image
          mirror; Ingress paths are Prefix. Per pool, requests against
          allocatable at minNodes and maxNodes go to stderr
  policy  the policies of policy/ (see 'katonic policy'), waivers honoured

It checks out/ as it is on disk, or with --render a fresh render held in
memory. The configuration is validated first (as 'katonic vet'). Findings go
to stdout, one per line with file:line:column, or as JSON with -o json.

The charts and fit layers read every chart from charts.lock and the chart
cache, both filled by 'katonic charts pull'. A chart that either lacks was
never checked, so it is an error naming the environment and the chart, never
a pass: run 'katonic charts pull', or leave both layers out with
--layers build,schema,refs,policy.

Exit codes:
  0  no error (warnings are printed; with --strict there were none)
  1  the configuration has errors, as 'katonic vet' reports them, or
     charts.lock is malformed
  2  usage: a bad flag or layer, an unknown environment, not a katonic
     repository
  5  verify found an error in a layer (a chart not locked or not in the
     chart cache, and a policy violated, included), or a warning with
     --strict`,
		Example: `  # Verify every environment's out/ tree, all layers
  katonic verify

  # Without the charts (no access to the chart repositories): the layers
  # that need no chart cache
  katonic verify --layers build,schema,refs,policy

  # Verify a fresh render of one environment, as JSON
  katonic verify acme-azure --render -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(stdout, stderr, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "out", "output `directory` to verify")
	f.BoolVar(&o.render, "render", false, "verify a fresh render held in memory instead of the output directory")
	f.StringSliceVar(&o.layers, "layers", verify.Layers(), "`layers` to run, comma separated: "+strings.Join(verify.Layers(), ","))
	f.StringVarP(&o.format, "output", "o", "text", "output `format`: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "json"))
	_ = cmd.RegisterFlagCompletionFunc("layers", completeWords(verify.Layers()...))
	f.BoolVar(&o.strict, "strict", false, "treat warnings as errors")
	f.StringVar(&o.cache, "cache", "", "chart cache `directory` (default $KATONIC_CACHE_DIR or the user cache directory)")
	markPaths(cmd, "out", "cache")
	return cmd
}

func runVerify(stdout, stderr io.Writer, o verifyOptions, envs []string) error {
	if o.format != "text" && o.format != "json" {
		return exitf(ExitUsage, "-o %s: want text or json", o.format)
	}
	bar := newProgress(stderr, "rendering")
	res, err := compile.Compile(compile.Options{Envs: envs, OutDir: o.out, Strict: o.strict, Render: true, Progress: bar})
	bar.Finish()
	if err := report(stderr, res, err); err != nil {
		return err
	}
	cwd, _ := os.Getwd()
	root, out := outputRoot(res.Dir, o.out)
	// The lock and the cache are read only for the charts and fit layers,
	// so a broken charts.lock does not stop the other layers.
	var (
		lock  *charts.Lock
		cache charts.Cache
	)
	if slices.Contains(o.layers, verify.LayerCharts) || slices.Contains(o.layers, verify.LayerFit) {
		if lock, err = charts.ReadLock(filepath.Join(res.Dir, charts.LockFile)); err != nil {
			return exitf(ExitInvalid, "%v", err)
		}
		if cache, err = chartCache(o.cache); err != nil {
			return exitf(ExitUsage, "%v", err)
		}
	}
	if !o.render {
		outAbs := filepath.Join(root, filepath.FromSlash(out))
		if changes, err := outdir.Plan(outAbs, res.Files, res.Scope); err == nil && len(changes) > 0 {
			fmt.Fprintf(stderr, "katonic: note: %s differs from a fresh render in %d %s; verify checks it as it is (run 'katonic render', or verify --render)\n",
				diag.Rel(cwd, outAbs), len(changes), plural(len(changes), "file"))
		}
	}
	opts := verify.Options{Root: root, Out: out, Layers: o.layers, Cache: cache, Lock: lock, WorkDir: cwd}
	if slices.Contains(o.layers, verify.LayerPolicy) {
		set, err := loadPolicies(stderr, res.Dir)
		if err != nil {
			return err
		}
		opts.Policy = policyLayer(set, root, cwd, out)
	}
	if o.render {
		opts.Files = res.Files
	}
	for _, e := range res.Envs {
		opts.Envs = append(opts.Envs, verify.Env{Env: e.Env, Releases: e.Releases, Secrets: e.Secrets})
	}
	bar = newProgress(stderr, "verifying")
	bar.Start(len(opts.Envs))
	opts.Progress = bar.Done
	rep, err := verify.Run(opts)
	bar.Finish()
	if err != nil {
		return exitf(ExitUsage, "%v", err)
	}
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitf(ExitOutput, "%v", err)
		}
	} else {
		for _, e := range rep.Envs {
			for _, f := range e.Findings {
				fmt.Fprintf(stdout, "%s: %s\n", f.Layer, f.Format(""))
			}
		}
		for _, e := range rep.Envs {
			errs, warns := 0, 0
			for _, f := range e.Findings {
				if f.Severity == diag.Error {
					errs++
				} else {
					warns++
				}
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s: %d Flux %s built", e.Name, e.Kustomizations, plural(e.Kustomizations, "Kustomization"))
			if n := len(e.Remote); n > 0 {
				fmt.Fprintf(&b, " (%d more from a remote source, not built)", n)
			}
			fmt.Fprintf(&b, ", %d objects", e.Objects)
			if slices.Contains(rep.Layers, verify.LayerCharts) || slices.Contains(rep.Layers, verify.LayerFit) {
				fmt.Fprintf(&b, ", %d %s templated", e.Charts, plural(e.Charts, "chart"))
				if len(e.NotChecked) > 0 {
					fmt.Fprintf(&b, " (not checked: %s)", strings.Join(e.NotChecked, ", "))
				}
			}
			fmt.Fprintf(&b, ": %d %s, %d %s", errs, plural(errs, "error"), warns, plural(warns, "warning"))
			fmt.Fprintln(stderr, b.String())
			for _, p := range e.Pools {
				fmt.Fprintf(stderr, "%s: %s\n", e.Name, p.Summary())
			}
		}
	}
	errs, warns := rep.Errors(), rep.Warnings()
	if errs > 0 || (o.strict && warns > 0) {
		return exitf(ExitVerify, "verify (%s): %d %s, %d %s", strings.Join(rep.Layers, ", "),
			errs, plural(errs, "error"), warns, plural(warns, "warning"))
	}
	return nil
}

// outputRoot returns the directory Flux's GitRepository serves and the
// output directory relative to it: the repository root and "out", or, for
// an --out outside the repository, the output directory itself and ".".
func outputRoot(repo, out string) (string, string) {
	if !filepath.IsAbs(out) {
		out = filepath.Join(repo, out)
	}
	prefix := compile.PathPrefix(repo, out)
	if prefix == "." {
		return out, "."
	}
	return repo, strings.TrimPrefix(prefix, "./")
}

// chartCache returns the chart cache in dir, or the default one.
func chartCache(dir string) (charts.Cache, error) {
	if dir != "" {
		abs, err := filepath.Abs(dir)
		return charts.Cache{Dir: abs}, err
	}
	d, err := charts.DefaultCacheDir()
	return charts.Cache{Dir: d}, err
}
