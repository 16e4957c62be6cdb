package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/policy"
	"github.com/katonic/katonic/internal/render"
	"github.com/katonic/katonic/internal/rendercache"
	"github.com/katonic/katonic/internal/verify"
)

type policyOptions struct {
	format string
	strict bool
}

func newPolicyCmd(stdout, stderr io.Writer) *cobra.Command {
	var o policyOptions
	cmd := &cobra.Command{
		Use:               "policy [ENV...]",
		ValidArgsFunction: completeEnvs,
		Short:             "Check the rendered output against the policies in policy/",
		Long: `policy renders all environments, or the named ones, in memory and evaluates
the policies of the policy/ directory over each environment's objects. A
policy is CUE: an id, a severity (error or warning), a message, the source of
the rule, and the violations it computes from the environment and its
rendered objects. Add a policy by adding a .cue file to policy/.

An environment may waive a policy only with a recorded reason:

  environments: acme: waivers: "default-deny": "the data team's namespaces are open by design (ticket OPS-42)"

A waived violation is reported as waived, with its reason, and does not fail.
Waiving a policy that does not exist is an error.

Output (-o): text (one line per violation, with file:line), json
(schemaVersion 1) or sarif (SARIF 2.1.0, for code-scanning annotations).
policy exits 7 when a policy of severity error is violated (or a warning,
with --strict). render and verify run the same policies.`,
		Example: `  katonic policy
  katonic policy acme-azure -o json
  katonic policy -o sarif > policy.sarif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPolicy(stdout, stderr, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "output", "o", "text", "output `format`: text, json or sarif")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "json", "sarif"))
	f.BoolVar(&o.strict, "strict", false, "treat warnings as errors")
	return cmd
}

func runPolicy(stdout, stderr io.Writer, o policyOptions, envs []string) error {
	switch o.format {
	case "text", "json", "sarif":
	default:
		return exitf(ExitUsage, "-o %s: want text, json or sarif", o.format)
	}
	early := startPolicies("out")
	bar := newProgress(stderr, "rendering")
	res, err := compile.Compile(compile.Options{Envs: envs, Render: true, Progress: bar, Rendered: early.rendered})
	bar.Finish()
	if err := report(stderr, res, err); err != nil {
		return err
	}
	set, err := early.loaded(stderr)
	if err != nil {
		return err
	}
	results, err := evaluatePolicies(stderr, set, res, "out", renderCache(false), early)
	if err != nil {
		return err
	}
	switch o.format {
	case "json":
		err = policy.WriteJSON(stdout, results)
	case "sarif":
		err = policy.WriteSARIF(stdout, set, results, version())
	default:
		err = policy.WriteText(stdout, results)
	}
	if err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	return policyExit(stderr, results, o.strict)
}

// loadPolicies loads policy/ and prints its diagnostics.
func loadPolicies(stderr io.Writer, dir string) (*policy.Set, error) {
	cwd, _ := os.Getwd()
	set, diags, err := policy.Load(dir)
	diags.Print(stderr, cwd)
	if err != nil {
		return nil, exitf(ExitInvalid, "policy/: %v", err)
	}
	return set, nil
}

// earlyPolicies evaluates the policy set of the repository in the working
// directory over each environment as compile renders it
// (compile.Options.Rendered), from the render's objects, so that the
// rendered YAML is not parsed again (policy.Set.EvaluateObjects). The
// results wait for evaluatePolicies, which uses them in place of
// evaluating those environments, caches them, and reports in the usual
// order: the render's diagnostics first, then the policy set's.
type earlyPolicies struct {
	out string // the output directory as given, the prefix of objects' files
	// ready is closed once the set is loaded (or failed to): the load
	// runs while compile computes its cache keys.
	ready chan struct{}
	set   *policy.Set
	none  bool // the set has no policy: only waivers are checked
	diags diag.List
	err   error

	mu      sync.Mutex
	results map[string]*policy.EnvResult
	errs    map[string]error
}

// startPolicies starts loading the policy set of the working directory's
// repository (the one compile.Compile renders) for a render into out, in
// the background; rendered and loaded wait for it.
func startPolicies(out string) *earlyPolicies {
	p := &earlyPolicies{out: out, ready: make(chan struct{}), results: map[string]*policy.EnvResult{}, errs: map[string]error{}}
	dir, err := filepath.Abs(".")
	go func() {
		defer close(p.ready)
		if err != nil {
			p.err = err
			return
		}
		p.set, p.diags, p.err = policy.Load(dir)
		p.none = p.set == nil || len(p.set.Policies()) == 0
	}()
	return p
}

// rendered is the compile.Options.Rendered hook: it evaluates the set
// over one environment just rendered, when the set loaded.
func (p *earlyPolicies) rendered(e compile.EnvResult, r *render.Result) {
	<-p.ready
	if p.err != nil || p.set == nil || p.none && len(e.Env.Waivers) == 0 {
		return
	}
	res, err := p.set.EvaluateObjects(e, r.Files, r.Objects, p.out)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.errs[e.Env.Name] = err
		return
	}
	p.results[e.Env.Name] = res
}

// loaded prints the policy set's diagnostics and returns the set, or an
// ExitInvalid error when it does not load (as loadPolicies).
func (p *earlyPolicies) loaded(stderr io.Writer) (*policy.Set, error) {
	<-p.ready
	cwd, _ := os.Getwd()
	p.diags.Print(stderr, cwd)
	if p.err != nil {
		return nil, exitf(ExitInvalid, "policy/: %v", p.err)
	}
	return p.set, nil
}

// take returns the result evaluated for env during the render, if any.
func (p *earlyPolicies) take(env string) (*policy.EnvResult, error, bool) {
	if p == nil {
		return nil, nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err, ok := p.errs[env]; ok {
		return nil, err, true
	}
	r, ok := p.results[env]
	return r, nil, ok
}

// evaluatePolicies evaluates set over every environment of res (a render
// in memory); a waiver of an unknown policy is a configuration error. With
// a cache, an environment whose configuration, rendered files and policies
// are unchanged reuses its last result, and a fleet where none changed
// reads one entry. An environment of a cached compile is named by its key
// (compile.EnvResult.Key), so its files are read only when it must be
// evaluated. An environment that early (may be nil) evaluated during the
// render is not evaluated again.
func evaluatePolicies(stderr io.Writer, set *policy.Set, res *compile.Result, out string, cache *rendercache.Cache, early *earlyPolicies) ([]*policy.EnvResult, error) {
	cwd, _ := os.Getwd()
	var errs diag.List
	var policyKey string
	if cache != nil && cache.ToolID() != "" {
		h := rendercache.NewHasher().AddString("tool", cache.ToolID()).AddString("out", out)
		if err := h.AddTree(res.Dir, policy.Dir); err == nil {
			policyKey = h.Key()
		}
	}
	none := len(set.Policies()) == 0
	results := make([]*policy.EnvResult, len(res.Envs))
	keys := make([]string, len(res.Envs))
	// The whole fleet's results, when every environment has a key; after
	// a change, the last run's results of the environments it left alone.
	var fleetKey, lastKey string
	fleetHit := false
	last := map[string]*policy.EnvResult{}
	if policyKey != "" {
		h := rendercache.NewHasher().AddString("policies", policyKey)
		for _, e := range res.Envs {
			if e.Key == "" {
				h = nil
				break
			}
			h.AddString("env", e.Key)
		}
		if h != nil {
			fleetKey = h.Key()
			lastKey = rendercache.NewHasher().AddString("last policies", policyKey).AddString("dir", res.Dir).Key()
			var all policyFleet
			if cache.Get(fleetKey, &all) && len(all.Results) == len(res.Envs) {
				results, fleetHit = all.absolute(res.Dir), true
			} else if prev := ""; cache.Get(lastKey, &prev) && cache.Get(prev, &all) && len(all.Keys) == len(all.Results) {
				for i, r := range all.absolute(res.Dir) {
					last[all.Keys[i]] = r
				}
			}
		}
	}
	// Which environments must be evaluated: not cached (keys first, so
	// that only their files are read).
	var todo []int
	var names []string
	for i, e := range res.Envs {
		if results[i] != nil {
			continue
		}
		if none && len(e.Env.Waivers) == 0 {
			// No policy to evaluate and no waiver to check.
			results[i] = &policy.EnvResult{Env: e.Env.Name}
			continue
		}
		if policyKey != "" {
			h := rendercache.NewHasher().AddString("policies", policyKey).AddString("env", e.Env.Name)
			if e.Key != "" {
				h.AddString("key", e.Key)
			} else {
				cfg, _ := json.Marshal(e.Env)
				src, _ := os.ReadFile(filepath.Join(res.Dir, filepath.FromSlash(e.Env.File)))
				h.AddString("file", e.Env.File).Add("source", src).Add("config", cfg)
				for _, p := range e.Files {
					h.Add(p, res.Files[p])
				}
			}
			keys[i] = h.Key()
			if r := last[e.Key]; r != nil && e.Key != "" {
				results[i] = r
				continue
			}
			var r policy.EnvResult
			if cache.Get(keys[i], &r) {
				r.Errors.Absolute(res.Dir)
				results[i] = &r
				continue
			}
		}
		todo = append(todo, i)
		names = append(names, e.Env.Name)
	}
	if len(names) > 0 {
		if err := res.ReadFiles(names...); err != nil {
			return nil, exitf(ExitInvalid, "%v", err)
		}
	}
	// One environment per job on GOMAXPROCS workers (Set.Evaluate is safe
	// for concurrent use); results are kept in environment order.
	bar := newProgress(stderr, "policies")
	bar.Start(len(todo))
	defer bar.Finish()
	fails := make([]error, len(res.Envs))
	one := func(i int) {
		e := res.Envs[i]
		r, err, ok := early.take(e.Env.Name)
		if !ok {
			r, err = set.Evaluate(e, res.Files, out)
		}
		if err != nil {
			fails[i] = exitf(ExitInvalid, "policy: environment %s: %v", e.Env.Name, err)
			return
		}
		if keys[i] != "" {
			cache.Put(keys[i], relativeResult(res.Dir, r))
		}
		results[i] = r
	}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), max(len(todo), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				one(i)
				bar.Done()
			}
		}()
	}
	for _, i := range todo {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i, r := range results {
		if fails[i] != nil {
			return nil, fails[i]
		}
		errs = append(errs, r.Errors...)
	}
	if len(errs) > 0 {
		errs.Sort().Print(stderr, cwd)
		return nil, exitf(ExitInvalid, "%d %s in waivers", len(errs), plural(len(errs), "error"))
	}
	if fleetKey != "" && !fleetHit {
		pf := policyFleet{Results: make([]*policy.EnvResult, len(results))}
		for i, r := range results {
			pf.Results[i] = relativeResult(res.Dir, r)
		}
		for _, e := range res.Envs {
			pf.Keys = append(pf.Keys, e.Key)
		}
		if cache.Put(fleetKey, pf) == nil {
			cache.Put(lastKey, fleetKey)
		}
	}
	return results, nil
}

// policyFleet is the cache entry of a fleet's policy results: each
// environment's render key (compile.EnvResult.Key) and its result, in
// environment order.
type policyFleet struct {
	Keys    []string
	Results []*policy.EnvResult
}

// absolute returns pf's results with their errors' positions made
// absolute under dir, as cache entries keep them relative (relativeResult).
func (pf policyFleet) absolute(dir string) []*policy.EnvResult {
	for _, r := range pf.Results {
		if r != nil {
			r.Errors.Absolute(dir)
		}
	}
	return pf.Results
}

// relativeResult is r as the cache keeps it: its errors' positions
// relative to the repository dir (diag.List.Relative), so that a clone
// elsewhere that shares the entry reads its own files' names. Violations
// name files relative to the repository already.
func relativeResult(dir string, r *policy.EnvResult) *policy.EnvResult {
	if r == nil {
		return nil
	}
	c := *r
	c.Errors = r.Errors.Relative(dir)
	return &c
}

// policyExit prints the policy summary on stderr and returns ExitPolicy
// when an error-severity policy is violated (or a warning, if strict).
func policyExit(stderr io.Writer, results []*policy.EnvResult, strict bool) error {
	errs, warns, waived := policy.Count(results)
	fmt.Fprintf(stderr, "policy: %d %s, %d %s, %d waived\n", errs, plural(errs, "error"), warns, plural(warns, "warning"), waived)
	if errs > 0 || (strict && warns > 0) {
		return exitf(ExitPolicy, "policy: %d %s, %d %s", errs, plural(errs, "violation"), warns, plural(warns, "warning"))
	}
	return nil
}

// policyLayer adapts the policy set to verify's policy layer.
func policyLayer(set *policy.Set, repo, cwd, out string) verify.PolicyFunc {
	return func(env verify.Env, files map[string][]byte) ([]verify.Finding, error) {
		r, err := set.Evaluate(compile.EnvResult{Env: env.Env, Releases: env.Releases, Secrets: env.Secrets, Files: sortedPaths(files)}, files, out)
		if err != nil {
			return nil, err
		}
		var fs []verify.Finding
		for _, d := range r.Errors {
			fs = append(fs, verify.Finding{Diagnostic: d})
		}
		for _, v := range r.Violations {
			if v.Waived {
				continue
			}
			sev := diag.Error
			if v.Severity == "warning" {
				sev = diag.Warning
			}
			msg := v.Message
			if v.Detail != "" {
				msg += ": " + v.Detail
			}
			name := v.File
			if name != "" && !filepath.IsAbs(name) {
				name = diag.Rel(cwd, filepath.Join(repo, filepath.FromSlash(name)))
			}
			fs = append(fs, verify.Finding{Diagnostic: diag.Diagnostic{
				Severity: sev, Pos: diag.Pos{Filename: name, Line: v.Line, Column: 1},
				Path: v.Object, Message: msg, Rule: "policy." + v.Policy, Source: v.Source,
			}})
		}
		return fs, nil
	}
}

func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// policyGate prints the violations that fail (and the waived ones) on
// stderr and returns ExitPolicy when there is one; it is silent when every
// policy passes.
func policyGate(stderr io.Writer, results []*policy.EnvResult, strict bool) error {
	errs, warns, waived := policy.Count(results)
	if errs+warns+waived == 0 {
		return nil
	}
	if err := policy.WriteText(stderr, results); err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	return policyExit(stderr, results, strict)
}
