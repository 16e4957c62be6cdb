// Package load reads a katonic configuration repository: the schema/ and
// profiles/ packages with CUE's own loader, and each file of environments/
// as a CUE instance of its own, to which it applies profiles.#Environment.
// It returns each environment as a CUE value with the file that declares
// it, and the rules of each profile as data for internal/validate.
//
// A repository is a CUE module (cue.mod/) whose root is the working
// directory. CUE values are not safe for concurrent use: callers evaluate
// them on one goroutine.
package load

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	cueload "cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/katonic/katonic/internal/budget"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
)

// Directories of a configuration repository, relative to its root.
const (
	SchemaDir       = "schema"
	ProfilesDir     = "profiles"
	EnvironmentsDir = "environments"
)

// applyFile is the name of the file katonic overlays on environments/ to
// apply the schema and the profiles to every environment. It exists only in
// memory; its name cannot clash with an environment file (an underscore is
// not allowed in a DNS label), and it must not start with "_" or ".", which
// CUE's loader ignores.
const applyFile = "katonic_apply.cue"

// Repository is a loaded configuration repository.
type Repository struct {
	// Dir is the absolute path of the repository root.
	Dir string
	// Envs are the environments declared in environments/, sorted by name.
	Envs []Env
	// Rules are the per-profile rules of profiles/ (profiles.rules).
	Rules map[config.Profile]ProfileRules
	// AzureNetwork is schema.azureNetwork: the Azure subnet rules.
	AzureNetwork AzureNetworkRules
	// VMSizes are the VM sizes of schema.vmSizes, sorted: the ones that
	// imply cpu and memoryGiB.
	VMSizes []string
	// VMSizeInfo is schema.vmSizes by size: its hardware and provider.
	VMSizeInfo map[string]VMSize

	builder *builder // the load's own, on its cue.Context
}

// Env is one environment as loaded, before validation.
type Env struct {
	Name string
	// File is the absolute path of the file that declares the environment.
	File string
	// Syntax is that file's syntax tree, for precise positions.
	Syntax *ast.File
	// Value is environments."<Name>" with profiles.#Environment applied.
	// It does not exist (the zero Value) for an Env that only stands for
	// an entry of environments/ that could not be loaded (a file with a
	// syntax error, say): the load's diagnostics say why, and validation
	// skips it.
	Value cue.Value
}

// ProfileRules is the Go form of schema.#ProfileRules for one profile.
type ProfileRules struct {
	AllowedPools         []config.Role            `json:"allowedPools"`
	RequiredPools        []config.Role            `json:"requiredPools"`
	RecommendedPools     []config.Role            `json:"recommendedPools"`
	PoolsSource          string                   `json:"poolsSource"`
	MinKubernetesVersion string                   `json:"minKubernetesVersion"` // MAJOR.MINOR
	KubernetesSource     string                   `json:"kubernetesSource"`
	PoolRules            map[config.Role]PoolRule `json:"poolRules"`
}

// PoolRule is the Go form of schema.#PoolRule: hard lower bounds (Min),
// hard upper bounds (Max) and recommended lower bounds (Recommend), keyed by
// node-pool field (minNodes, maxNodes, cpu, memoryGiB, bootDiskGiB,
// gpuCount), with the rule's source.
type PoolRule struct {
	Source    string         `json:"source"`
	Min       map[string]int `json:"min"`
	Max       map[string]int `json:"max"`
	Recommend map[string]int `json:"recommend"`
}

// AzureNetworkRules is schema.azureNetwork: subnet prefix limits (as prefix
// lengths: a larger number is a smaller subnet) and Azure's reserved count.
type AzureNetworkRules struct {
	Source                         string `json:"source"`
	ClusterSubnetMaxPrefix         int    `json:"clusterSubnetMaxPrefix"`
	ClusterSubnetRecommendedPrefix int    `json:"clusterSubnetRecommendedPrefix"`
	JumphostSubnetMaxPrefix        int    `json:"jumphostSubnetMaxPrefix"`
	AzureReservedAddresses         int    `json:"azureReservedAddresses"`
	// ReservedRanges are the IPv4 ranges Azure does not allow in a
	// virtual network's address space; ReservedRangesSource cites them.
	ReservedRanges       []ReservedRange `json:"reservedRanges"`
	ReservedRangesSource string          `json:"reservedRangesSource"`
}

// VMSize is one entry of schema.vmSizes: vCPU and memory (GiB) per VM,
// its GPUs, and the cloud that offers it ("azure", "aws" or "gcp").
type VMSize struct {
	CPU       int    `json:"cpu"`
	MemoryGiB int    `json:"memoryGiB"`
	GPUType   string `json:"gpuType,omitempty"`
	GPUCount  int    `json:"gpuCount,omitempty"`
	Provider  string `json:"provider"`
}

// SameSize returns the names of sizes, sorted, that provider offers with
// the vCPU, memory and GPUs of hw: what a size of another cloud becomes
// on this one (validate's nodepool.vm-size-provider message, import's
// mapping).
func SameSize(sizes map[string]VMSize, hw VMSize, provider string) []string {
	var out []string
	for name, o := range sizes {
		if o.Provider == provider && o.CPU == hw.CPU && o.MemoryGiB == hw.MemoryGiB && o.GPUType == hw.GPUType && o.GPUCount == hw.GPUCount {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ReservedRange is one entry of schema.azureNetwork.reservedRanges: an
// IPv4 CIDR and what Azure uses it for.
type ReservedRange struct {
	CIDR string `json:"cidr"`
	Use  string `json:"use"`
}

// Load reads the repository rooted at dir (which must hold cue.mod/).
//
// Configuration problems — syntax errors, a file that declares something
// other than its environment (environments.isolation), an environment
// declared in two files, an environment in a file not named after it —
// come back as diagnostics with positions; the returned Repository then holds the environments that could
// still be loaded. The error is for problems that are not the
// configuration's: an unreadable directory, or a repository without
// cue.mod, schema/ or profiles/.
func Load(dir string) (*Repository, diag.List, error) {
	return LoadWith(dir, Options{})
}

// Options tune LoadWith.
type Options struct {
	// Skip, when not nil, is asked for each environment (its name and the
	// absolute path of its file) whether its CUE instance can be left
	// unbuilt: a skipped environment comes back with Syntax and without a
	// Value. The layout and isolation rules still
	// hold every file. A caller skips a file whose validation it has
	// cached under a key covering the file, the schema, the profiles and
	// katonic (internal/compile's render cache).
	Skip func(name, file string) bool
	// Unparsed, when not nil, is asked for each regular file
	// environments/<name>.cue (its environment's name and its absolute
	// path) whether the load may leave it unread: the caller vouches that
	// the file, as it is, declares environments."<name>" and nothing else,
	// and that a load found nothing to report in it (internal/compile
	// records that in its render cache, under a key covering the file, the
	// schema, the profiles and katonic). Its environment comes back without
	// Syntax or Value, as a skipped one does; Skip is not asked. Should a
	// file that is read declare the same environment, the file is read
	// after all, so that the duplicate is reported as when every file is.
	Unparsed func(name, file string) bool
}

// LoadWith is Load with options.
func LoadWith(dir string, opts Options) (*Repository, diag.List, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range []string{"cue.mod", SchemaDir, ProfilesDir} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("%s is not a katonic repository: it has no %s/ directory (run katonic from the repository root)", dir, d)
		}
	}
	ctx := cuecontext.New()
	repo := &Repository{Dir: dir}

	// The schema and the profiles.
	schemaCUE := schemaFiles(dir)
	if d := specialSchemaFiles(dir, schemaCUE); len(d) > 0 {
		return nil, d, nil
	}
	insts, vals, err := buildSchema(ctx, dir, schemaCUE)
	if err != nil {
		return nil, FromCUE(err, dir, "", "schema"), nil
	}
	schemaV, profilesV := vals[0], vals[1]
	if err := profilesV.LookupPath(cue.ParsePath("rules")).Decode(&repo.Rules); err != nil {
		return nil, FromCUE(err, dir, "", "schema"), nil
	}
	if err := schemaV.LookupPath(cue.ParsePath("azureNetwork")).Decode(&repo.AzureNetwork); err != nil {
		return nil, FromCUE(err, dir, "", "schema"), nil
	}
	if err := schemaV.LookupPath(cue.ParsePath("vmSizes")).Decode(&repo.VMSizeInfo); err != nil {
		return nil, FromCUE(err, dir, "", "schema"), nil
	}
	for s := range repo.VMSizeInfo {
		repo.VMSizes = append(repo.VMSizes, s)
	}
	sort.Strings(repo.VMSizes)

	// The environments: each file of environments/ is checked and parsed
	// here (size, encoding, syntax, package, isolation), then built as a
	// CUE instance of its own with the in-memory apply file, against the
	// schema and profiles built above. CUE's loader never reads them: a
	// file sees only itself, the project's schema and profiles packages and
	// CUE's standard library.
	envDir := filepath.Join(dir, EnvironmentsDir)
	popts := []parser.Option{parser.ParseComments}
	if mf := insts[0].ModuleFile; mf != nil && mf.Language != nil && mf.Language.Version != "" {
		popts = append(popts, parser.Version(mf.Language.Version))
	}
	files, diags, err := scanEnvironments(envDir, popts, opts.Unparsed)
	if err != nil {
		return nil, nil, err
	}
	if again := files.declaredUnparsed(); len(again) > 0 {
		files, diags, err = scanEnvironments(envDir, popts, func(name, file string) bool {
			return !again[name] && opts.Unparsed(name, file)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	imp := newImports(insts[1])
	decls, d := declarations(files, dir, imp)
	for file, name := range files.unparsed {
		decls = append(decls, Env{Name: name, File: file})
	}
	slices.SortFunc(decls, func(a, b Env) int { return strings.Compare(a.Name, b.Name) })
	diags = append(diags, d...)
	for _, x := range d {
		// A file with a layout error stands for the environment it is
		// named after, if no file declares that one.
		if stem := stemOf(filepath.Base(x.Pos.Filename)); x.Pos.Filename != "" && files.standIns[stem] == "" {
			files.standIns[stem] = x.Pos.Filename
		}
	}
	b := newBuilder(ctx, dir, imp, popts, insts[1].ImportPath)
	repo.builder = b
	for _, decl := range decls {
		if decl.Syntax == nil || opts.Skip != nil && opts.Skip(decl.Name, decl.File) {
			// A file that broke isolation, or one the caller skips.
			repo.Envs = append(repo.Envs, decl)
			continue
		}
		decl, d := b.env(decl)
		diags = append(diags, d...)
		repo.Envs = append(repo.Envs, decl)
	}
	repo.Envs = standIns(repo.Envs, files)
	return repo, diags, nil
}

// Builder builds the environments a load skipped (Options.Skip), each as
// the CUE instance Load would have built. A Builder is not safe for
// concurrent use; different Builders are independent (each has its own
// cue.Context), so that environments can be built and validated on
// several goroutines, one Builder each.
type Builder struct {
	b *builder
}

// Builder returns the builder on the load's own cue.Context. Values it
// builds may be used with the repository's other values.
func (r *Repository) Builder() *Builder {
	return &Builder{b: r.builder}
}

// NewBuilder returns a builder with a cue.Context of its own, into which
// it loads and builds the schema and profiles again (a few milliseconds).
// It is safe for concurrent use (calls take turns: CUE's loader is not
// documented as safe for concurrent use). The error is for a repository
// whose schema or profiles no longer load (they changed since Load).
func (r *Repository) NewBuilder() (*Builder, error) {
	if r.builder == nil {
		return nil, fmt.Errorf("%s: the repository was not loaded", r.Dir)
	}
	newBuilderMu.Lock()
	defer newBuilderMu.Unlock()
	ctx := cuecontext.New()
	insts, _, err := buildSchema(ctx, r.Dir, schemaFiles(r.Dir))
	if err != nil {
		return nil, err
	}
	return &Builder{b: newBuilder(ctx, r.Dir, newImports(insts[1]), r.builder.popts, insts[1].ImportPath)}, nil
}

// buildSchema loads the schema and profiles packages of the repository at
// dir with CUE's loader and builds them in ctx. It returns their instances
// and values, in that order, or CUE's error. The load and the build are
// one evaluation for the budget (--max-eval-time, --max-eval-memory),
// which names files, the .cue files of schema/ and profiles/: a file there that
// evaluates for ever stops katonic as a slow environment file does.
func buildSchema(ctx *cue.Context, dir string, files []string) ([]*build.Instance, []cue.Value, error) {
	exit := budget.Enter(schemaNames(dir, files))
	defer exit()
	insts := cueload.Instances([]string{"./" + SchemaDir, "./" + ProfilesDir}, &cueload.Config{Dir: dir})
	for _, inst := range insts {
		if inst.Err != nil {
			return nil, nil, inst.Err
		}
	}
	vals, err := ctx.BuildInstances(insts)
	if err != nil {
		return nil, nil, err
	}
	return insts, vals, nil
}

// schemaSource is the Source of the diagnostics about the files CUE's
// loader reads for the schema and the profiles.
const schemaSource = "README, \"Layout\": cue.mod/, schema/ and profiles/ hold the CUE module and its packages, as regular files"

// specialSchemaFiles returns an error for each file CUE's loader would read
// to build the schema and profiles (cue.mod/module.cue, the .cue files of
// the repository root, whose package may join theirs, and files, the .cue
// files of schema/ and profiles/) that is a named pipe, socket or device: reading one would block
// for ever.
func specialSchemaFiles(dir string, files []string) diag.List {
	paths := []string{filepath.Join(dir, "cue.mod", "module.cue")}
	root, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	paths = append(append(paths, root...), files...)
	var out diag.List
	for _, p := range paths {
		if k := special(p); k != "" {
			out = append(out, diag.Diagnostic{Severity: diag.Error, Pos: diag.Pos{Filename: p},
				Message: fmt.Sprintf("%s is %s, not a regular file: CUE would wait on it for ever", filepath.Base(p), k),
				Rule:    "schema.layout", Source: schemaSource})
		}
	}
	return out
}

// schemaFiles returns the .cue files of schema/ and profiles/ (absolute
// when dir is), sorted by directory, then name.
func schemaFiles(dir string) []string {
	var files []string
	for _, d := range []string{SchemaDir, ProfilesDir} {
		m, _ := filepath.Glob(filepath.Join(dir, d, "*.cue"))
		files = append(files, m...)
	}
	return files
}

// schemaNames names files (schemaFiles) relative to dir, as messages show
// them, comma-separated; "schema/, profiles/" when there are none.
func schemaNames(dir string, files []string) string {
	if len(files) == 0 {
		return SchemaDir + "/, " + ProfilesDir + "/"
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = diag.Rel(dir, f)
	}
	return strings.Join(names, ", ")
}

// newBuilderMu serialises NewBuilder.
var newBuilderMu sync.Mutex

// Build builds e, an environment the load skipped (with Syntax, without
// Value), and returns it with its Value. When its file does not evaluate
// at all (a reference to nothing, say), e comes back without Syntax and
// Value, with the diagnostics CUE gives, as Load returns such a file.
func (b *Builder) Build(e Env) (Env, diag.List) {
	if e.Syntax == nil || e.Value.Exists() {
		return e, nil
	}
	return b.b.env(e)
}

// newBuilder makes a builder on ctx, in which the schema and the profiles
// (profiles' import path given) are built, for the repository at dir.
func newBuilder(ctx *cue.Context, dir string, imp *imports, popts []parser.Option, profiles string) *builder {
	return &builder{ctx: ctx, root: dir, dir: filepath.Join(dir, EnvironmentsDir), imports: imp, popts: popts,
		apply: fmt.Sprintf("package %s\n\nimport profiles %q\n\nenvironments: [string]: profiles.#Environment\n", EnvironmentsDir, profiles)}
}

// env builds decl's file and returns decl with its Value, or without
// Syntax and with CUE's diagnostics when the file does not evaluate.
func (b *builder) env(decl Env) (Env, diag.List) {
	exit := budget.Enter(diag.Rel(b.root, decl.File))
	v := b.build(decl.Syntax)
	exit()
	ev := v.LookupPath(cue.MakePath(cue.Str(EnvironmentsDir), cue.Str(decl.Name)))
	if !ev.Exists() {
		// The file does not evaluate at all (a reference to nothing,
		// an import that is not there): CUE says where.
		var diags diag.List
		if err := v.Err(); err != nil {
			diags = FromCUE(err, b.root, decl.File, "cue")
		}
		decl.Syntax = nil
		return decl, diags
	}
	decl.Value = ev
	return decl, nil
}

// builder builds environment files as CUE instances of their own.
type builder struct {
	ctx     *cue.Context
	root    string // the repository, absolute
	dir     string // environments/, absolute
	imports *imports
	popts   []parser.Option
	apply   string // the apply file's source
}

// build returns the value of the instance made of f and the apply file,
// which unifies every environments."<name>" with profiles.#Environment.
// The schema and profiles instances are shared by every build on b.ctx,
// so CUE evaluates them once per process.
func (b *builder) build(f *ast.File) cue.Value {
	apply, err := parser.ParseFile(filepath.Join(b.dir, applyFile), b.apply, b.popts...)
	if err != nil {
		panic(fmt.Sprintf("katonic's apply file does not parse: %v", err)) // a bug of katonic's, not the user's
	}
	inst := build.NewContext().NewInstance(b.dir, nil)
	inst.PkgName = EnvironmentsDir
	inst.CanonicalImportPath = b.imports.canonical
	inst.Imports = b.imports.insts
	inst.AddSyntax(f)
	inst.AddSyntax(apply)
	return b.ctx.BuildInstance(inst)
}

// imports are the packages an environment file may import besides CUE's
// standard library: the project's schema and profiles (the instances the
// profiles were built from, so that a file importing the schema sees the
// same values the profiles do).
type imports struct {
	// byPath maps each spelling of an allowed import path (with or
	// without the module's major version, with or without the package
	// qualifier) to its instance's import path.
	byPath map[string]string
	insts  []*build.Instance
}

// newImports lists profiles and the schema instance it imports.
func newImports(profiles *build.Instance) *imports {
	im := &imports{byPath: map[string]string{}}
	add := func(inst *build.Instance) {
		im.insts = append(im.insts, inst)
		p := ast.ParseImportPath(inst.ImportPath)
		base, _, _ := strings.Cut(p.Path, "@")
		mod, _, _ := strings.Cut(inst.Module, "@")
		major := ""
		if _, v, ok := strings.Cut(inst.Module, "@"); ok {
			major = "@" + v
		}
		rest := strings.TrimPrefix(base, mod)
		for _, spelled := range []string{base, mod + major + rest, base + major} {
			im.byPath[spelled] = inst.ImportPath
			im.byPath[spelled+":"+inst.PkgName] = inst.ImportPath
		}
	}
	add(profiles)
	for _, i := range profiles.Imports {
		if i.PkgName == "schema" {
			add(i)
		}
	}
	return im
}

// canonical returns the import path of the allowed package p names, or p.
func (im *imports) canonical(p string) string {
	if c, ok := im.byPath[p]; ok {
		return c
	}
	return p
}

// allowed reports whether an environment file may import p: a package of
// CUE's standard library (its first element has no dot) or the project's
// schema or profiles.
func (im *imports) allowed(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	if first != "" && !strings.Contains(first, ".") && !strings.Contains(p, ":") {
		return true
	}
	_, ok := im.byPath[p]
	return ok
}

// standIns adds to envs, for each name no environment has, an Env without
// a Value standing for an entry of environments/ that could not be loaded
// or broke the layout. Naming such an environment on the command line then
// reports why, instead of "no environment named". Validation skips an Env
// without a Value; the load's diagnostics already fail the run.
func standIns(envs []Env, files envFiles) []Env {
	have := map[string]bool{}
	for _, e := range envs {
		have[e.Name] = true
	}
	for name, path := range files.standIns {
		if name != "" && !have[name] {
			have[name] = true
			envs = append(envs, Env{Name: name, File: path})
		}
	}
	sort.Slice(envs, func(i, j int) bool { return envs[i].Name < envs[j].Name })
	return envs
}

// IsolationSource cites the rule that an environment file declares its
// own environment and nothing else.
const IsolationSource = "README, \"Layout\": each environments/<name>.cue is its own CUE instance, unified with schema/ and profiles/; it declares environments.\"<name>\" only"

// declarations scans the syntax of the environment files (sorted by path):
// each may import only CUE's standard library and the project's schema and
// profiles, and declare only the top-level field environments, a struct
// of environments with literal names. Anything else at the top level — an
// embedding, a comprehension, a let clause, a hidden field, a definition,
// another field, a file-level attribute, another import — is an error at
// its position (environments.isolation); the environments of such a file
// are returned without Syntax, and are not built. An environment may be
// declared in one file only, and that file is named after it (<name>.cue,
// the README's layout: one file per installation).
//
// An environment declared in more than one file belongs to the file named
// after it (else to the first file declaring it); each declaration in
// another file is an error and is removed from the syntax before CUE
// evaluates it. A name that is not a DNS-1123 label is left to validation
// (one error about the name, not a second one about a file name built
// from it).
func declarations(files envFiles, dir string, im *imports) ([]Env, diag.List) {
	type declaration struct {
		name   string
		file   *ast.File
		field  *ast.Field
		parent *ast.StructLit
	}
	paths := make([]string, 0, len(files.parsed))
	for p := range files.parsed {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var diags diag.List
	var all []declaration
	isolated := map[*ast.File]bool{}
	for _, path := range paths {
		f := files.parsed[path]
		isolated[f] = true
		// refuse reports a declaration that breaks isolation; layout
		// marks the ones the layout rule has always refused.
		refuse := func(p token.Pos, label, msg string, layout ...bool) {
			isolated[f] = false
			d := diag.Diagnostic{Severity: diag.Error, Pos: posOf(p), Path: label, Message: msg,
				Rule: "environments.isolation", Source: IsolationSource}
			if len(layout) > 0 {
				d = errAt(p, label, msg, "environments.layout")
			}
			diags = append(diags, d)
		}
		for _, decl := range f.Decls {
			switch decl := decl.(type) {
			case *ast.Package, *ast.CommentGroup:
				continue
			case *ast.ImportDecl:
				for _, spec := range decl.Specs {
					p, err := strconv.Unquote(spec.Path.Value)
					if err != nil || !im.allowed(p) {
						refuse(spec.Path.Pos(), "", fmt.Sprintf(
							"import %s: an environment file may import CUE's standard library and the project's schema and profiles only", spec.Path.Value))
					}
				}
				continue
			case *ast.Attribute:
				refuse(decl.Pos(), "", fmt.Sprintf("the file-level attribute %s: katonic builds every environment file whole, so build attributes do not apply", decl.Text))
				continue
			case *ast.EmbedDecl:
				refuse(decl.Pos(), "", "an embedding at the top level would declare values outside environments.\""+stemOf(filepath.Base(path))+"\": declare environments.\"<name>\" only")
				continue
			case *ast.Comprehension:
				refuse(decl.Pos(), "", "a comprehension at the top level could declare or change any environment: declare environments.\"<name>\" only")
				continue
			case *ast.LetClause:
				refuse(decl.Pos(), "", "a let clause at the top level: declare environments.\"<name>\" only (a let inside the environment's struct is fine)")
				continue
			case *ast.Field:
				name, isIdent, err := ast.LabelName(decl.Label)
				switch {
				case err != nil || !isIdent && name == "":
					refuse(decl.Pos(), "", "a top-level label must be a literal name", true)
				case strings.HasPrefix(name, "#"), strings.HasPrefix(name, "_"):
					kind := "hidden field"
					if strings.Contains(name, "#") {
						kind = "definition"
					}
					refuse(decl.Label.Pos(), name, fmt.Sprintf(
						"the %s %s at the top level: an environment file declares environments.\"<name>\" only (put shared values in the profile, or inside the environment)", kind, name))
				case name != EnvironmentsDir:
					refuse(decl.Label.Pos(), name, fmt.Sprintf(
						"field %q is not allowed at the top level of an environment file: declare environments.\"<name>\" only", name), true)
				default:
					parent, ok := decl.Value.(*ast.StructLit)
					if !ok {
						refuse(decl.Value.Pos(), EnvironmentsDir,
							"environments must be a struct literal of environments: environments: \"<name>\": {...}", true)
						break
					}
					for _, elt := range parent.Elts {
						switch elt := elt.(type) {
						case *ast.CommentGroup, *ast.Attribute, *ast.LetClause:
						case *ast.Field:
							ename, _, err := ast.LabelName(elt.Label)
							if err == nil && ename != "" {
								all = append(all, declaration{name: ename, file: f, field: elt, parent: parent})
								break
							}
							msg := "environment names must be literal strings, not patterns or expressions"
							if err == nil {
								msg = "an environment name must not be empty"
							}
							refuse(elt.Label.Pos(), EnvironmentsDir, msg, true)
						default:
							refuse(elt.Pos(), EnvironmentsDir, "environment names must be literal strings, not patterns or expressions", true)
						}
					}
				}
				continue
			}
			refuse(decl.Pos(), "", "only environments.\"<name>\" may be declared at the top level of an environment file")
		}
	}

	// The file each environment belongs to.
	home := map[string]declaration{}
	for _, d := range all {
		h, ok := home[d.name]
		if !ok || filepath.Base(d.file.Filename) == d.name+".cue" && filepath.Base(h.file.Filename) != d.name+".cue" {
			home[d.name] = d
		}
	}
	byName := map[string]Env{}
	for _, d := range all {
		h := home[d.name]
		path := cue.MakePath(cue.Str(EnvironmentsDir), cue.Str(d.name)).String()
		if d.file != h.file {
			diags = append(diags, errAt(d.field.Label.Pos(), path,
				fmt.Sprintf("environment %q is declared twice: also at %s (each environment lives in one file)",
					d.name, posOf(h.field.Label.Pos()).String(dir)), "environments.duplicate"))
			removeField(d.parent, d.field)
			continue
		}
		if _, ok := byName[d.name]; ok {
			continue
		}
		want := d.name + ".cue"
		if len(validation.IsDNS1123Label(d.name)) == 0 && filepath.Base(d.file.Filename) != want {
			diags = append(diags, errAt(d.field.Label.Pos(), path,
				fmt.Sprintf("environment %q must be declared in %s/%s, not in %s (one file per installation, named after it)",
					d.name, EnvironmentsDir, want, filepath.Base(d.file.Filename)), "environments.layout"))
		}
		e := Env{Name: d.name, File: d.file.Filename}
		if isolated[d.file] {
			e.Syntax = d.file
		}
		byName[d.name] = e
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	envs := make([]Env, len(names))
	for i, n := range names {
		envs[i] = byName[n]
	}
	return envs, diags
}

// removeField removes f from the struct s (a duplicate declaration).
func removeField(s *ast.StructLit, f *ast.Field) {
	if s == nil {
		return
	}
	for i, e := range s.Elts {
		if e == f {
			s.Elts = append(s.Elts[:i:i], s.Elts[i+1:]...)
			return
		}
	}
}

func errAt(p token.Pos, path, msg, rule string) diag.Diagnostic {
	return diag.Diagnostic{Severity: diag.Error, Pos: posOf(p), Path: path, Message: msg, Rule: rule,
		Source: "README, \"Layout\": environments/<name>.cue, one file per installation"}
}

func posOf(p token.Pos) diag.Pos {
	if !p.IsValid() {
		return diag.Pos{}
	}
	return diag.Pos{Filename: p.Filename(), Line: p.Line(), Column: p.Column()}
}

// FromCUE turns a CUE error (a list of errors) into diagnostics. The
// primary position is the first one inside preferFile (when given) or in
// environments/; the last position in schema/ (else in profiles/) becomes
// the Source, so a reader sees both the offending value and the rule it
// meets.
// rule names the rule class ("schema", "cue").
func FromCUE(err error, dir, preferFile, rule string) diag.List {
	var out diag.List
	for _, e := range cueerrors.Errors(err) {
		positions := cueerrors.Positions(e)
		var primary, source token.Pos
		for _, p := range positions {
			name := p.Filename()
			if !primary.IsValid() && (preferFile != "" && name == preferFile || preferFile == "" && inDir(dir, EnvironmentsDir, name)) {
				primary = p
			}
			// The most specific constraint is the last one CUE lists;
			// schema/ is preferred over profiles/, which mostly refers to it.
			switch {
			case inDir(dir, SchemaDir, name):
				source = p
			case inDir(dir, ProfilesDir, name) && !inDir(dir, SchemaDir, source.Filename()):
				source = p
			}
		}
		if !primary.IsValid() && len(positions) > 0 {
			primary = positions[0]
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if len(args) == 0 && strings.Contains(format, "%") {
			// Some errors (wrapped Go errors) keep their text in Error only.
			msg = e.Error()
		}
		d := diag.Diagnostic{
			Severity: diag.Error,
			Pos:      posOf(primary),
			Path:     formatPath(e.Path()),
			Message:  escapeControls(msg),
			Rule:     rule,
		}
		if source.IsValid() {
			d.Source = posOf(source).String(dir)
		} else if rule == "schema" {
			d.Source = "the CUE schema: schema/environment.cue, profiles/"
		}
		out = append(out, d)
	}
	return out
}

// escapeControls writes the control characters of a CUE message (a
// string token quoted from the source may hold a carriage return) as Go
// escapes, so a diagnostic stays one line: a raw one could forge a line
// in a CI log.
func escapeControls(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func inDir(root, sub, name string) bool {
	return strings.HasPrefix(name, filepath.Join(root, sub)+string(filepath.Separator))
}

// formatPath renders a CUE error path, quoting labels that are not
// identifiers: environments."acme-azure".nodePools.
func formatPath(p []string) string {
	if len(p) == 0 {
		return ""
	}
	sels := make([]cue.Selector, 0, len(p))
	for _, s := range p {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
		if strings.HasPrefix(s, "#") {
			sels = append(sels, cue.Def(s))
			continue
		}
		sels = append(sels, cue.Str(s))
	}
	return cue.MakePath(sels...).String()
}
