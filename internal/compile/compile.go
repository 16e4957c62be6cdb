// Package compile runs katonic's pipeline in memory: load the repository
// (internal/load), validate each environment (internal/validate), then
// render the valid ones (internal/render) into one set of files for
// internal/outdir. Nothing here writes to disk.
//
// CUE evaluation is sequential (CUE values are not safe for concurrent
// use); rendering runs on a bounded pool of goroutines over plain Go data,
// and its results are merged in environment order, so the output is the
// same for any GOMAXPROCS.
package compile

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cuelang.org/go/cue"

	"github.com/katonic/katonic/internal/budget"
	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/render"
	"github.com/katonic/katonic/internal/rendercache"
	"github.com/katonic/katonic/internal/secrets"
	"github.com/katonic/katonic/internal/validate"
)

// Options select what to compile.
type Options struct {
	// Dir is the repository root (holds cue.mod/); "" means the working directory.
	Dir string
	// Envs names the environments to compile; empty means all of them.
	Envs []string
	// OutDir is the output directory, absolute or relative to Dir. It
	// decides the spec.path prefix of the rendered Flux Kustomizations (its
	// path from the repository root) and is read to see whether `flux
	// bootstrap` has written clusters/<env>/flux-system/ there.
	OutDir string
	// Strict makes warnings errors.
	Strict bool
	// Render asks for rendering; without it only validation runs (vet).
	Render bool
	// Shard, when Of > 0, keeps only the environments in shard Index of Of
	// (see Shard.Has), so CI can split a fleet across jobs.
	Shard Shard
	// Cache, when not nil, serves renders whose inputs have not changed
	// (see internal/rendercache): with nothing changed, no CUE is evaluated
	// and nothing is rendered; otherwise only environments whose inputs
	// changed are rendered. Results are byte-identical to an uncached
	// compile. Used only with Render.
	Cache *rendercache.Cache
	// Lazy, with Cache, leaves out of Result.Files the files of the
	// environments taken from the cache: Result.Hashes still has every
	// file's SHA-256, and Result.ReadFiles reads the bytes when a caller
	// needs them (katonic render, when out/ is not already up to date),
	// with the environments' Secrets and Releases, which a whole compile
	// taken from the cache leaves out too.
	Lazy bool
	// Background, with Cache, encodes and writes the cache entry of a
	// whole compile made now (a fleet's is megabytes) on another
	// goroutine, while the caller goes on with the Result; Result.Wait
	// waits for it. A process that exits without waiting loses the entry
	// (the next compile is not taken whole from the cache), nothing else.
	Background bool
	// Progress, when not nil, is told how many environments will be
	// rendered (Start, once, before the first) and is called once per
	// environment rendered or taken from the cache (Done), from several
	// goroutines at once. The CLI draws a progress bar with it.
	Progress Progress
	// Rendered, when not nil, is called once for each environment that is
	// rendered rather than taken from the cache, from the render's
	// goroutines (several at once), as soon as it is rendered: with the
	// environment (Env, Key, Files, Secrets, Releases) and its render,
	// whose Objects a caller can read there instead of parsing the files'
	// YAML (katonic render evaluates the policies so). The render must not
	// be modified; its Objects are not kept in the Result.
	Rendered func(e EnvResult, r *render.Result)
}

// Progress follows the render of a fleet, one environment at a time.
// Implementations must be safe for concurrent calls of Done.
type Progress interface {
	Start(total int)
	Done()
}

// Shard is one of Of deterministic slices of a fleet, numbered 1..Of. An
// environment belongs to the shard InShard picks for its name, so adding or
// removing an environment never moves another one between shards, and the
// union of all shards is the whole fleet, each environment exactly once.
type Shard struct {
	Index, Of int
}

// ParseShard parses "K/N" (1 <= K <= N) as used by --shard.
func ParseShard(s string) (Shard, error) {
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.Index, &sh.Of); err != nil || fmt.Sprintf("%d/%d", sh.Index, sh.Of) != s {
		return Shard{}, fmt.Errorf("shard %q: want K/N, e.g. 2/8", s)
	}
	if sh.Of < 1 || sh.Index < 1 || sh.Index > sh.Of {
		return Shard{}, fmt.Errorf("shard %q: want 1 <= K <= N", s)
	}
	return sh, nil
}

// Has reports whether environment name is in the shard; every name is in
// the zero Shard. The slice is FNV-1a of the name modulo Of: stable across
// machines, Go versions and fleet changes.
func (s Shard) Has(name string) bool {
	if s.Of <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%uint32(s.Of)) == s.Index-1
}

// String is "K/N", or "" for the zero Shard.
func (s Shard) String() string {
	if s.Of == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Of)
}

// Result is what a compile produced.
type Result struct {
	// Timings is how long each phase took, for benchmarks and --timings.
	Timings Timings
	// Cached counts the environments whose render came from Options.Cache.
	Cached int
	// Dir is the absolute repository root.
	Dir string
	// Diags are every diagnostic of every selected environment, sorted.
	Diags diag.List
	// Envs are the selected environments that validated, in name order;
	// with ErrInvalid, the ones that did while others did not (nothing is
	// rendered then).
	Envs []EnvResult
	// Files are the rendered files, keyed by slash path relative to the
	// output directory (empty without Options.Render). With Options.Lazy
	// it lacks the files of environments taken from the cache until
	// ReadFiles is called.
	Files map[string][]byte
	// hashes are what Hashes returns; for a compile taken whole from the
	// cache, nil until Hashes makes them from fleet, the cache entry.
	hashes     map[string]string
	fleet      *fleetEntry
	hashesOnce sync.Once
	// ManifestSum, when not empty, is the outdir.ManifestSum of Hashes():
	// the SHA-256 of the manifest a Write of this whole render writes. It
	// is set when the compile came whole from the cache (recorded when
	// that render was made), so that outdir.CheckSum can tell that an
	// output directory holds it without being given Hashes.
	ManifestSum string
	// BaseSum and Changed, when BaseSum is not empty, are this whole
	// render as a change from the last whole render of this repository
	// with these options (the render its out/ most likely holds): that
	// render's outdir.ManifestSum, and each path where this one differs
	// from it, with its hash here or "" where this render has no such
	// path. They are set for a compiled render that had the last render's
	// cache entry to start from, so that outdir.CheckDelta can tell what
	// drifted in an out/ that holds the last render without being given
	// Hashes or parsing the manifest.
	BaseSum string
	Changed map[string]string
	// valid are the validation entries of the environments, by name, with
	// positions relative to Dir: what the whole-compile entry records.
	valid map[string]*validEntry
	// readEnv returns the render of one environment whose bytes Files
	// lacks: from the cache, or rendered again if the cache lost it.
	readEnv func(e EnvResult) (*render.Result, error)
	// Scope is the part of the output directory the compile is
	// responsible for: nil for all environments, else their prefixes.
	Scope outdir.Scope
	// saved is closed once the whole compile's cache entry is written
	// (Options.Background); nil when it was written before Compile
	// returned, or not at all.
	saved chan struct{}
}

// Wait waits until the cache entry of the compile is written, when
// Options.Background left that to another goroutine. A nil Result has
// nothing to wait for.
func (r *Result) Wait() {
	if r != nil && r.saved != nil {
		<-r.saved
	}
}

// Timings are the wall-clock durations of Compile's phases.
type Timings struct {
	// Load is CUE loading and evaluation of schema/, profiles/ and
	// environments/ (internal/load).
	Load time.Duration
	// Validate is decoding and katonic's rules per environment.
	Validate time.Duration
	// Render is building the objects and encoding them as YAML, in
	// parallel (internal/render); zero without Options.Render.
	Render time.Duration
}

// EnvResult is one environment that validated, and what its render
// produced.
type EnvResult struct {
	Env *config.Environment
	// Key is the environment's render cache key (internal/rendercache):
	// a hash of every input its render depends on; "" without
	// Options.Cache. Equal keys mean byte-identical files.
	Key string
	// Source is the environment as loaded: its CUE value with the
	// profile applied and its file's syntax, for commands that explain a
	// value (katonic show). It is the zero load.Env with Options.Render
	// (a render lets each environment's CUE value go once it is
	// validated, so a fleet's values are not all kept in memory).
	Source  load.Env
	Files   []string // slash paths relative to the output directory, sorted
	Secrets []render.SecretRef
	// Releases are the environment's HelmReleases and their pools, as
	// render.Result.Releases; nil unless Options.Render.
	Releases []render.Release
	Diags    diag.List
}

// UnknownEnvError reports environment names given on the command line that
// the repository does not declare.
type UnknownEnvError struct {
	Names []string
	Known []string
}

func (e *UnknownEnvError) Error() string {
	return fmt.Sprintf("no environment named %s (environments: %s)", strings.Join(e.Names, ", "), strings.Join(e.Known, ", "))
}

// ErrInvalid is returned (wrapped) when the configuration has errors; the
// diagnostics are in the Result.
var ErrInvalid = errors.New("configuration is invalid")

// Scope returns the output prefixes that belong to environment name.
func Scope(name string) []string {
	return []string{"clusters/" + name + "/", "environments/" + name + "/"}
}

// Compile loads, validates and (with opts.Render) renders. It returns
// ErrInvalid with the diagnostics in Result.Diags when any selected
// environment has errors (or warnings under Strict): then Files is empty,
// so a caller can never write half a render. Other errors: the repository
// cannot be read (load), *UnknownEnvError, or a rendering failure.
func Compile(opts Options) (*Result, error) {
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	start := time.Now()
	var ck keys
	caching := false
	var ahead *lastRead
	if opts.Render && opts.Cache != nil {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		out := opts.OutDir
		if out == "" {
			out = "out"
		}
		if !filepath.IsAbs(out) {
			out = filepath.Join(abs, out)
		}
		// The last compile's entry is read while the inputs are hashed:
		// when nothing changed it is this compile's, and otherwise it
		// holds the environments that did not change (lastFrom).
		if tool := opts.Cache.ToolID(); tool != "" {
			ahead = readLast(opts.Cache, lastPointer(tool, abs, out, opts))
		}
		if ck, caching, err = cacheKeys(abs, out, opts); err == nil && caching {
			fe := ahead.wait(ck.fleet)
			if fe == nil {
				fe = getFleet(opts.Cache, ck.fleet)
			}
			if fe != nil {
				if res, ok := fromFleet(abs, fe); ok {
					res.readEnv = readEnvFunc(abs, out, opts)
					if opts.Lazy || res.ReadFiles() == nil {
						// This is now the last compile: the one the next
						// one describes itself as a change from.
						if ahead == nil || ahead.key != ck.fleet {
							opts.Cache.Put(ck.last, ck.fleet)
						}
						res.Timings.Load = time.Since(start)
						return res, nil
					}
				}
				// An entry the fleet entry names is gone, or the entry
				// is not one this katonic can use: compile.
			}
		}
	}
	// Environments whose validation is cached under their key, and those
	// not selected, are not built as CUE instances at all.
	cachedValid := map[string]*validEntry{}
	var last *lastCompile
	if caching {
		last = lastFrom(ahead.wait(""))
	}
	// A render builds the environments it must validate itself, after the
	// load, on every core (buildAndValidate); the load builds them only
	// for the other commands, which keep their CUE values.
	deferred := map[string]bool{}
	build := func(name string) bool {
		if opts.Render {
			deferred[name] = true
			return true
		}
		return false
	}
	wanted := func(name string) bool {
		return (len(opts.Envs) == 0 || slices.Contains(opts.Envs, name)) && opts.Shard.Has(name)
	}
	// cached returns the validation cached for the environment name
	// declared in file, or nil.
	cached := func(name, file string) *validEntry {
		if !caching || ck.env[name] == "" || filepath.Base(file) != name+".cue" {
			return nil
		}
		ve, ok := last.entry(ck.env[name])
		if !ok {
			ve = &validEntry{}
			if !opts.Cache.Get(validKey(ck.env[name]), ve) {
				return nil
			}
		}
		return ve.abs(filepath.Dir(filepath.Dir(file)))
	}
	lopts := load.Options{
		Skip: func(name, file string) bool {
			if !wanted(name) {
				return true
			}
			ve := cached(name, file)
			if ve == nil {
				return build(name)
			}
			cachedValid[name] = ve
			return true
		},
		// A file whose every byte a load found clean before (validEntry.Clean)
		// is not even read: its validation comes from the cache.
		Unparsed: func(name, file string) bool {
			ve := cached(name, file)
			if ve == nil || !ve.Clean {
				return false
			}
			if wanted(name) {
				cachedValid[name] = ve
			}
			return true
		},
	}
	repo, diags, err := load.LoadWith(dir, lopts)
	if err != nil {
		return nil, err
	}
	if repo == nil {
		// schema/ or profiles/ themselves do not evaluate (a syntax error
		// there, or a stray .cue file in the repository root that CUE
		// merges into them): the diagnostics say where.
		abs, _ := filepath.Abs(dir)
		return &Result{Dir: abs, Diags: diags.Sort(), Files: map[string][]byte{}}, ErrInvalid
	}
	res := &Result{Dir: repo.Dir, Files: map[string][]byte{}, hashes: map[string]string{}}
	res.Timings.Load = time.Since(start)
	clean := cleanFiles(repo, diags)
	start = time.Now()
	selected, err := selectEnvs(repo, opts.Envs)
	if err != nil {
		return res, err
	}
	if opts.Shard.Of > 0 {
		var kept []load.Env
		for _, e := range selected {
			if opts.Shard.Has(e.Name) {
				kept = append(kept, e)
			}
		}
		selected = kept
	}
	if len(opts.Envs) > 0 || opts.Shard.Of > 1 {
		for _, e := range selected {
			res.Scope = append(res.Scope, Scope(e.Name)...)
		}
	}

	vopts := validate.Options{PlatformVersions: catalog.Versions()}
	var todo []int
	for i, e := range selected {
		if deferred[e.Name] && e.Syntax != nil && !e.Value.Exists() {
			todo = append(todo, i)
		}
	}
	pre := buildAndValidate(repo, selected, todo, vopts)
	var valid []*config.Environment
	perEnv := map[string]diag.List{}
	sources := map[string]load.Env{}
	sopsFiles := map[string][]secrets.File{}
	for i, e := range selected {
		if !opts.Render {
			// A render does not explain values: its environments' CUE
			// values go as soon as each is validated, so a fleet's
			// instances do not all stay in memory.
			sources[e.Name] = e
		}
		var env *config.Environment
		var d diag.List
		p, ve := pre[i], cachedValid[e.Name]
		switch {
		case p != nil: // built and validated by buildAndValidate
			diags = append(diags, p.load...)
			env, d = p.env, p.diags
		case ve != nil && !e.Value.Exists(): // validation cached
			env, d = ve.Env, ve.Diags
		default: // built by the load
			exit := budget.Enter(diag.Rel(repo.Dir, e.File))
			env, d = validate.Environment(repo, e, vopts)
			exit()
		}
		if p != nil || ve == nil || e.Value.Exists() { // validated now
			if opts.Render {
				selected[i].Value = cue.Value{}
			}
			if caching && env != nil && d.Errors() == 0 && ck.env[e.Name] != "" {
				ve := newValidEntry(repo.Dir, env, d, clean[e.Name])
				opts.Cache.Put(validKey(ck.env[e.Name]), ve)
				cachedValid[e.Name] = ve
			}
		}
		// SOPS-encrypted Secrets of secrets/<env>/: a plaintext
		// or malformed one is a configuration error, at its file.
		// Only for an environment that validated, whose name is safe.
		if env != nil && d.Errors() == 0 {
			files, err := secrets.Scan(repo.Dir, e.Name)
			sd, err := secretsDiags(repo.Dir, err)
			if err != nil {
				return res, err
			}
			d = append(d, sd...)
			sopsFiles[e.Name] = files
		}
		if opts.Strict {
			d = d.Strict()
		}
		diags = append(diags, d...)
		perEnv[e.Name] = d
		if env != nil && d.Errors() == 0 {
			valid = append(valid, env)
		}
	}
	// Environments compiled together must not serve one host: each of
	// two that would is not valid (dns.unique).
	if clashes := hostClashes(repo.Dir, valid); len(clashes) > 0 {
		valid = slices.DeleteFunc(valid, func(env *config.Environment) bool {
			d, clash := clashes[env.Name]
			if clash {
				diags = append(diags, d)
				perEnv[env.Name] = append(perEnv[env.Name], d)
			}
			return clash
		})
	}
	// A folder of secrets/ that no environment owns is an error of the
	// whole repository: reported when every environment is compiled.
	if len(opts.Envs) == 0 && opts.Shard.Of <= 1 {
		names := make([]string, len(repo.Envs))
		for i, e := range repo.Envs {
			names[i] = e.Name
		}
		sd, err := secretsDiags(repo.Dir, secrets.Orphans(repo.Dir, names))
		if err != nil {
			return res, err
		}
		diags = append(diags, sd...)
	}
	res.Diags = diags.Sort()
	res.Timings.Validate = time.Since(start)
	for _, env := range valid {
		res.Envs = append(res.Envs, EnvResult{Env: env, Key: ck.env[env.Name], Source: sources[env.Name], Diags: perEnv[env.Name]})
	}
	if res.Diags.Errors() > 0 {
		// The environments that did validate are in res.Envs (katonic envs
		// lists them); nothing is rendered.
		return res, ErrInvalid
	}
	if !opts.Render {
		return res, nil
	}
	out := opts.OutDir
	if out == "" {
		out = "out"
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(repo.Dir, out)
	}
	prefix := PathPrefix(repo.Dir, out)
	start = time.Now()
	defer func() { res.Timings.Render = time.Since(start) }()
	if opts.Progress != nil {
		opts.Progress.Start(len(valid))
	}
	results := make([]*render.Result, len(valid))
	hashes := make([]map[string]string, len(valid))
	errs := make([]error, len(valid))
	hits := make([]bool, len(valid))
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), max(len(valid), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i], hashes[i], hits[i], errs[i] = renderOne(valid[i], ck.env[valid[i].Name], cachedValid[valid[i].Name], caching, out, prefix, opts, sopsFiles)
				if r := results[i]; opts.Rendered != nil && errs[i] == nil && !hits[i] {
					files := make([]string, 0, len(r.Files))
					for p := range r.Files {
						files = append(files, p)
					}
					sort.Strings(files)
					opts.Rendered(EnvResult{Env: valid[i], Key: ck.env[valid[i].Name], Files: files, Secrets: r.Secrets, Releases: r.Releases}, r)
				}
				if results[i] != nil {
					results[i].Objects = nil // a fleet's objects are not all kept in memory
				}
				if opts.Progress != nil {
					opts.Progress.Done()
				}
			}
		}()
	}
	for i := range valid {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			return res, fmt.Errorf("rendering environment %s: %w", valid[i].Name, errs[i])
		}
		for p, h := range hashes[i] {
			res.hashes[p] = h
			res.Envs[i].Files = append(res.Envs[i].Files, p)
		}
		for p, b := range r.Files {
			res.Files[p] = b
		}
		sort.Strings(res.Envs[i].Files)
		res.Envs[i].Secrets = r.Secrets
		res.Envs[i].Releases = r.Releases
		if hits[i] {
			res.Cached++
		}
		if ve := cachedValid[valid[i].Name]; caching && ve != nil && !ve.Rendered && res.Envs[i].Key != "" {
			nv := newValidEntry(repo.Dir, ve.Env, ve.Diags, clean[valid[i].Name])
			nv.Rendered, nv.Hashes, nv.Secrets, nv.Releases = true, hashes[i], r.Secrets, r.Releases
			opts.Cache.Put(validKey(res.Envs[i].Key), nv)
		}
	}
	res.readEnv = readEnvFunc(repo.Dir, out, opts)
	if caching {
		res.valid = map[string]*validEntry{}
		for _, e := range res.Envs {
			if ve := cachedValid[e.Env.Name]; ve != nil {
				res.valid[e.Env.Name] = newValidEntry(repo.Dir, ve.Env, ve.Diags, clean[e.Env.Name])
			}
		}
		if res.Scope == nil {
			res.BaseSum, res.Changed = last.changes(res)
		}
		save := func() {
			if putFleet(opts.Cache, ck.fleet, toFleet(res)) == nil {
				opts.Cache.Put(ck.last, ck.fleet)
			}
		}
		if opts.Background {
			// toFleet reads only what the caller does not change: the
			// environments' keys, files and diagnostics, and the hashes.
			res.saved = make(chan struct{})
			go func() {
				defer close(res.saved)
				backgroundSave(save)
			}()
		} else {
			save()
		}
	}
	return res, nil
}

// backgroundSave runs save, the write of a compile's cache entry, on the
// goroutine Options.Background starts. Tests wrap it to delay the write.
var backgroundSave = func(save func()) { save() }

// Hashes returns the SHA-256 (lowercase hex) of every rendered file, by
// the same paths as Files, whether or not Files holds its bytes. For a
// compile taken whole from the cache, the first call makes them from its
// entry: a render that finds its output up to date by the manifest's
// SHA-256 (ManifestSum) never needs them. The map is the Result's own;
// callers must not change it.
func (r *Result) Hashes() map[string]string {
	r.hashesOnce.Do(func() {
		if r.fleet != nil {
			r.hashes, r.fleet = r.fleet.hashes(), nil
		}
	})
	return r.hashes
}

// ReadFiles puts into Files the bytes of every file Hashes lists that
// Files lacks (the environments a Lazy compile took from the cache), of
// the environments named, or of all without names: from the cache, or by
// rendering the environment again when the cache no longer has it. The
// bytes always hash to Hashes. An error is a failure to render.
func (r *Result) ReadFiles(envs ...string) error {
	for i, e := range r.Envs {
		if len(e.Files) == 0 || len(envs) > 0 && !slices.Contains(envs, e.Env.Name) {
			continue
		}
		if _, ok := r.Files[e.Files[0]]; ok && e.Releases != nil {
			continue
		}
		got, err := r.readEnv(e)
		if err != nil {
			return fmt.Errorf("rendering environment %s: %w", e.Env.Name, err)
		}
		hashes := r.Hashes()
		for _, p := range e.Files {
			b, ok := got.Files[p]
			if !ok || Hash(b) != hashes[p] {
				return fmt.Errorf("rendering environment %s again gave other files than its cache entry recorded (%s): delete the render cache", e.Env.Name, p)
			}
			r.Files[p] = b
		}
		r.Envs[i].Secrets, r.Envs[i].Releases = got.Secrets, got.Releases
	}
	return nil
}

// readEnvFunc returns Result.readEnv for a repository dir rendering into
// out: the cache entry of the environment's key, or a new render.
func readEnvFunc(dir, out string, opts Options) func(e EnvResult) (*render.Result, error) {
	return func(e EnvResult) (*render.Result, error) {
		var ee envEntry
		if opts.Cache != nil && e.Key != "" && opts.Cache.Get(e.Key, &ee) {
			return &render.Result{Files: ee.Files, Secrets: ee.Secrets, Releases: ee.Releases}, nil
		}
		sops, err := secrets.Scan(dir, e.Env.Name)
		if err != nil {
			return nil, err
		}
		_, statErr := os.Stat(filepath.Join(out, "clusters", e.Env.Name, "flux-system", "kustomization.yaml"))
		return render.Environment(e.Env, render.Options{PathPrefix: PathPrefix(dir, out), Bootstrapped: statErr == nil, Secrets: sops})
	}
}

// secretsDiags turns the secrets package's rule errors into diagnostics at
// their files; another error (reading the directory) is returned as is.
func secretsDiags(root string, err error) (diag.List, error) {
	var serrs secrets.Errors
	if !errors.As(err, &serrs) {
		return nil, err
	}
	var out diag.List
	for _, se := range serrs {
		out = append(out, se.Diagnostic(root))
	}
	return out, nil
}

// validated is one environment built and validated by buildAndValidate:
// the load's diagnostics for its file (when it does not evaluate), and
// validation's result.
type validated struct {
	load  diag.List
	env   *config.Environment
	diags diag.List
}

// parallelBuilds is the fewest environments to build for which
// buildAndValidate uses builders of its own, on every core: each loads
// the schema and profiles into a cue.Context of its own first (a few
// milliseconds).
var parallelBuilds = 16

// buildsPerBuilder retires a builder of buildAndValidate after that many
// environments: a cue.Context keeps every instance built in it for as long
// as it lives, so one builder for a whole fleet would keep all of them
// (about 0.2 MB each) until the render ends.
var buildsPerBuilder = 128

// buildAndValidate builds the environments selected[i] for i in todo
// (which the load skipped) and validates them, on up to GOMAXPROCS
// goroutines, each with its own load.Builder (CUE values are not safe for
// concurrent use; values of different contexts are independent). The
// result is indexed like selected; nil where not in todo. The values are
// not kept: a render needs only the config.Environment.
func buildAndValidate(repo *load.Repository, selected []load.Env, todo []int, vopts validate.Options) []*validated {
	pre := make([]*validated, len(selected))
	if len(todo) == 0 {
		return pre
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	work := func(b *load.Builder, fresh bool) {
		defer wg.Done()
		n := 0
		for i := range jobs {
			if fresh && n == buildsPerBuilder {
				if nb, err := repo.NewBuilder(); err == nil {
					b, n = nb, 0
				}
			}
			n++
			e, ld := b.Build(selected[i])
			exit := budget.Enter(diag.Rel(repo.Dir, e.File))
			env, d := validate.Environment(repo, e, vopts)
			exit()
			pre[i] = &validated{load: ld, env: env, diags: d}
		}
	}
	workers := 0
	if len(todo) >= parallelBuilds {
		for range runtime.GOMAXPROCS(0) {
			b, err := repo.NewBuilder()
			if err != nil {
				break
			}
			wg.Add(1)
			go work(b, true)
			workers++
		}
	}
	if workers == 0 {
		// A few environments (or schema that no longer loads): the load's
		// own builder, on one goroutine.
		wg.Add(1)
		go work(repo.Builder(), false)
	}
	for _, i := range todo {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return pre
}

// renderOne renders env, or takes it from opts.Cache under key when
// caching; hit reports the latter. With opts.Lazy, an environment whose
// validEntry ve recorded its render comes back without the files' bytes.
// hashes are the SHA-256 of every file.
func renderOne(env *config.Environment, key string, ve *validEntry, caching bool, out, prefix string, opts Options, sopsFiles map[string][]secrets.File) (r *render.Result, hashes map[string]string, hit bool, err error) {
	if caching && key != "" {
		if opts.Lazy && ve.rendered() {
			return &render.Result{Secrets: ve.Secrets, Releases: ve.Releases}, ve.Hashes, true, nil
		}
		var ee envEntry
		if opts.Cache.Get(key, &ee) {
			return &render.Result{Files: ee.Files, Secrets: ee.Secrets, Releases: ee.Releases}, hashAll(ee.Files), true, nil
		}
	}
	_, statErr := os.Stat(filepath.Join(out, "clusters", env.Name, "flux-system", "kustomization.yaml"))
	r, err = render.Environment(env, render.Options{PathPrefix: prefix, Bootstrapped: statErr == nil, Secrets: sopsFiles[env.Name]})
	if err != nil {
		return nil, nil, false, err
	}
	if caching && key != "" {
		opts.Cache.Put(key, &envEntry{Files: r.Files, Secrets: r.Secrets, Releases: r.Releases})
	}
	return r, hashAll(r.Files), false, nil
}

// hashAll returns the Hash of every file.
func hashAll(files map[string][]byte) map[string]string {
	out := make(map[string]string, len(files))
	for p, b := range files {
		out[p] = Hash(b)
	}
	return out
}

// PathPrefix returns how Flux, reading the repository at root, names the
// output directory out: "./" + its slash path from root. An output
// directory outside the repository is taken to be a repository of its own
// (pushed separately), so the prefix is ".".
func PathPrefix(root, out string) string {
	rel, err := filepath.Rel(root, out)
	if err != nil || !filepath.IsLocal(rel) {
		return "."
	}
	rel = filepath.ToSlash(rel)
	if rel == "." {
		return "."
	}
	return "./" + path.Clean(rel)
}

func selectEnvs(repo *load.Repository, names []string) ([]load.Env, error) {
	if len(names) == 0 {
		return repo.Envs, nil
	}
	byName := map[string]load.Env{}
	var known []string
	for _, e := range repo.Envs {
		byName[e.Name] = e
		known = append(known, e.Name)
	}
	var out []load.Env
	var missing []string
	seen := map[string]bool{}
	for _, n := range names {
		e, ok := byName[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, e)
		}
	}
	if len(missing) > 0 {
		return nil, &UnknownEnvError{Names: missing, Known: known}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
