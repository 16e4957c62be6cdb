// Package scaffold writes a new environment file (environments/<name>.cue)
// for `katonic new`: every node pool a profile requires or recommends, at
// the least the repository's rules accept without a warning, each field
// commented with what it is, its unit, its bound and the bound's source; the
// optional pools, services and identity as commented-out lines with their
// defaults. The figures are read from the loaded repository
// (load.Repository.Rules, from profiles/ and schema/rules.cue) and the
// defaults from profiles.#Environment, so a change to either changes the
// scaffold. The file is built as CUE syntax (cuelang.org/go/cue/ast) and
// printed by CUE's own formatter.
package scaffold

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/load"
)

// Options say what to scaffold.
type Options struct {
	// Name is the environment's name, a DNS-1123 label (it
	// becomes paths and object names).
	Name string
	// Profile is one of the profiles of the repository (profiles.rules).
	Profile config.Profile
	// Provider is "aws", "gcp" or "azure", for the cloud profile only;
	// empty leaves it out (shown commented).
	Provider string
	// Domain is the platform FQDN; empty means the placeholder
	// <Name>.example.com, commented as one to change.
	Domain string
	// PlatformVersion is the Katonic release; empty means the newest one
	// of internal/catalog (Newest).
	PlatformVersion string
}

// OptionError is an option Environment cannot scaffold: a name that is not
// a DNS-1123 label, an unknown profile, a provider outside the cloud
// profile, a domain that is not an FQDN. The command line reports it as a
// usage error.
type OptionError struct {
	Option string // "name", "profile", "provider", "domain"
	Msg    string
}

func (e *OptionError) Error() string { return e.Msg }

// Providers are the values of provider (schema/environment.cue).
var Providers = []string{"aws", "gcp", "azure"}

// nameSource is the source of the environment-name rule (as in internal/validate).
const nameSource = "README, \"Layout\": environment names become paths and object names (Kubernetes DNS-1123 label)"

// CheckName returns an *OptionError when name is not a valid environment
// name: a DNS-1123 label (lower-case letters, digits and '-', at most 63
// characters), the rule internal/validate applies.
func CheckName(name string) error {
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return &OptionError{Option: "name", Msg: fmt.Sprintf("environment name %q is not a DNS-1123 label: %s (%s)",
			name, strings.Join(msgs, "; "), nameSource)}
	}
	return nil
}

// Newest returns the newest Katonic platform version of internal/catalog,
// comparing the dot-separated numbers (catalog.Versions sorts as strings,
// where "10.0" < "4.5").
func Newest() string {
	vs := catalog.Versions()
	sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i], vs[j]) })
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// versionLess compares dotted version numbers numerically, part by part
// ("4.5" < "5.0.9" < "10.0"); a part that is not a number compares as a
// string. Own code: the catalog's versions are not semver ("4.5") and the
// comparison is four lines.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil && na != nb:
			return na < nb
		case (ea != nil || eb != nil) && pa[i] != pb[i]:
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

// Environment returns the scaffold of environment o.Name for profile
// o.Profile, formatted CUE of package environments, from the rules of repo
// (repo.Rules, repo.AzureNetwork) and the defaults of its profiles/
// (ReadDefaults). Errors: an *OptionError for an option it cannot use, or
// the error of reading the defaults. The result has not been vetted: see
// Check.
func Environment(repo *load.Repository, o Options) ([]byte, error) {
	if err := CheckName(o.Name); err != nil {
		return nil, err
	}
	rules, ok := repo.Rules[o.Profile]
	if !ok {
		return nil, &OptionError{Option: "profile", Msg: fmt.Sprintf("unknown profile %q (profiles: %s)", o.Profile, strings.Join(Profiles(repo), ", "))}
	}
	if o.Provider != "" {
		if o.Profile != config.ProfileCloud {
			return nil, &OptionError{Option: "provider", Msg: fmt.Sprintf("--provider is for the cloud profile only, not %s (schema/environment.cue: provider)", o.Profile)}
		}
		if !contains(Providers, o.Provider) {
			return nil, &OptionError{Option: "provider", Msg: fmt.Sprintf("unknown provider %q (providers: %s)", o.Provider, strings.Join(Providers, ", "))}
		}
	}
	if o.Domain != "" {
		errs := validation.IsFullyQualifiedDomainName(field.NewPath("domain"), o.Domain)
		if len(errs) == 0 && strings.HasSuffix(o.Domain, ".") {
			errs = field.ErrorList{field.Invalid(field.NewPath("domain"), o.Domain, "it must not end with a dot")}
		}
		if len(errs) > 0 {
			return nil, &OptionError{Option: "domain", Msg: fmt.Sprintf("--domain %q is not an FQDN: %s (RFC 1123)", o.Domain, errs[0].Detail)}
		}
	}
	if o.PlatformVersion == "" {
		o.PlatformVersion = Newest()
	}
	defs, err := ReadDefaults(repo.Dir, o.Profile)
	if err != nil {
		return nil, err
	}
	b := &builder{repo: repo, opts: o, rules: rules, defs: defs}
	return b.file()
}

// Profiles returns the profiles of repo, sorted.
func Profiles(repo *load.Repository) []string {
	var ps []string
	for p := range repo.Rules {
		ps = append(ps, string(p))
	}
	sort.Strings(ps)
	return ps
}

type builder struct {
	repo  *load.Repository
	opts  Options
	rules load.ProfileRules
	defs  *Defaults
}

func (b *builder) file() ([]byte, error) {
	o, r := b.opts, b.rules
	var elts []ast.Decl
	var pending *ast.CommentGroup // commented-out lines to show before the next field
	add := func(f *ast.Field, doc string) {
		if pending != nil {
			pending.Position = 0
			ast.SetRelPos(pending, token.NewSection)
			ast.AddComment(f, pending)
		}
		if doc != "" {
			g := docComment(doc, 1)
			if pending != nil {
				ast.SetRelPos(g, token.NewSection)
			}
			ast.AddComment(f, g)
		}
		pending = nil
		elts = append(elts, f)
	}
	add(field1("profile", ast.NewString(string(o.Profile)), ""),
		fmt.Sprintf("The installation profile, one of %s. It decides the pools, the Kubernetes minimum and the defaults (profiles/%s.cue).", strings.Join(Profiles(b.repo), ", "), o.Profile))
	if o.Profile == config.ProfileCloud {
		if o.Provider != "" {
			add(field1("provider", ast.NewString(o.Provider), ""),
				fmt.Sprintf("The cloud provider (%s): it picks the load balancer's annotations.", strings.Join(Providers, ", ")))
		} else {
			pending = commentedLines(fmt.Sprintf("The cloud provider (%s) picks the load balancer's annotations; an internal load balancer needs it.", strings.Join(Providers, ", ")), 1,
				field1("provider", ast.NewString(Providers[0]), ""))
		}
	}
	add(field1("platformVersion", ast.NewString(o.PlatformVersion), ""),
		fmt.Sprintf("The Katonic release; it selects the pinned chart versions (katonic knows %s; this is the newest).", strings.Join(catalog.Versions(), ", ")))
	minKube, kubeSource := catalog.MinKubernetes(o.PlatformVersion, r.MinKubernetesVersion, r.KubernetesSource)
	whose := "profile " + string(o.Profile)
	if minKube != r.MinKubernetesVersion {
		whose = "Katonic " + o.PlatformVersion
	}
	add(field1("kubernetesVersion", ast.NewString(minKube), ""),
		fmt.Sprintf("MAJOR.MINOR[.PATCH]; %s is the minimum for %s (%s).", minKube, whose, kubeSource))
	if o.Domain != "" {
		add(field1("domain", ast.NewString(o.Domain), ""),
			"The platform FQDN. Superset adds dash-<domain> and Airbyte connectors-<domain> (seeds 001 and 003).")
	} else {
		add(field1("domain", ast.NewString(o.Name+".example.com"), ""),
			"The platform FQDN. CHANGE IT: this is a placeholder. Superset adds dash-<domain> and Airbyte connectors-<domain> (seeds 001 and 003).")
	}
	add(field1("loadBalancer", ast.NewString(b.defs.LoadBalancer), ""),
		fmt.Sprintf("external (a public IP) or internal (a private IP inside the VNet or VPC), seed 003; %s is the default of profile %s.", b.defs.LoadBalancer, o.Profile))
	add(b.nodePools(), fmt.Sprintf("Node pools, each at the least profile %s accepts without a warning; raise them to fit the workload. Pools of the profile: %s.", o.Profile, r.PoolsSource))
	if o.Profile == config.ProfileAzurePrivate {
		n, err := samplePlan(b.repo.AzureNetwork)
		if err != nil {
			return nil, err
		}
		add(n, fmt.Sprintf("The VNet and its AKS and JumpHost subnets: a sample plan that meets the subnet rules (AKS subnet /%d or larger, /%d recommended; JumpHost /%d or larger; inside the VNet, disjoint; %s). Replace it with your address plan.",
			b.repo.AzureNetwork.ClusterSubnetMaxPrefix, b.repo.AzureNetwork.ClusterSubnetRecommendedPrefix, b.repo.AzureNetwork.JumphostSubnetMaxPrefix, b.repo.AzureNetwork.Source))
		last := elts[len(elts)-1].(*ast.Field)
		addAfter(last, commentedLines("sharedStorage adds the kfs-shared StorageClass on Azure Files (seed 003, \"Dynamic shared storage\").", 1,
			field1("sharedStorage", ast.NewBool(b.defs.SharedStorage), "")))
	}
	last := elts[len(elts)-1].(*ast.Field)
	addAfter(last, commentedLines(fmt.Sprintf("How Keycloak authenticates users: %s (seed 000, \"User Accounts\"); the default is %s.", strings.Join(b.defs.IdentityModes, ", "), b.defs.IdentityMode), 1,
		field1("identity", &ast.StructLit{Elts: []ast.Decl{field1("mode", ast.NewString(b.defs.IdentityMode), "")}}, "")))
	var svc []ast.Decl
	for _, s := range b.defs.Services {
		svc = append(svc, field1(s.Name, &ast.StructLit{Elts: []ast.Decl{field1("enabled", ast.NewBool(s.Enabled), "")}}, ""))
	}
	addAfter(last, commentedLines(fmt.Sprintf("Services and their defaults for profile %s (schema/services.cue, seed 001 \"Pre Deployed Services\"); uncomment a line to change one. Superset needs dash-<domain>, Airbyte connectors-<domain>.", o.Profile), 1,
		field1("services", &ast.StructLit{Lbrace: token.Blank.Pos(), Elts: svc}, "")))

	env := field1(o.Name, &ast.StructLit{Lbrace: token.Blank.Pos(), Elts: elts}, "")
	env.Label = ast.NewString(o.Name)
	top := field1("environments", &ast.StructLit{Elts: []ast.Decl{env}}, "")
	ast.AddComment(top, docComment(fmt.Sprintf("%s: a Katonic installation of profile %s, scaffolded by `katonic new` from the rules of profiles/ and schema/rules.cue. Every figure is the least the rules accept without a warning. Change the domain, size the pools, then check it with `katonic vet %s --strict`.",
		o.Name, o.Profile, o.Name), 0))
	f := &ast.File{Decls: []ast.Decl{&ast.Package{Name: ast.NewIdent(load.EnvironmentsDir)}, top}}
	return format.Node(f, format.Simplify())
}

// poolFields are the node-pool fields the scaffold writes, in order, with
// what each is and its unit.
var poolFields = []struct{ name, what string }{
	{"minNodes", "nodes, at the least"},
	{"maxNodes", "nodes, at the most"},
	{"cpu", "vCPU per node"},
	{"memoryGiB", "GiB of memory per node"},
	{"bootDiskGiB", "GiB of boot disk per node"},
	{"gpuCount", "GPUs per node"},
}

// roleDocs say what each pool hosts (seed 000, "Node pool requirements").
var roleDocs = map[config.Role]string{
	config.RoleMaster:     "the Kubernetes control plane (Kubespray recommended)",
	config.RolePlatform:   "Katonic's own services; tainted, so nothing else runs there",
	config.RoleCompute:    "users' workspaces and jobs; labelled, not tainted",
	config.RoleDeployment: "deployed models; tainted",
	config.RoleStorage:    "Katonic's storage service, with external disks; tainted",
	config.RoleGPU:        "GPU workloads; labelled and tainted by GPU type",
}

func (b *builder) nodePools() *ast.Field {
	r := b.rules
	var pools []ast.Decl
	var optional []*ast.Field
	for _, role := range config.Roles {
		if !contains(r.AllowedPools, role) {
			continue
		}
		var why string
		switch {
		case contains(r.RequiredPools, role):
			why = "required by profile " + string(b.opts.Profile)
		case contains(r.RecommendedPools, role):
			why = "recommended by profile " + string(b.opts.Profile)
		}
		p := b.pool(role, why != "")
		if why == "" {
			optional = append(optional, p)
			continue
		}
		doc := docComment(fmt.Sprintf("The %s pool: %s; %s. Rule: %s.", role, roleDocs[role], why, r.PoolRules[role].Source), 2)
		if len(pools) > 0 {
			ast.SetRelPos(doc, token.NewSection)
		}
		ast.AddComment(p, doc)
		pools = append(pools, p)
	}
	f := field1("nodePools", &ast.StructLit{Lbrace: token.Blank.Pos(), Elts: pools}, "")
	if len(pools) == 0 {
		return f
	}
	last := pools[len(pools)-1].(*ast.Field)
	for _, p := range optional {
		role := config.Role(p.Label.(*ast.Ident).Name)
		addAfter(last, commentedLines(fmt.Sprintf("Optional: the %s pool, %s. Rule: %s.", role, roleDocs[role], r.PoolRules[role].Source), 2, p))
	}
	return f
}

// pool builds one pool at its floor: each field the larger of its hard
// minimum and its recommended minimum. minNodes without a rule is 1 for a
// pool the profile requires or recommends and 0 for an optional one;
// maxNodes is at least minNodes and at least 1; cpu and memoryGiB without
// a rule are 1.
func (b *builder) pool(role config.Role, wanted bool) *ast.Field {
	rule := b.rules.PoolRules[role]
	var elts []ast.Decl
	minNodes := 0
	for _, pf := range poolFields {
		if pf.name == "gpuCount" && role != config.RoleGPU {
			continue
		}
		hard, hasHard := rule.Min[pf.name]
		rec, hasRec := rule.Recommend[pf.name]
		v := max(hard, rec)
		var bound []string
		if hasHard {
			bound = append(bound, fmt.Sprintf("minimum %d", hard))
		}
		if hasRec {
			bound = append(bound, fmt.Sprintf("recommended %d", rec))
		}
		switch pf.name {
		case "minNodes":
			if !hasHard && !hasRec && wanted {
				v = 1
			}
			minNodes = v
		case "maxNodes":
			v = max(v, minNodes, 1)
		case "cpu", "memoryGiB":
			if !hasHard && !hasRec {
				v = 1
				bound = append(bound, "no rule: size it")
			}
		case "bootDiskGiB":
			if !hasHard && !hasRec {
				continue // the schema's default applies
			}
		case "gpuCount":
			if !hasHard && !hasRec {
				continue
			}
		}
		if m, ok := rule.Max[pf.name]; ok {
			bound = append(bound, fmt.Sprintf("maximum %d", m))
		}
		comment := pf.what
		if len(bound) > 0 {
			comment += " (rule: " + strings.Join(bound, ", ") + ")"
		}
		elts = append(elts, field1(pf.name, ast.NewLit(token.INT, strconv.Itoa(v)), comment))
	}
	if role == config.RoleGPU {
		elts = append(elts, field1("gpuType", ast.NewString("v100"), "GPU type, e.g. v100, A30, A100 (seed 000)"))
	}
	return field1(string(role), &ast.StructLit{Lbrace: token.Blank.Pos(), Elts: elts}, "")
}

// samplePlan returns a network field whose subnets meet rules: a /16 VNet
// (or larger, if the recommended AKS subnet needs it) at 10.0.0.0, the
// AKS subnet at its start at the recommended size, the JumpHost subnet of
// the largest prefix allowed right after it.
func samplePlan(rules load.AzureNetworkRules) (*ast.Field, error) {
	cluster := rules.ClusterSubnetRecommendedPrefix
	if cluster <= 0 {
		cluster = rules.ClusterSubnetMaxPrefix
	}
	jump := rules.JumphostSubnetMaxPrefix
	vnet := min(16, cluster-1, jump-1)
	if vnet < 8 || cluster > 32 || jump > 32 {
		return nil, fmt.Errorf("scaffold: no sample network plan for subnets /%d and /%d (%s)", cluster, jump, rules.Source)
	}
	base := netip.AddrFrom4([4]byte{10, 0, 0, 0})
	cp := netip.PrefixFrom(base, cluster)
	// The first address after the AKS subnet, aligned to the JumpHost size.
	next := uint32(10)<<24 + uint32(1)<<(32-cluster)
	next = (next + uint32(1)<<(32-jump) - 1) &^ (uint32(1)<<(32-jump) - 1)
	jp := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(next >> 24), byte(next >> 16), byte(next >> 8), byte(next)}), jump)
	vp := netip.PrefixFrom(base, vnet)
	return field1("network", &ast.StructLit{Lbrace: token.Blank.Pos(), Elts: []ast.Decl{
		field1("vnetCIDR", ast.NewString(vp.String()), "the VNet"),
		field1("clusterSubnetCIDR", ast.NewString(cp.String()), fmt.Sprintf("the AKS subnet: /%d or larger, /%d recommended", rules.ClusterSubnetMaxPrefix, rules.ClusterSubnetRecommendedPrefix)),
		field1("jumphostSubnetCIDR", ast.NewString(jp.String()), fmt.Sprintf("the JumpHost subnet: /%d or larger", rules.JumphostSubnetMaxPrefix)),
	}}, ""), nil
}

// field1 returns the field name: value, with a line comment when comment
// is not empty.
func field1(name string, value ast.Expr, comment string) *ast.Field {
	f := &ast.Field{Label: ast.NewIdent(name), Value: value}
	if comment != "" {
		ast.AddComment(f, &ast.CommentGroup{Line: true, Position: 4, List: []*ast.Comment{{Text: "// " + comment}}})
	}
	return f
}

// docComment is a comment above a field depth levels deep: text wrapped
// so that lines end by column 80 (a tab counted as 4 columns).
func docComment(text string, depth int) *ast.CommentGroup {
	g := &ast.CommentGroup{Doc: true}
	for _, l := range wrap(text, 77-4*depth) {
		g.List = append(g.List, &ast.Comment{Text: "// " + l})
	}
	return g
}

// commentedLines returns a comment of doc (wrapped for depth) followed by
// the CUE of f, formatted, one "// " line each: a field shown but not set.
func commentedLines(doc string, depth int, f *ast.Field) *ast.CommentGroup {
	g := docComment(doc, depth)
	g.Doc, g.Position = true, 5
	src, err := format.Node(f, format.Simplify())
	if err != nil {
		// f is built here from identifiers and literals; it always formats.
		panic(err)
	}
	for _, l := range strings.Split(strings.TrimRight(string(src), "\n"), "\n") {
		g.List = append(g.List, &ast.Comment{Text: strings.TrimRight("// "+l, " ")})
	}
	return g
}

// addAfter attaches g after f, separated by a blank line: the way CUE's
// parser attaches a comment that follows the last field of a struct.
func addAfter(f *ast.Field, g *ast.CommentGroup) {
	ast.SetRelPos(g, token.NewSection)
	ast.AddComment(f, g)
}

// wrap splits text into lines of at most width characters at spaces (a
// longer word stays whole). Own code: text/tabwriter and go/doc do not
// wrap plain text, and CUE's formatter keeps comments as written.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
