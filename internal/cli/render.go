package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/policy"
	"github.com/katonic/katonic/internal/rendercache"
	"github.com/katonic/katonic/internal/secrets"
)

type renderOptions struct {
	out     string
	check   bool
	strict  bool
	shard   string
	noCache bool
	format  string
}

func newRenderCmd(stdout, stderr io.Writer) *cobra.Command {
	var o renderOptions
	cmd := &cobra.Command{
		Use:               "render [ENV...]",
		ValidArgsFunction: completeEnvs,
		Short:             "Validate environments and render them into out/",
		Long: `render validates all environments, or the named ones, and renders each into
the output directory: out/clusters/ENV/ (what 'flux bootstrap --path' points
at) and out/environments/ENV/ (the directories its Flux Kustomizations build).

Nothing is written unless every selected environment is valid. katonic owns
the files it generated (listed in out/.katonic-generated): it rewrites them,
removes the ones it no longer generates, and never touches any other file.

With --check nothing is written: render compares a fresh render with the
output directory, lists the files that would be added, changed or removed on
stdout, and exits 3 when there are any (for pull-request CI).

-o json prints the outcome on stdout as JSON (schemaVersion 1): each
environment with its profile, versions, file count and the files added,
changed and removed, and every change by path; the exit codes stay the same.
On a terminal, rendering many environments shows a progress bar on stderr.`,
		Example: `  # Render every environment into out/
  katonic render

  # Render one environment into another directory
  katonic render acme-azure --out /tmp/flux-repo

  # Fail when out/ is not what the sources render (CI)
  katonic render --check

  # What changed, for a machine
  katonic render -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRender(stdout, stderr, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "out", "output `directory`")
	f.BoolVar(&o.check, "check", false, "write nothing; list what differs from a fresh render and exit 3 if anything does")
	f.BoolVar(&o.strict, "strict", false, "treat warnings as errors")
	f.BoolVar(&o.noCache, "no-cache", false, "render everything, ignoring the render cache ($KATONIC_RENDER_CACHE_DIR or the user cache directory)")
	f.StringVarP(&o.format, "output", "o", "text", "output `format`: text (a summary on stderr) or json (on stdout)")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "json"))
	f.StringVar(&o.shard, "shard", "", "render only shard `K/N` of the environments (a stable split by name; the union of all shards is a full render)")
	markPaths(cmd, "out")
	return cmd
}

func runRender(stdout, stderr io.Writer, o renderOptions, envs []string) error {
	if o.format != "text" && o.format != "json" {
		return exitf(ExitUsage, "-o %s: want text or json", o.format)
	}
	var shard compile.Shard
	if o.shard != "" {
		var err error
		if shard, err = compile.ParseShard(o.shard); err != nil {
			return exitf(ExitUsage, "--shard: %v", err)
		}
	}
	if err := checkOutDir(o.out); err != nil {
		return err
	}
	cache := renderCache(o.noCache)
	// The policies are evaluated as each environment is rendered, from
	// the objects the render built.
	early := startPolicies(o.out)
	// A whole render that comes from the cache is compared with out/ by
	// its manifest: read out/'s manifest and the stat cache meanwhile.
	var pre *outdir.Prefetch
	if abs, err := filepath.Abs(o.out); err == nil && cache != nil && shard.Of <= 1 {
		pre = outdir.StartPrefetch(abs, outdir.Options{StatCache: statCache(cache, abs)})
	}
	bar := newProgress(stderr, "rendering")
	res, err := compile.Compile(compile.Options{Envs: envs, OutDir: o.out, Strict: o.strict, Render: true, Shard: shard, Cache: cache, Lazy: true, Background: true, Progress: bar, Rendered: early.rendered})
	// The cache entry of a fleet is written while out/ is checked and
	// written.
	defer res.Wait()
	bar.Finish()
	if err := report(stderr, res, err); err != nil {
		return err
	}
	// Policies gate the render: nothing is written while one fails.
	set, err := early.loaded(stderr)
	if err != nil {
		return err
	}
	results, err := evaluatePolicies(stderr, set, res, o.out, cache, early)
	if err != nil {
		return err
	}
	if err := policyGate(stderr, results, o.strict); err != nil {
		return err
	}
	cwd, _ := os.Getwd()
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(res.Dir, out)
	}
	shown := diag.Rel(cwd, out)
	scope := res.Scope
	if shard.Of > 1 {
		// A shard also owns the files of removed environments that fall in
		// it, so that the union of all shards removes them as a full render
		// does. (A copy: the compile's cache entry is still being written
		// from res.)
		scope = append(slices.Clip(scope), shardRemovals(out, shard, res)...)
		if len(scope) == 0 {
			fmt.Fprintf(stderr, "shard %s has no environments\n", shard)
			return nil
		}
	}

	wopts := outdir.Options{Scope: scope, Progress: stderr, StatCache: statCache(cache, out), Prefetch: pre}
	// Nothing to write: out/ already holds every file's hash. Known from
	// the hashes alone (the stat cache spares reading the files), so a
	// fleet where nothing changed reads no rendered file at all.
	// A render that came whole from the cache is first compared by the
	// SHA-256 of its manifest: when out/ holds that manifest, only its
	// files are looked at. A render made now is compared as a change from
	// the last one, which out/ most likely holds, by that one's manifest.
	var drift outdir.Drift
	var known bool
	if res.BaseSum != "" {
		drift, known, err = outdir.CheckDelta(out, res.BaseSum, res.Changed, wopts)
	} else {
		drift, known, err = outdir.CheckSum(out, res.ManifestSum, wopts)
	}
	if err == nil && !known {
		drift, err = outdir.Check(out, res.Hashes(), wopts)
	}
	if err != nil {
		return outputError(err)
	}
	upToDate := drift.UpToDate()

	if o.check {
		var changes []outdir.Change
		if !upToDate {
			if err := res.ReadFiles(); err != nil {
				return err
			}
			if changes, err = outdir.PlanWith(out, res.Files, wopts); err != nil {
				return outputError(err)
			}
		}
		if o.format == "json" {
			if err := writeJSON(stdout, summary(res, changes, shown, true)); err != nil {
				return err
			}
		} else {
			for _, c := range changes {
				fmt.Fprintf(stdout, "%s\t%s\n", c.Kind, shown+"/"+c.Path)
			}
		}
		if len(changes) > 0 {
			verb := "differ"
			if len(changes) == 1 {
				verb = "differs"
			}
			return exitf(ExitOutOfDate, "%s is out of date: %d %s %s from a fresh render; run 'katonic render'",
				shown, len(changes), plural(len(changes), "file"), verb)
		}
		if o.format != "json" {
			n := len(res.Envs)
			fmt.Fprintf(stderr, "%s is up to date: %d %s, %d files as a fresh render writes them\n", shown, n, plural(n, "environment"), len(res.Hashes()))
		}
		return nil
	}

	var changes []outdir.Change
	if !upToDate {
		if changes, err = write(out, res, drift, wopts); err != nil {
			return err
		}
	}
	sum := summary(res, changes, shown, false)
	if o.format == "json" {
		return writeJSON(stdout, sum)
	}
	sum.print(stderr)
	return nil
}

// renderSummary is what a render did (or, with --check, would do): the
// text summary on stderr and the JSON of render -o json.
type renderSummary struct {
	SchemaVersion int             `json:"schemaVersion"`
	Out           string          `json:"out"`
	Check         bool            `json:"check"`
	Environments  []renderedEnv   `json:"environments"`
	Changes       []outdir.Change `json:"changes"`
	// Stale counts the removed files of environments that no longer exist.
	Stale int `json:"stale"`
}

// renderedEnv is one environment's line of the summary.
type renderedEnv struct {
	Name              string `json:"name"`
	Profile           string `json:"profile"`
	PlatformVersion   string `json:"platformVersion"`
	KubernetesVersion string `json:"kubernetesVersion"`
	Files             int    `json:"files"`
	Added             int    `json:"added"`
	Changed           int    `json:"changed"`
	Removed           int    `json:"removed"`
	Warnings          int    `json:"warnings"`
}

// summary counts changes per rendered environment; changes outside every
// environment's scope that remove files are stale.
func summary(res *compile.Result, changes []outdir.Change, shown string, check bool) renderSummary {
	sum := renderSummary{SchemaVersion: 1, Out: shown, Check: check, Environments: []renderedEnv{}, Changes: changes}
	if sum.Changes == nil {
		sum.Changes = []outdir.Change{}
	}
	claimed := make([]bool, len(changes))
	for _, e := range res.Envs {
		r := renderedEnv{Name: e.Env.Name, Profile: string(e.Env.Profile), PlatformVersion: e.Env.PlatformVersion,
			KubernetesVersion: e.Env.KubernetesVersion, Files: len(e.Files), Warnings: e.Diags.Warnings()}
		for i, c := range changes {
			if !inScope(c.Path, compile.Scope(e.Env.Name)) {
				continue
			}
			claimed[i] = true
			switch c.Kind {
			case outdir.Added:
				r.Added++
			case outdir.Changed:
				r.Changed++
			case outdir.Removed:
				r.Removed++
			}
		}
		sum.Environments = append(sum.Environments, r)
	}
	for i, c := range changes {
		if !claimed[i] && c.Kind == outdir.Removed {
			sum.Stale++
		}
	}
	return sum
}

// print writes one line per rendered environment, and one for files of
// environments that are gone, in one write per 4 KiB rather than one per
// line: stderr is not buffered, and a fleet has a thousand lines.
func (s renderSummary) print(out io.Writer) {
	w := bufio.NewWriter(out)
	defer w.Flush()
	for _, e := range s.Environments {
		fmt.Fprintf(w, "%s: %s, platform %s, Kubernetes %s: %d files in %s (%d added, %d changed, %d removed), %d %s\n",
			e.Name, e.Profile, e.PlatformVersion, e.KubernetesVersion,
			e.Files, s.Out, e.Added, e.Changed, e.Removed, e.Warnings, plural(e.Warnings, "warning"))
	}
	if s.Stale > 0 {
		fmt.Fprintf(w, "removed %d %s of environments that no longer exist\n", s.Stale, plural(s.Stale, "file"))
	}
}

func inScope(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

func outputError(err error) error {
	var own *outdir.OwnershipError
	if errors.As(err, &own) {
		return exitf(ExitOutput, "%v", err)
	}
	return exitf(ExitOutput, "%v", err)
}

// shardRemovals returns the scope of the environments that have files in
// the ownership manifest of out, fall in shard, and are not rendered.
func shardRemovals(out string, shard compile.Shard, res *compile.Result) []string {
	m, err := outdir.ReadManifest(out)
	if err != nil {
		return nil // Plan and Write report an unreadable manifest
	}
	rendered := map[string]bool{}
	for _, e := range res.Envs {
		rendered[e.Env.Name] = true
	}
	seen := map[string]bool{}
	var scope []string
	for p := range m {
		name, ok := envOf(p)
		if !ok {
			continue
		}
		if seen[name] || rendered[name] || !shard.Has(name) {
			continue
		}
		seen[name] = true
		scope = append(scope, compile.Scope(name)...)
	}
	sort.Strings(scope)
	return scope
}

// renderCache returns the render cache, or nil when disabled or when no
// cache directory is known (then everything is rendered).
func renderCache(off bool) *rendercache.Cache {
	if off {
		return nil
	}
	d, err := rendercache.DefaultDir()
	if err != nil {
		return nil
	}
	return &rendercache.Cache{Dir: d}
}

// write writes res into out, where outdir.Check found drift. When the
// drift lies in some environments' directories only (their files' hashes
// changed, they are gone, or a file of theirs was edited by hand), only
// those directories are written, each swapped in whole (outdir's scoped
// write), so one changed environment costs that environment, not the
// fleet; anything else (a manifest katonic did not write, a killed
// render's leftovers) gets the full write.
func write(out string, res *compile.Result, drift outdir.Drift, opts outdir.Options) ([]outdir.Change, error) {
	// Past half the fleet, one swap of the whole tree is cheaper than a
	// swap per environment.
	if scope, envs, ok := changedScope(drift, res); ok && opts.Scope == nil && len(scope) <= len(res.Envs) {
		if err := res.ReadFiles(envs...); err != nil {
			return nil, err
		}
		desired := map[string][]byte{}
		for _, e := range res.Envs {
			if slices.Contains(envs, e.Env.Name) {
				for _, p := range e.Files {
					desired[p] = res.Files[p]
				}
			}
		}
		sopts := opts
		sopts.Scope = scope
		changes, err := outdir.WriteWith(out, desired, sopts)
		if err != nil {
			return nil, outputError(err)
		}
		return changes, nil
	}
	if err := res.ReadFiles(); err != nil {
		return nil, err
	}
	changes, err := outdir.WriteWith(out, res.Files, opts)
	if err != nil {
		return nil, outputError(err)
	}
	return changes, nil
}

// changedScope returns the scope of the environments the drift lies in
// (rendered or gone), and the rendered ones among them. ok is false when
// the drift cannot be written environment by environment: the whole
// directory must be written, or a drifted path lies outside clusters/<env>/
// and environments/<env>/.
func changedScope(drift outdir.Drift, res *compile.Result) (scope outdir.Scope, envs []string, ok bool) {
	if drift.Whole {
		return nil, nil, false
	}
	changed := map[string]bool{}
	for _, p := range drift.Paths {
		name, ok := envOf(p)
		if !ok {
			return nil, nil, false
		}
		changed[name] = true
	}
	rendered := map[string]bool{}
	for _, e := range res.Envs {
		rendered[e.Env.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(changed)) {
		scope = append(scope, compile.Scope(name)...)
		if rendered[name] {
			envs = append(envs, name)
		}
	}
	return scope, envs, len(scope) > 0
}

// statCache returns where the output directory out's stat cache lives:
// in the render cache's directory, named by out's absolute path; "" (no
// stat cache) when the render cache is off.
func statCache(cache *rendercache.Cache, out string) string {
	if cache == nil || cache.Dir == "" {
		return ""
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return ""
	}
	return filepath.Join(cache.Dir, "stat", rendercache.NewHasher().AddString("out", abs).Key())
}

// envOf returns the environment whose output a generated path belongs to
// (clusters/<env>/… or environments/<env>/…, as compile.Scope names them),
// or false for any other path.
func envOf(p string) (string, bool) {
	parts := strings.SplitN(p, "/", 3)
	if len(parts) < 3 || parts[0] != "clusters" && parts[0] != "environments" {
		return "", false
	}
	return parts[1], true
}

// inputDirs are the directories of the repository katonic reads: the
// output directory's trees must stay out of them.
var inputDirs = []string{"cue.mod", load.SchemaDir, load.ProfilesDir, load.EnvironmentsDir, secrets.Dir, policy.Dir}

// checkOutDir refuses an output directory out (absolute, or relative to
// the repository root, the working directory) whose trees katonic writes,
// out/clusters/ and out/environments/, would overlap a directory it reads:
// --out . would write environments/<env>/ directories into environments/,
// which the next load refuses, and --out environments or --out secrets
// the same. Links are resolved as far as the paths exist. The error exits
// ExitOutput.
func checkOutDir(out string) error {
	root, err := os.Getwd()
	if err != nil {
		return nil // the compile reports it
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	out, root = resolveExisting(out), resolveExisting(root)
	for _, in := range inputDirs {
		dir := filepath.Join(root, in)
		for _, tree := range []string{"clusters", "environments"} {
			if t := filepath.Join(out, tree); within(dir, t) || within(t, dir) {
				return exitf(ExitOutput, "--out %s: katonic would write %s/ into or over %s/, which it reads: give an output directory whose clusters/ and environments/ stay out of %s/ (out/ by default)",
					diag.Rel(root, out), tree, in, strings.Join(inputDirs, "/, "))
			}
		}
	}
	return nil
}

// resolveExisting is the absolute path p with its symbolic links resolved
// as far as it exists (an output directory may not exist yet).
func resolveExisting(p string) string {
	p = filepath.Clean(p)
	for rest := ""; ; {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// within reports whether path is dir or inside it (both clean and
// absolute).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsLocal(rel)
}
