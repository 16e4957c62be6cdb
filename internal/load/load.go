// Package load reads a katonic configuration repository with CUE's own
// loader: the schema/ and profiles/ packages and the environments/ package,
// to which it applies profiles.#Environment. It returns each environment as
// a CUE value with the file that declares it, and the rules of each profile
// as data for internal/validate.
//
// A repository is a CUE module (cue.mod/) whose root is the working
// directory. CUE values are not safe for concurrent use: callers evaluate
// them on one goroutine.
package load

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

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
// other than environments, an environment declared in two files, an
// environment in a file not named after it — come back as diagnostics with
// positions; the returned Repository then holds the environments that could
// still be loaded. The error is for problems that are not the
// configuration's: an unreadable directory, or a repository without
// cue.mod, schema/ or profiles/.
func Load(dir string) (*Repository, diag.List, error) {
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
	insts := cueload.Instances([]string{"./" + SchemaDir, "./" + ProfilesDir}, &cueload.Config{Dir: dir})
	for _, inst := range insts {
		if inst.Err != nil {
			return nil, FromCUE(inst.Err, dir, "", "schema"), nil
		}
	}
	vals, err := ctx.BuildInstances(insts)
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

	// The environments, with the profiles applied by an in-memory file.
	// Every file of environments/ is checked and read here first (size,
	// encoding, syntax, package); CUE's loader reads only what passed, from
	// memory, and an empty file of the package for each file that did not.
	envDir := filepath.Join(dir, EnvironmentsDir)
	popts := []parser.Option{parser.ParseComments}
	if mf := insts[0].ModuleFile; mf != nil && mf.Language != nil && mf.Language.Version != "" {
		popts = append(popts, parser.Version(mf.Language.Version))
	}
	files, diags, err := scanEnvironments(envDir, popts)
	if err != nil {
		return nil, nil, err
	}
	apply := fmt.Sprintf("package environments\n\nimport profiles %q\n\nenvironments: [string]: profiles.#Environment\n",
		strings.TrimSuffix(insts[1].ImportPath, ":profiles"))
	overlay := map[string]cueload.Source{}
	for p, src := range files.sources {
		overlay[p] = cueload.FromBytes(src)
	}
	overlay[filepath.Join(envDir, applyFile)] = cueload.FromString(apply)
	cfg := &cueload.Config{Dir: dir, Overlay: overlay}
	einsts := cueload.Instances([]string{"./" + EnvironmentsDir}, cfg)
	einst := einsts[0]
	if einst.Err != nil {
		repo.Envs = standIns(nil, files, true)
		return repo, append(diags, FromCUE(einst.Err, dir, "", "cue")...), nil
	}
	decls, d := declarations(einst, dir)
	diags = append(diags, d...)
	for _, x := range d {
		if stem := stemOf(filepath.Base(x.Pos.Filename)); x.Pos.Filename != "" && inDir(dir, EnvironmentsDir, x.Pos.Filename) && files.standIns[stem] == "" {
			files.standIns[stem] = x.Pos.Filename
		}
	}
	// The environments are one CUE package: what CUE evaluates here is
	// not one file's, so a limit passed here names them all.
	exit := budget.Enter(strings.Join(files.names(dir), ", "))
	envsV := ctx.BuildInstance(einst)
	exit()
	if err := envsV.Err(); err != nil {
		// Evaluation errors of single environments surface in validation;
		// an error here is one no environment can be blamed for alone.
		if !envsV.LookupPath(cue.ParsePath("environments")).Exists() {
			repo.Envs = standIns(nil, files, true)
			return repo, append(diags, FromCUE(err, dir, "", "cue")...), nil
		}
	}
	for _, decl := range decls {
		v := envsV.LookupPath(cue.MakePath(cue.Str("environments"), cue.Str(decl.Name)))
		decl.Value = v
		repo.Envs = append(repo.Envs, decl)
	}
	repo.Envs = standIns(repo.Envs, files, false)
	return repo, diags, nil
}

// standIns adds to envs, for each name no environment has, an Env without
// a Value standing for an entry of environments/ that could not be loaded
// or broke the layout: the rejected ones, and with all every .cue file
// (when the package as a whole failed to load). Naming such an environment
// on the command line then reports why, instead of "no environment named".
// Validation skips an Env without a Value; the load's diagnostics already
// fail the run.
func standIns(envs []Env, files envFiles, all bool) []Env {
	have := map[string]bool{}
	for _, e := range envs {
		have[e.Name] = true
	}
	add := func(name, path string) {
		if name != "" && !have[name] {
			have[name] = true
			envs = append(envs, Env{Name: name, File: path})
		}
	}
	for name, path := range files.standIns {
		add(name, path)
	}
	if all {
		for path := range files.sources {
			add(stemOf(filepath.Base(path)), path)
		}
	}
	sort.Slice(envs, func(i, j int) bool { return envs[i].Name < envs[j].Name })
	return envs
}

// declarations scans the syntax of the environments package: each file may
// declare only the top-level field environments (definitions and hidden
// fields are allowed), with literal names; an environment may be declared
// in one file only, and that file is named after it (<name>.cue, the README's
// layout: one file per installation).
//
// An environment declared in more than one file belongs to the file named
// after it (else to the first file declaring it); each declaration in
// another file is an error and is removed from the syntax before CUE
// evaluates it, so its values cannot also conflict with the real ones. A
// name that is not a DNS-1123 label is left to validation (one error about
// the name, not a second one about a file name built from it).
func declarations(inst *build.Instance, dir string) ([]Env, diag.List) {
	type declaration struct {
		name   string
		file   *ast.File
		field  *ast.Field
		parent *ast.StructLit
	}
	var diags diag.List
	var all []declaration
	for _, f := range inst.Files {
		if filepath.Base(f.Filename) == applyFile {
			continue
		}
		if !inDir(dir, EnvironmentsDir, f.Filename) {
			// CUE's loader merges the files of a package found in the
			// directories above the one loaded (cue help modules), so a
			// stray "package environments" file in the repository root
			// would join every environment.
			diags = append(diags, errAt(f.Pos(), "",
				fmt.Sprintf("this file is in package %s but outside %s/, and CUE merges a package's files from the directories above it into %s/: move it into %s/ or change its package",
					EnvironmentsDir, EnvironmentsDir, EnvironmentsDir, EnvironmentsDir), "environments.layout"))
			f.Decls = nil
			continue
		}
		for _, decl := range f.Decls {
			field, ok := decl.(*ast.Field)
			if !ok {
				continue
			}
			name, isIdent, err := ast.LabelName(field.Label)
			if err != nil || !isIdent && name == "" {
				diags = append(diags, errAt(field.Pos(), "", "a top-level label must be a literal name", "environments.layout"))
				continue
			}
			if strings.HasPrefix(name, "#") || strings.HasPrefix(name, "_") {
				continue
			}
			if name != "environments" {
				diags = append(diags, errAt(field.Label.Pos(), name,
					fmt.Sprintf("field %q is not allowed at the top level of an environment file: declare environments.\"<name>\" only", name), "environments.layout"))
				continue
			}
			parent, ok := field.Value.(*ast.StructLit)
			if !ok {
				diags = append(diags, errAt(field.Value.Pos(), "environments",
					"environments must be a struct literal of environments: environments: \"<name>\": {...}", "environments.layout"))
				field.Value = &ast.StructLit{}
				continue
			}
			// Patterns, comprehensions and computed names are reported and
			// removed, so they cannot also change the other environments.
			kept := parent.Elts[:0:0]
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
					diags = append(diags, errAt(elt.Label.Pos(), "environments", msg, "environments.layout"))
					continue
				default:
					diags = append(diags, errAt(elt.Pos(), "environments",
						"environment names must be literal strings, not patterns or expressions", "environments.layout"))
					continue
				}
				kept = append(kept, elt)
			}
			parent.Elts = kept
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
		path := cue.MakePath(cue.Str("environments"), cue.Str(d.name)).String()
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
		byName[d.name] = Env{Name: d.name, File: d.file.Filename, Syntax: d.file}
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
			Message:  msg,
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
