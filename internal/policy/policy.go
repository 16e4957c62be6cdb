// Package policy evaluates the policy set of a katonic repository — the CUE
// package in policy/ — over each environment's rendered objects.
//
// A policy is a field of policies in that package: an id (kebab-case), a
// severity ("error" or "warning"), a message, the source of the rule, and
// violations, a CUE comprehension over input. katonic fills input with one
// environment's configuration, every YAML document it rendered for that
// environment, its HelmReleases and every leaf value of those documents
// (see policy/policy.cue for the exact schema), then reads the violations.
// An environment may waive a policy with a recorded reason
// (config.Environment.Waivers); a waived violation is reported, marked
// Waived, and does not count as an error. Waiving an unknown policy is an
// error.
//
// Evaluation is built for speed (katonic render evaluates every
// environment), with the results of unifying the whole input with the
// policy package:
//
//   - Load analyses the policies once to learn which parts of input they
//     can read (analyze.go); Evaluate builds only those, leaving out the
//     rows of input.objects, input.releases and input.leaves that no for
//     clause can yield for (it decides their leading if clauses in Go)
//     and the fields no policy reads (materialize). Policies the analysis
//     does not follow get the whole input.
//   - The input goes to CUE as CUE text (appendCUE, then
//     cue.Context.CompileBytes), not through cue.Context.Encode, whose
//     structs lose their fields when unified after being shared.
//   - The evaluators fill input: _ in place of policy/input.cue's input:
//     #Input: katonic's input matches #Input by construction.
//   - EvaluateObjects takes the objects the render built
//     (render.Result.Objects) instead of parsing the rendered YAML again;
//     a file is parsed only when a violation in it needs its line. Its
//     input is the same as Evaluate's: the documents made from the objects
//     have the tags and scalar text the YAML parses to, and leaves follow
//     keys in byte order whatever order a file lists them in.
//   - CUE values are not safe for concurrent use: a Set keeps a pool of
//     evaluators, each a cue.Context with its own copy of the policy
//     package, so that concurrent Evaluate calls run in parallel, one
//     evaluator each.
package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	cueload "cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/katonic/katonic/internal/budget"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/fieldpath"
	"github.com/katonic/katonic/internal/filestat"
	"github.com/katonic/katonic/internal/load"
)

// Dir is the directory of a repository, relative to its root, that holds
// the policy set: the CUE package policy.
const Dir = "policy"

// Severities a policy may have (policy/policy.cue, #Policy.severity).
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// ErrInvalid is returned by Load when the policy set has errors; the
// diagnostics say which.
var ErrInvalid = errors.New("the policy set is invalid")

// idPattern is policy/policy.cue's #ID: kebab-case.
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Source cited by the diagnostics this package makes itself.
const (
	waiverSource = "README \"policy\": an environment may waive a policy of policy/ only with a recorded reason; waiving a policy that does not exist is an error"
	setSource    = "policy/policy.cue: policies: [#ID]: #Policy"
	sizeSource   = "README, \"Layout\": policy/ holds regular CUE files of package policy, at most 1 MiB each"
)

// Set is a loaded policy set. It is immutable after Load and safe for
// concurrent use: concurrent Evaluate calls run in parallel, each with its
// own evaluator (cue.Context and policy package; CUE values are not safe
// for concurrent use).
type Set struct {
	dir      string // absolute repository root
	policies []Policy
	byID     map[string]int
	paths    []cue.Path // policies."<id>".violations, by policy

	inst  *build.Instance // the policy package; nil for an empty set
	files []*ast.File
	usage *usage // what the policies read of input
	full  bool   // tests: give CUE the whole input

	buildMu sync.Mutex // serialises building evaluators from inst
	mu      sync.Mutex // guards free
	free    []*evaluator
}

// evaluator is one cue.Context with the policy package built in it. It is
// used by one evaluation at a time.
type evaluator struct {
	ctx   *cue.Context
	value cue.Value // the policy package, input not filled
	uses  int
}

// maxEvaluatorUses retires an evaluator after that many evaluations: a
// cue.Context keeps everything ever compiled in it, so one reused over a
// whole fleet grows without bound (10 GB at 1,000 environments). A fresh one
// costs about 0.4 ms, and at 1,000 environments one use each gave the lowest
// peak memory (390 MB against 620 MB for 8) at the same speed.
const maxEvaluatorUses = 1

var inputPath = cue.MakePath(cue.Str("input"))

// get takes an idle evaluator, or builds one.
func (s *Set) get() (*evaluator, error) {
	s.mu.Lock()
	if n := len(s.free); n > 0 {
		e := s.free[n-1]
		s.free = s.free[:n-1]
		s.mu.Unlock()
		return e, nil
	}
	s.mu.Unlock()
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	ctx := cuecontext.New()
	v := ctx.BuildInstance(s.inst)
	if err := v.Validate(); err != nil {
		return nil, err // Load built it without error
	}
	return &evaluator{ctx: ctx, value: v}, nil
}

func (s *Set) put(e *evaluator) {
	if e.uses++; e.uses >= maxEvaluatorUses {
		return // let the context and all it holds be collected
	}
	s.mu.Lock()
	s.free = append(s.free, e)
	s.mu.Unlock()
}

// Policy describes one policy of the set.
type Policy struct {
	// ID is the policy's field name in policies, kebab-case.
	ID string
	// Severity is "error" or "warning".
	Severity string
	// Message says what the policy requires; Source where the rule comes from.
	Message, Source string
	// Pos is where the policy is declared: the label of its field in its
	// .cue file (absolute file name), as diag positions are.
	Pos diag.Pos
}

// Load loads the policy/ package of the repository rooted at dir (which
// holds cue.mod/) with CUE's loader, so policies may import the module's
// packages (katonic.dev/katonic/schema) and CUE's standard library.
//
// A repository without policy/, or with no .cue file in it, has an empty
// Set. Problems of the policy set — CUE syntax or evaluation errors, a
// policy id that is not kebab-case, a severity, message or source that is
// missing or not concrete — come back as diagnostics positioned in
// policy/*.cue (load.FromCUE), together with ErrInvalid and a nil Set.
// Other errors: dir cannot be read.
func Load(dir string) (*Set, diag.List, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	s := &Set{dir: abs, byID: map[string]int{}}
	pdir := filepath.Join(abs, Dir)
	entries, err := os.ReadDir(pdir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil, nil
	case err != nil:
		return nil, nil, err
	}
	var cueFiles []string
	var refused diag.List // files refused before CUE's loader reads them
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".cue") {
			cueFiles = append(cueFiles, Dir+"/"+e.Name())
			path := filepath.Join(pdir, e.Name())
			if e.Type()&fs.ModeSymlink != 0 {
				if target := load.Outside(abs, path); target != "" {
					refused = append(refused, diag.Diagnostic{Severity: diag.Error, Pos: diag.Pos{Filename: path},
						Message: load.OutsideMessage(e.Name(), target, "a policy"),
						Rule:    "policy.layout", Source: load.OutsideSource})
					continue
				}
			}
			// As for environment files: a named pipe would block CUE's
			// loader for ever, and a mistaken file (a log, a dump) is
			// refused before the loader reads it whole.
			fi, err := os.Stat(path)
			switch {
			case err != nil:
				// CUE's loader reports it.
			case !fi.Mode().IsRegular() && !fi.IsDir():
				refused = append(refused, diag.Diagnostic{Severity: diag.Error, Pos: diag.Pos{Filename: path},
					Message: fmt.Sprintf("%s is %s, not a regular file", e.Name(), filestat.Kind(fi.Mode())),
					Rule:    "policy.layout", Source: sizeSource})
			case fi.Size() > load.MaxFileSize:
				refused = append(refused, diag.Diagnostic{Severity: diag.Error, Pos: diag.Pos{Filename: path, Line: 1, Column: 1},
					Message: fmt.Sprintf("%s has %d bytes; a policy file may have at most %d (1 MiB)", e.Name(), fi.Size(), load.MaxFileSize),
					Rule:    "policy.layout", Source: sizeSource})
			}
		}
	}
	if len(cueFiles) == 0 {
		return s, nil, nil
	}
	if len(refused) > 0 {
		return nil, refused, ErrInvalid
	}

	// The policies are one CUE package: a limit passed while it loads
	// names all its files.
	exit := budget.Enter(strings.Join(cueFiles, ", "))
	defer exit()
	insts := cueload.Instances([]string{"./" + Dir}, &cueload.Config{Dir: abs})
	inst := insts[0]
	// Before anything is evaluated or printed: a policy that reads other
	// files is refused.
	for _, f := range inst.Files {
		if a := load.FileReadingAttribute(f); a != nil {
			key, _ := a.Split()
			refused = append(refused, diag.Diagnostic{Severity: diag.Error, Pos: posOf(a.Pos()),
				Message: fmt.Sprintf("%s uses @%s, which reads other files into the policies: a policy is what its own file says", filepath.Base(f.Filename), key),
				Rule:    "policy.attribute", Source: load.AttributeSource})
		}
	}
	if len(refused) > 0 {
		return nil, refused, ErrInvalid
	}
	if inst.Err != nil {
		return nil, cueDiags(inst.Err, abs, inst.Files), ErrInvalid
	}
	ctx := cuecontext.New()
	v := ctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		return nil, cueDiags(err, abs, inst.Files), ErrInvalid
	}
	// Errors that do not depend on input: conflicts, wrong types.
	if err := v.Validate(); err != nil {
		return nil, cueDiags(err, abs, inst.Files), ErrInvalid
	}
	labels := policyLabels(inst.Files)
	var diags diag.List
	pv := v.LookupPath(cue.ParsePath("policies"))
	if pv.Exists() {
		it, err := pv.Fields()
		if err != nil {
			return nil, cueDiags(err, abs, inst.Files), ErrInvalid
		}
		for it.Next() {
			id := it.Selector().Unquoted()
			pos, ok := labels[id]
			if !ok {
				pos = posOf(it.Value().Pos())
			}
			if !idPattern.MatchString(id) {
				diags = append(diags, diag.Diagnostic{Severity: diag.Error, Pos: pos, Path: "policies." + quote(id),
					Message: fmt.Sprintf("policy id %q is not kebab-case (lower-case letters and digits joined by -)", id),
					Rule:    "policy.id", Source: setSource})
				continue
			}
			p := Policy{ID: id, Pos: pos}
			meta := map[string]string{}
			for _, f := range []string{"severity", "message", "source"} {
				str, err := it.Value().LookupPath(cue.MakePath(cue.Str(f))).String()
				if err != nil {
					diags = append(diags, diag.Diagnostic{Severity: diag.Error, Pos: pos, Path: "policies." + quote(id) + "." + f,
						Message: fmt.Sprintf("policy %s: %s must be a concrete string that does not depend on input", id, f),
						Rule:    "policy.meta", Source: setSource})
					continue
				}
				meta[f] = str
			}
			if len(meta) < 3 {
				continue
			}
			p.Severity, p.Message, p.Source = meta["severity"], meta["message"], meta["source"]
			s.policies = append(s.policies, p)
		}
	}
	if len(diags) > 0 {
		return nil, diags.Sort(), ErrInvalid
	}
	sort.Slice(s.policies, func(i, j int) bool { return s.policies[i].ID < s.policies[j].ID })
	for i, p := range s.policies {
		s.byID[p.ID] = i
		s.paths = append(s.paths, cue.MakePath(cue.Str("policies"), cue.Str(p.ID), cue.Str("violations")))
	}
	s.inst, s.files = inst, inst.Files
	s.usage = analyze(inst.Files)
	if open := openInput(inst); open != nil {
		if ov := ctx.BuildInstance(open); ov.Validate() == nil {
			s.inst, v = open, ov
		}
	}
	s.free = []*evaluator{{ctx: ctx, value: v}}
	return s, nil, nil
}

// openInput returns inst with its file that declares only input: #Input
// (policy/input.cue) replaced by one that declares input: _, or nil when
// it has no such file. Evaluate fills input with values that match #Input
// by construction (TestInputMatchesSchema); unifying them with #Input
// again for every environment would cost as much as all the built-in
// policies together. Load still builds the package with #Input, so that
// a policy reading a field that input does not have is reported.
func openInput(inst *build.Instance) *build.Instance {
	var files []*ast.File
	for i, f := range inst.Files {
		if !declaresOnlyInput(f) {
			continue
		}
		nf, err := parser.ParseFile(f.Filename, "package "+f.PackageName()+"\n\ninput: _\n")
		if err != nil {
			return nil
		}
		if files == nil {
			files = slices.Clone(inst.Files)
		}
		files[i] = nf
	}
	if files == nil {
		return nil
	}
	open := *inst
	open.Files = files
	return &open
}

// declaresOnlyInput says whether f's only declaration is input: #Input.
func declaresOnlyInput(f *ast.File) bool {
	n := 0
	for _, d := range f.Decls {
		switch x := d.(type) {
		case *ast.Package, *ast.CommentGroup:
		case *ast.Field:
			name, _, err := ast.LabelName(x.Label)
			id, ok := x.Value.(*ast.Ident)
			if err != nil || name != "input" || !ok || id.Name != "#Input" ||
				x.Constraint != token.ILLEGAL || x.Alias != nil || len(x.Attrs) > 0 {
				return false
			}
			if _, ok := x.Label.(*ast.Ident); !ok {
				return false
			}
			n++
		default:
			return false
		}
	}
	return n == 1
}

// cueDiags turns a CUE error about the policy package into diagnostics
// (load.FromCUE). An error about policies."<id>" that CUE places only in
// the contract (#Policy in policy/policy.cue), or nowhere, is moved to the
// deepest field of its path that the policy's own file writes; the
// "N errors in empty disjunction" summary is dropped when the disjuncts'
// errors are there.
func cueDiags(err error, dir string, files []*ast.File) diag.List {
	diags := load.FromCUE(err, dir, "", "policy.load")
	// FromCUE keeps each error's own message; an error that wraps its
	// cause ("import failed") gets the cause added.
	for i, e := range cueerrors.Errors(err) {
		if i < len(diags) {
			diags[i].Message += cause(e)
		}
	}
	paths := map[string]int{}
	for _, d := range diags {
		paths[d.Path]++
	}
	out := diags[:0]
	for _, d := range diags {
		if strings.Contains(d.Message, "errors in empty disjunction") && paths[d.Path] > 1 {
			continue
		}
		d.Message = strings.ReplaceAll(d.Message, dir+string(filepath.Separator), "")
		if d.Source == "" {
			d.Source = setSource
		}
		segs := labels(d.Path)
		if len(segs) >= 2 && segs[0] == "policies" {
			var best token.Pos
			depth := 0
			for _, f := range files {
				if p, n := load.FindField(f.Decls, segs, false); n > depth {
					best, depth = p, n
				}
			}
			if depth >= 2 && (d.Pos.Filename == "" || d.Pos.Filename != best.Filename()) {
				d.Pos = posOf(best)
			}
		}
		out = append(out, d)
	}
	return out.Sort()
}

// cause returns ": " and the messages of the errors e wraps, or "".
func cause(e error) string {
	var b strings.Builder
	for w := errors.Unwrap(e); w != nil; w = errors.Unwrap(w) {
		if ce, ok := w.(cueerrors.Error); ok {
			f, a := ce.Msg()
			b.WriteString(": " + fmt.Sprintf(f, a...))
			continue
		}
		b.WriteString(": " + w.Error())
		break
	}
	return b.String()
}

// labels splits a CUE path into its labels, unquoted; an index is written
// as its number.
func labels(path string) []string {
	if path == "" {
		return nil
	}
	p := cue.ParsePath(path)
	if p.Err() != nil {
		return nil
	}
	var out []string
	for _, sel := range p.Selectors() {
		if sel.LabelType() == cue.StringLabel {
			out = append(out, sel.Unquoted())
		} else {
			out = append(out, sel.String())
		}
	}
	return out
}

// Policies returns the set's policies sorted by ID (a copy).
func (s *Set) Policies() []Policy {
	return append([]Policy(nil), s.policies...)
}

// Policy returns the policy with id, and whether there is one.
func (s *Set) Policy(id string) (Policy, bool) {
	i, ok := s.byID[id]
	if !ok {
		return Policy{}, false
	}
	return s.policies[i], true
}

// EnvResult is the outcome of the policy set for one environment.
type EnvResult struct {
	// Env is the environment's name.
	Env string
	// Violations are every violation, waived ones included, sorted by
	// policy id, object, path and detail.
	Violations []Violation
	// Errors are problems that are not violations: a waiver of a policy
	// that does not exist (positioned at the waiver in the environment's
	// file), a policy that failed to evaluate over this input (positioned
	// in policy/), a rendered file that is not YAML.
	Errors diag.List
}

// Violation is one violation of a policy by one object.
type Violation struct {
	// Policy is the policy id; Severity, Message and Source are the policy's.
	Policy   string
	Severity string
	// Object is the offending object's id ("Kind/namespace/name",
	// "Kind/name"), or "Environment/<name>" for the configuration.
	Object string
	// File is the object's file relative to the repository root, with the
	// output prefix given to Evaluate (out/environments/...), or the
	// environment's file (environments/<name>.cue).
	File string
	// Path is the offending field in the object (or the environment), when
	// the policy names one; Detail says what is wrong.
	Path, Detail string
	Message      string
	Source       string
	// Line is the line of Path (else of the object) in File, best effort;
	// 0 when unknown.
	Line int
	// Waived says the environment waives the policy; Reason is the reason
	// it recorded.
	Waived bool
	Reason string
}

// Evaluate evaluates every policy of s over one rendered environment: env
// (its configuration, file list and releases, from compile.Compile with
// Render) and files (the rendered files by slash path relative to the
// output directory, compile.Result.Files). outPrefix is the output
// directory as shown to users, relative to the repository root (e.g.
// "out"); it prefixes each object's file.
//
// Policy evaluation problems and waivers of unknown policies are returned
// in EnvResult.Errors. The error is for a call that cannot be evaluated: a
// nil environment, a file of env.Files missing from files, or input that
// does not match policy/policy.cue's #Input (a katonic bug).
//
// Evaluate is safe for concurrent use, and concurrent calls run in
// parallel: evaluating N environments on N goroutines uses N cores.
func (s *Set) Evaluate(env compile.EnvResult, files map[string][]byte, outPrefix string) (*EnvResult, error) {
	return s.evaluate(env, files, nil, outPrefix, nil)
}

// EvaluateObjects is Evaluate over an environment just rendered, whose
// objects (render.Result.Objects: each encoded file's documents as plain
// values) are at hand: those files' YAML is not parsed, except a file
// holding a violation, for its line. Files without objects (the SOPS
// Secrets copied from secrets/) are parsed. The result is the same as
// Evaluate's over the same render.
func (s *Set) EvaluateObjects(env compile.EnvResult, files map[string][]byte, objects map[string][]map[string]any, outPrefix string) (*EnvResult, error) {
	return s.evaluate(env, files, objects, outPrefix, nil)
}

// CheckWaivers returns an error, at the waiver in the environment's file,
// for each waiver of env that names no policy of s (rule policy.waiver,
// README "katonic policy"). Evaluate
// reports the same errors; `katonic vet` calls CheckWaivers to report them
// without rendering.
func (s *Set) CheckWaivers(env *config.Environment) diag.List {
	return s.checkWaivers(env, &envSyntax{abs: filepath.Join(s.dir, filepath.FromSlash(env.File)), name: env.Name})
}

func (s *Set) checkWaivers(env *config.Environment, envFile *envSyntax) diag.List {
	var out diag.List
	for _, id := range sortedKeys(env.Waivers) {
		at := func(format string, args ...any) {
			out = append(out, diag.Diagnostic{
				Severity: diag.Error,
				Pos:      envFile.pos([]string{"waivers", id}, true),
				Path:     cue.MakePath(cue.Str("environments"), cue.Str(env.Name), cue.Str("waivers"), cue.Str(id)).String(),
				Message:  fmt.Sprintf(format, args...),
				Rule:     "policy.waiver",
				Source:   waiverSource,
			})
		}
		if _, ok := s.byID[id]; ok {
			continue
		}
		known := make([]string, len(s.policies))
		for i, p := range s.policies {
			known[i] = p.ID
		}
		list := strings.Join(known, ", ")
		if list == "" {
			list = "none"
		}
		at("waiver of unknown policy %q (policies: %s)", id, list)
	}
	return out
}

// evaluate is Evaluate; tests change the input with mutate before it is
// evaluated.
func (s *Set) evaluate(env compile.EnvResult, files map[string][]byte, objects map[string][]map[string]any, outPrefix string, mutate func(*input)) (*EnvResult, error) {
	if env.Env == nil {
		return nil, fmt.Errorf("policy: nil environment")
	}
	exit := budget.Enter(Dir + "/ over " + env.Env.File)
	defer exit()
	res := &EnvResult{Env: env.Env.Name}
	docs, objs, errs, err := parseFiles(env, files, objects, outPrefix)
	if err != nil {
		return nil, err
	}
	// The environment and releases are built here, objects and leaves
	// from docs by materialize: mutate sees the former.
	in := newInput(env)
	if mutate != nil {
		mutate(in)
	}
	res.Errors = append(res.Errors, errs...)
	envFile := &envSyntax{abs: filepath.Join(s.dir, filepath.FromSlash(env.Env.File)), name: env.Env.Name}

	res.Errors = append(res.Errors, s.checkWaivers(env.Env, envFile)...)

	var raw []rawViolation
	var perrs diag.List
	if len(s.policies) > 0 {
		u := s.usage
		if s.full {
			u = fullUsage()
		}
		e, gerr := s.get()
		if gerr != nil {
			return nil, gerr
		}
		raw, perrs, err = s.eval(e, materialize(u, in, docs, &matchCache{}))
		s.put(e)
	}
	if err != nil {
		return nil, fmt.Errorf("policy: environment %s: %w", env.Env.Name, err)
	}
	res.Errors = append(res.Errors, perrs...)
	for _, r := range raw {
		p := s.policies[s.byID[r.policy]]
		v := Violation{
			Policy: p.ID, Severity: p.Severity, Message: p.Message, Source: p.Source,
			Object: r.Object, Path: r.Path, Detail: r.Detail,
		}
		if o, ok := objs[r.Object]; ok {
			v.File, v.Line = o.file, o.line(r.Path)
		} else {
			v.File = env.Env.File
			if strings.HasPrefix(r.Object, "Environment/") && r.Path != "" {
				v.Line = envFile.pos(fieldpath.Split(r.Path), false).Line
			}
		}
		if reason, ok := env.Env.Waivers[p.ID]; ok {
			v.Waived, v.Reason = true, reason
		}
		res.Violations = append(res.Violations, v)
	}
	sort.SliceStable(res.Violations, func(i, j int) bool {
		a, b := res.Violations[i], res.Violations[j]
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Detail < b.Detail
	})
	res.Violations = dedupe(res.Violations)
	res.Errors = res.Errors.Sort()
	return res, nil
}

// rawViolation is a #Violation as a policy computed it.
type rawViolation struct {
	policy string
	Object string `json:"object"`
	Detail string `json:"detail"`
	Path   string `json:"path"`
}

// eval fills input with in (plain Go values) and reads every policy's
// violations, with an evaluator of its own. A policy that does not
// evaluate is reported as diagnostics; input that #Input rejects is an
// error.
func (s *Set) eval(e *evaluator, in map[string]any) ([]rawViolation, diag.List, error) {
	data := e.ctx.CompileBytes(appendCUE(nil, in))
	if err := data.Err(); err != nil {
		return nil, nil, fmt.Errorf("input is not CUE data: %w", err)
	}
	filled := e.value.FillPath(inputPath, data)
	if err := filled.LookupPath(inputPath).Err(); err != nil {
		return nil, nil, fmt.Errorf("input does not match #Input of policy/policy.cue: %w", err)
	}
	var out []rawViolation
	var diags diag.List
	for i, p := range s.policies {
		vv := filled.LookupPath(s.paths[i])
		var vs []rawViolation
		if err := vv.Decode(&vs); err != nil {
			// One diagnostic per policy: the same mistake repeats for
			// every element of violations.
			ds := cueDiags(err, s.dir, s.files)
			if len(ds) == 0 {
				ds = diag.List{{Severity: diag.Error, Message: err.Error()}}
			}
			d := ds[0]
			d.Rule = "policy.eval"
			if d.Pos.Filename == "" {
				d.Pos = p.Pos
			}
			d.Message = "policy " + p.ID + " does not evaluate: " + d.Message
			if len(ds) > 1 {
				d.Message += fmt.Sprintf(" (and %d more errors)", len(ds)-1)
			}
			diags = append(diags, d)
			continue
		}
		for _, v := range vs {
			v.policy = p.ID
			out = append(out, v)
		}
	}
	return out, diags, nil
}

func dedupe(vs []Violation) []Violation {
	out := vs[:0]
	for i, v := range vs {
		if i > 0 && v == vs[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

// Count returns how many violations of rs fail (errors: non-waived
// violations of error policies, plus every error-severity diagnostic of
// EnvResult.Errors), how many are non-waived warnings, and how many are
// waived.
func Count(rs []*EnvResult) (errors, warnings, waived int) {
	for _, r := range rs {
		if r == nil {
			continue
		}
		errors += r.Errors.Errors()
		for _, v := range r.Violations {
			switch {
			case v.Waived:
				waived++
			case v.Severity == SeverityWarning:
				warnings++
			default:
				errors++
			}
		}
	}
	return errors, warnings, waived
}

// policyLabels finds where each policy is declared: the label of
// policies."<id>" in the first file, in file order, that declares it.
func policyLabels(files []*ast.File) map[string]diag.Pos {
	out := map[string]diag.Pos{}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			if name, _, err := ast.LabelName(fd.Label); err != nil || name != "policies" {
				continue
			}
			s, ok := fd.Value.(*ast.StructLit)
			if !ok {
				continue
			}
			for _, e := range s.Elts {
				pf, ok := e.(*ast.Field)
				if !ok {
					continue
				}
				id, _, err := ast.LabelName(pf.Label)
				if err != nil || id == "" {
					continue
				}
				if _, seen := out[id]; !seen {
					out[id] = posOf(pf.Label.Pos())
				}
			}
		}
	}
	return out
}

func posOf(p token.Pos) diag.Pos {
	if !p.IsValid() {
		return diag.Pos{}
	}
	return diag.Pos{Filename: p.Filename(), Line: p.Line(), Column: p.Column()}
}

// quote returns id as a CUE label: bare when it is an identifier.
func quote(id string) string {
	return cue.MakePath(cue.Str(id)).String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
