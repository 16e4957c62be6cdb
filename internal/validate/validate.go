// Package validate applies katonic's rules to a loaded environment: the CUE
// schema (types, closedness, fixed namespaces), then the rules CUE cannot
// state with a clear message and source — node-pool minimums and
// recommendations (schema/rules.cue), the profiles' pools and Kubernetes
// versions (profiles/), DNS names, Azure subnets and the known platform
// versions. Each finding is a diag.Diagnostic with its position in the
// environment's file, its CUE path, its rule and the rule's source.
package validate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/render"
	"github.com/katonic/katonic/internal/suggest"
)

// Options are the facts the rules need from outside the CUE module.
type Options struct {
	// PlatformVersions are the Katonic releases katonic has a chart catalog
	// for, sorted; platformVersion must be one of them.
	PlatformVersions []string
}

// Environment validates e from repo. It returns the decoded environment
// (nil when it has errors) and every diagnostic found, sorted. Warnings do
// not make the result nil. An Env without a Value (one that stands for an
// entry of environments/ the load rejected, with its own diagnostic) gives
// nil and no diagnostics.
func Environment(repo *load.Repository, e load.Env, opts Options) (*config.Environment, diag.List) {
	if !e.Value.Exists() {
		return nil, nil
	}
	c := &checker{repo: repo, env: e}
	c.name()
	if err := e.Value.Validate(cue.Concrete(true)); err != nil {
		if err := c.profile(err); err != nil {
			c.cueErrors(err)
		}
		return nil, c.diags.Sort()
	}
	var env config.Environment
	if err := e.Value.Decode(&env); err != nil {
		if !c.overflow(e.Value, nil) {
			c.cueErrors(err)
		}
		return nil, c.diags.Sort()
	}
	env.Name = e.Name
	env.File = diag.Rel(repo.Dir, e.File)
	c.cfg = &env

	rules, ok := repo.Rules[env.Profile]
	if !ok {
		c.errorf([]string{"profile"}, "profile.known", "profiles/", "profiles/ has no rules for profile %q", env.Profile)
		return nil, c.diags.Sort()
	}
	c.platformVersion(opts.PlatformVersions)
	if c.kubernetesVersion(rules) {
		c.pins()
	}
	c.profileFields()
	c.pools(rules)
	c.storageService()
	c.dns()
	c.network()
	c.labelValues()
	c.mirrors()
	c.waivers()
	if c.diags.Errors() > 0 {
		return nil, c.diags.Sort()
	}
	return &env, c.diags.Sort()
}

type checker struct {
	repo  *load.Repository
	env   load.Env
	cfg   *config.Environment
	diags diag.List
}

// add records a diagnostic at the environment-relative path rel.
func (c *checker) add(sev diag.Severity, rel []string, rule, source, format string, args ...any) {
	sels := []cue.Selector{cue.Str("environments"), cue.Str(c.env.Name)}
	for _, r := range rel {
		sels = append(sels, cue.Str(r))
	}
	c.diags = append(c.diags, diag.Diagnostic{
		Severity: sev,
		Pos:      c.pos(rel),
		Path:     cue.MakePath(sels...).String(),
		Message:  fmt.Sprintf(format, args...),
		Rule:     rule,
		Source:   source,
	})
}

func (c *checker) errorf(rel []string, rule, source, format string, args ...any) {
	c.add(diag.Error, rel, rule, source, format, args...)
}

func (c *checker) warnf(rel []string, rule, source, format string, args ...any) {
	c.add(diag.Warning, rel, rule, source, format, args...)
}

// cueErrors records the schema's errors. One CUE reports without a
// position in the environment's file (an empty disjunction, say) is placed
// at its path in that file.
func (c *checker) cueErrors(err error) {
	diags := load.FromCUE(err, c.repo.Dir, c.env.File, "schema")
	// A value that fails a disjunction with a default (*1 | int & >=1) is
	// reported once per disjunct and once more as "empty disjunction"; a
	// bound that failed says the most, so keep only those for that path.
	bounded := map[string]bool{}
	for _, d := range diags {
		if strings.Contains(d.Message, "out of bound") {
			bounded[d.Path] = true
		}
	}
	// A value outside an enum ("a" | "b") is reported once per
	// alternative ("conflicting values") and once as "empty disjunction":
	// keep the last, listing the alternatives.
	alternatives := map[string][]string{}
	for _, d := range diags {
		if strings.Contains(d.Message, "errors in empty disjunction") {
			alternatives[d.Path] = []string{}
		}
	}
	for _, d := range diags {
		if alts, ok := alternatives[d.Path]; ok && strings.HasPrefix(d.Message, "conflicting values ") {
			alternatives[d.Path] = append(alts, d.Message)
		}
	}
	for _, d := range diags {
		if bounded[d.Path] && !strings.Contains(d.Message, "out of bound") {
			continue
		}
		if _, ok := alternatives[d.Path]; ok && strings.HasPrefix(d.Message, "conflicting values ") {
			continue
		}
		if d.Pos.Filename != c.env.File {
			d.Pos = c.pos(nil)
			if sels := cue.ParsePath(d.Path).Selectors(); len(sels) >= 2 {
				rel := make([]string, 0, len(sels)-2)
				for _, s := range sels[2:] {
					if s.LabelType() == cue.StringLabel {
						rel = append(rel, s.Unquoted())
					} else {
						rel = append(rel, s.String())
					}
				}
				d.Pos = c.pos(rel)
			}
		}
		if strings.Contains(d.Message, "errors in empty disjunction") {
			d.Message = enumMessage(alternatives[d.Path])
		}
		if d.Message == "field not allowed" {
			d.Message += c.fieldHint(d.Path)
		}
		d.Message = plainCUE(d.Path, d.Message)
		c.diags = append(c.diags, d)
	}
}

// profile reports a missing or ambiguous profile and returns the schema's
// other errors (nil when there are none). Without one profile, every `if
// profile == ...` of profiles.#Environment fails at once, and CUE says
// "unresolved disjunction" at the environment once per profile; say it
// once.
func (c *checker) profile(err error) error {
	var rest cueerrors.Error
	found := false
	for _, e := range cueerrors.Errors(err) {
		if format, _ := e.Msg(); strings.HasPrefix(format, "unresolved disjunction") && len(e.Path()) <= 2 {
			found = true
			continue
		}
		rest = cueerrors.Append(rest, e)
	}
	if !found {
		return err
	}
	profiles := strings.Join(c.sortedProfiles(), ", ")
	if _, written := astPos(c.env.Syntax, []string{"environments", c.env.Name, "profile"}); written {
		c.errorf([]string{"profile"}, "schema", "schema/environment.cue: #Profile",
			"profile must be exactly one of %s", profiles)
	} else {
		c.errorf(nil, "schema", "schema/environment.cue: #Profile",
			"profile is missing: every environment names its profile (%s)", profiles)
	}
	if rest == nil {
		return nil
	}
	return rest
}

func (c *checker) sortedProfiles() []string {
	var out []string
	for p := range c.repo.Rules {
		out = append(out, fmt.Sprintf("%q", p))
	}
	sort.Strings(out)
	return out
}

// overflow reports the first integer under v (at the environment-relative
// path rel) that does not fit Go's int: decoding such a value fails
// without saying where. The schema bounds every integer of an environment
// today (schema/environment.cue), so this guards a schema edit that adds
// an unbounded one. It reports whether it found one.
func (c *checker) overflow(v cue.Value, rel []string) bool {
	switch v.IncompleteKind() {
	case cue.IntKind:
		if _, err := v.Int64(); err != nil {
			c.errorf(rel, "schema", "schema/environment.cue: counts and sizes are integers",
				"%v is too large: the most katonic accepts is %d", v, int64(math.MaxInt64))
			return true
		}
	case cue.StructKind:
		it, err := v.Fields()
		if err != nil {
			return false
		}
		for it.Next() {
			if c.overflow(it.Value(), append(rel[:len(rel):len(rel)], it.Selector().Unquoted())) {
				return true
			}
		}
	}
	return false
}

// pos finds rel in the environment's own file: the value's position when
// the field is written there; otherwise (a default, or a value a vmSize
// implies) the vmSize next to it or the nearest enclosing field written.
func (c *checker) pos(rel []string) diag.Pos {
	path := append([]string{"environments", c.env.Name}, rel...)
	p, exact := astPos(c.env.Syntax, path)
	if !exact && len(rel) == 3 && rel[0] == "nodePools" {
		if vp, ok := astPos(c.env.Syntax, append(path[:len(path)-1:len(path)-1], "vmSize")); ok {
			p = vp
		}
	}
	if !p.IsValid() {
		return diag.Pos{Filename: c.env.File}
	}
	return diag.Pos{Filename: p.Filename(), Line: p.Line(), Column: p.Column()}
}

// astPos walks the syntax of f along path (load.FindField). It returns the
// position of the value at path and true, or the label of the deepest field
// found and false. A label may be declared more than once (CUE unifies
// them); each declaration is searched.
func astPos(f *ast.File, path []string) (token.Pos, bool) {
	p, n := load.FindField(f.Decls, path, false)
	return p, n == len(path)
}

const (
	layoutSource      = "README, \"Layout\": environment names become paths and object names (Kubernetes DNS-1123 label)"
	catalogSource     = "katonic's chart catalog (internal/catalog)"
	labelSource       = "Kubernetes, \"Labels and Selectors\": syntax and character set of label values"
	waiverSource      = "README, \"katonic policy\": an environment may waive a policy of policy/ only with a recorded reason"
	credentialsSource = "katonic rule: credentials never reach out/, which is committed (README, \"Secrets an environment needs\")"
	mirrorSource      = "Flux HelmRepository and OCIRepository API: spec.url is a URL the source-controller fetches; RFC 3986: a URL is printable ASCII"
	dnsSource         = "seeds 001_023b29528093f049.txt and 003_48ea17a7d7c364df.txt, \"Data Visualisation\" / \"Connectors\": dash-<fqdn> and connectors-<fqdn>; RFC 1123"
)

func (c *checker) name() {
	// One error, however many ways the name is wrong.
	if msgs := validation.IsDNS1123Label(c.env.Name); len(msgs) > 0 {
		c.diags = append(c.diags, diag.Diagnostic{
			Severity: diag.Error,
			Pos:      c.pos(nil),
			Path:     cue.MakePath(cue.Str("environments"), cue.Str(c.env.Name)).String(),
			Message:  fmt.Sprintf("environment name %q is not a DNS-1123 label: %s", c.env.Name, strings.Join(msgs, "; ")),
			Rule:     "environment.name",
			Source:   layoutSource,
		})
	}
}

func (c *checker) platformVersion(known []string) {
	for _, k := range known {
		if k == c.cfg.PlatformVersion {
			return
		}
	}
	c.errorf([]string{"platformVersion"}, "platform-version.known", catalogSource,
		"unknown platformVersion %q: katonic pins charts for %s", c.cfg.PlatformVersion, strings.Join(known, ", "))
}

// majorMinor parses the MAJOR.MINOR of a version such as "1.29.5".
func majorMinor(v string) (int, int, bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, false
	}
	maj, err1 := strconv.Atoi(parts[0])
	min, err2 := strconv.Atoi(parts[1])
	return maj, min, err1 == nil && err2 == nil
}

// kubernetesVersion checks the version's form and the profile's minimum;
// it reports whether both hold.
func (c *checker) kubernetesVersion(r load.ProfileRules) bool {
	maj, min, ok := majorMinor(c.cfg.KubernetesVersion)
	wmaj, wmin, _ := majorMinor(r.MinKubernetesVersion)
	if !ok {
		c.errorf([]string{"kubernetesVersion"}, "kubernetes.version", r.KubernetesSource,
			"kubernetesVersion %q is not MAJOR.MINOR[.PATCH]", c.cfg.KubernetesVersion)
		return false
	}
	if maj < wmaj || maj == wmaj && min < wmin {
		c.errorf([]string{"kubernetesVersion"}, "kubernetes.min-version", r.KubernetesSource,
			"Kubernetes %s is older than %s, the minimum for profile %s", c.cfg.KubernetesVersion, r.MinKubernetesVersion, c.cfg.Profile)
		return false
	}
	return true
}

// pins checks kubernetesVersion against the Kubernetes versions of the
// platform version (catalog.Release.MinKubernetesVersion) and of every
// chart pin the environment installs (catalog.Chart.KubeVersion: the
// chart's kubeVersion and the project's support table), citing both the
// field and the pin's source; once per cause: nothing more when the
// platform's minimum is not met. An unknown platformVersion is reported by
// platformVersion.
func (c *checker) pins() {
	rel, err := catalog.Lookup(c.cfg.PlatformVersion)
	if err != nil {
		return
	}
	kube := c.cfg.KubernetesVersion
	if m := rel.MinKubernetesVersion; m != "" {
		maj, min, _ := majorMinor(kube)
		wmaj, wmin, _ := majorMinor(m)
		if maj < wmaj || maj == wmaj && min < wmin {
			c.errorf([]string{"kubernetesVersion"}, "kubernetes.platform-version", rel.KubernetesSource,
				"Kubernetes %s is older than %s, the minimum of Katonic %s", kube, m, c.cfg.PlatformVersion)
			return
		}
	}
	seen := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(c.cfg.Services)) {
		if !c.cfg.Enabled(key) {
			continue
		}
		for _, id := range render.ServiceCharts(key) {
			pin, ok := rel.Chart(id)
			if !ok || seen[id] {
				continue
			}
			seen[id] = true
			ok, err := pin.SupportsKubernetes(kube)
			if err != nil || ok {
				continue
			}
			c.errorf([]string{"kubernetesVersion"}, "kubernetes.chart-support", pin.PinSource,
				"Kubernetes %s is not supported by services.%s: Katonic %s pins chart %s %s (%s %s), which supports Kubernetes %s; choose a Kubernetes version in that range or another platformVersion",
				kube, key, c.cfg.PlatformVersion, pin.Chart, pin.Version, appName(key), pin.AppVersion, pin.KubernetesRange())
			break // one error per service: its charts share one support range
		}
	}
}

// appName names a service's application in messages.
func appName(key string) string {
	switch key {
	case "istio":
		return "Istio"
	case "monitoring":
		return "Prometheus Operator"
	case "storage":
		return "Longhorn"
	}
	return key
}

// profileFields checks the fields that belong to one profile only.
func (c *checker) profileFields() {
	e := c.cfg
	if e.Provider != "" && e.Profile != config.ProfileCloud {
		c.errorf([]string{"provider"}, "profile.provider", "schema/environment.cue: provider is for the cloud profile",
			"provider is only for the cloud profile, not %s", e.Profile)
	}
	if e.Profile == config.ProfileCloud && e.LoadBalancer == "internal" && e.Provider == "" {
		c.errorf([]string{"loadBalancer"}, "profile.provider", "seed 003_48ea17a7d7c364df.txt: an internal load balancer gets a private IP inside the VPC; each cloud marks it with its own annotation",
			"an internal load balancer on the cloud profile needs provider (aws, gcp or azure) to choose its annotation")
	}
	if e.Profile == config.ProfileAzurePrivate && e.Network == nil {
		c.errorf(nil, "azure.network", c.repo.AzureNetwork.Source,
			"profile azure-private needs network: {vnetCIDR, clusterSubnetCIDR, jumphostSubnetCIDR} (a VNet with an AKS subnet and a JumpHost subnet)")
	}
	if e.Profile != config.ProfileAzurePrivate && e.Network != nil {
		c.errorf([]string{"network"}, "azure.network", c.repo.AzureNetwork.Source,
			"network is only for the azure-private profile, not %s", e.Profile)
	}
	if e.Profile != config.ProfileAzurePrivate && e.SharedStorage {
		c.errorf([]string{"sharedStorage"}, "azure.shared-storage", "seed 003_48ea17a7d7c364df.txt, \"Dynamic shared storage\"",
			"sharedStorage (the kfs-shared StorageClass on Azure Files) is only for the azure-private profile, not %s", e.Profile)
	}
}

// units names the unit of each node-pool field in messages.
var units = map[string]string{
	"minNodes": "nodes", "maxNodes": "nodes", "cpu": "vCPU", "memoryGiB": "GiB",
	"bootDiskGiB": "GiB", "gpuCount": "GPUs",
}

func poolField(p config.NodePool, name string) int {
	switch name {
	case "minNodes":
		return p.MinNodes
	case "maxNodes":
		return p.MaxNodes
	case "cpu":
		return p.CPU
	case "memoryGiB":
		return p.MemoryGiB
	case "bootDiskGiB":
		return p.BootDiskGiB
	case "gpuCount":
		return p.GPUCount
	}
	panic("validate: unknown node-pool field " + name)
}

// similarSizes names the known VM sizes of size's family (the text before
// its first ".", "_" or "-": m5, Standard, n2), for an unknown vmSize's
// message; "" when there are none.
func similarSizes(size string, known []string) string {
	family := func(s string) string {
		if i := strings.IndexAny(s, "._-"); i > 0 {
			return strings.ToLower(s[:i])
		}
		return strings.ToLower(s)
	}
	var same []string
	for _, k := range known {
		if family(k) == family(size) {
			same = append(same, k)
		}
	}
	if len(same) == 0 {
		return ""
	}
	return " (known of its family: " + strings.Join(same, ", ") + ")"
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(roles []config.Role, r config.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

func (c *checker) pools(r load.ProfileRules) {
	e := c.cfg
	for _, role := range config.Roles {
		_, has := e.NodePools[role]
		switch {
		case has && !contains(r.AllowedPools, role):
			c.errorf([]string{"nodePools", string(role)}, "profile.pools", r.PoolsSource,
				"profile %s has no %s pool (its pools: %s)", e.Profile, role, joinRoles(r.AllowedPools))
		case !has && contains(r.RequiredPools, role):
			c.errorf([]string{"nodePools"}, "profile.pools", r.PoolsSource,
				"profile %s requires a %s pool (required: %s)", e.Profile, role, joinRoles(r.RequiredPools))
		case !has && contains(r.RecommendedPools, role):
			c.warnf([]string{"nodePools"}, "profile.pools", r.PoolsSource,
				"profile %s recommends a %s pool; without one, its workloads share other pools", e.Profile, role)
		}
	}
	for _, role := range config.Roles {
		p, has := e.NodePools[role]
		if !has || !contains(r.AllowedPools, role) {
			continue
		}
		at := func(f string) []string { return []string{"nodePools", string(role), f} }
		sized := p.CPU > 0 && p.MemoryGiB > 0
		switch {
		case sized:
		case p.VMSize != "":
			c.errorf(at("vmSize"), "nodepool.size", "schema/vmsizes.cue",
				"the %s pool's vmSize %q is not one katonic knows the vCPU and memory of%s: give cpu (vCPU) and memoryGiB per node, or add the size to schema/vmsizes.cue",
				role, p.VMSize, similarSizes(p.VMSize, c.repo.VMSizes))
		default:
			c.errorf([]string{"nodePools", string(role)}, "nodepool.size", "schema/vmsizes.cue",
				"the %s pool needs cpu (vCPU) and memoryGiB per node, or a vmSize katonic knows (schema/vmsizes.cue has %d, e.g. %s)",
				role, len(c.repo.VMSizes), strings.Join(c.repo.VMSizes[:min(3, len(c.repo.VMSizes))], ", "))
		}
		c.vmSizeProvider(role, p)
		if p.MinNodes > p.MaxNodes {
			c.errorf(at("minNodes"), "nodepool.range", "schema/environment.cue",
				"the %s pool has minNodes %d above maxNodes %d", role, p.MinNodes, p.MaxNodes)
		}
		rule := r.PoolRules[role]
		skip := func(f string) bool { return !sized && (f == "cpu" || f == "memoryGiB") }
		for _, f := range sortedKeys(rule.Min) {
			if v, want := poolField(p, f), rule.Min[f]; v < want && !skip(f) {
				c.errorf(at(f), "nodepool.min", rule.Source,
					"the %s pool needs %s >= %d %s, got %d", role, f, want, units[f], v)
			}
		}
		for _, f := range sortedKeys(rule.Max) {
			if v, want := poolField(p, f), rule.Max[f]; v > want {
				c.errorf(at(f), "nodepool.max", rule.Source,
					"the %s pool allows %s <= %d %s, got %d", role, f, want, units[f], v)
			}
		}
		for _, f := range sortedKeys(rule.Recommend) {
			if v, want := poolField(p, f), rule.Recommend[f]; v < want && !skip(f) {
				c.warnf(at(f), "nodepool.recommended", rule.Source,
					"the %s pool has %s %d %s, below the recommended %d", role, f, v, units[f], want)
			}
		}
	}
}

func joinRoles(rs []config.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

const storageSource = "seed 000_3264e35a1f2fc576.txt, \"Storage Nodes\": on-premise systems need Katonic's storage solution on storage nodes; in the cloud the provider handles storage"

func (c *checker) storageService() {
	e := c.cfg
	on := e.Services["storage"].Enabled
	switch {
	case on && e.Profile != config.ProfileOnPrem:
		c.errorf([]string{"services", "storage", "enabled"}, "services.storage", storageSource,
			"the storage service runs on the on-prem storage pool; profile %s has none (its storage is the provider's)", e.Profile)
	case !on && e.Profile == config.ProfileOnPrem:
		c.warnf([]string{"services", "storage", "enabled"}, "services.storage", storageSource,
			"the storage service is off: the cluster must already provide a default StorageClass")
	}
}

func (c *checker) dns() {
	e := c.cfg
	bad := func(host, what string, errs field.ErrorList) {
		for _, fe := range errs {
			c.errorf([]string{"domain"}, "dns.name", dnsSource, "%s %q is not a valid DNS name: %s", what, host, fe.Detail)
		}
	}
	// An IPv4 address passes the FQDN check (four numeric labels); the
	// platform's hosts prefix its first label and its certificate names
	// it, so it must be a name.
	if _, err := netip.ParseAddr(e.Domain); err == nil {
		bad(e.Domain, "domain", field.ErrorList{field.Invalid(field.NewPath("domain"), e.Domain,
			"it is an IP address; the platform is served from a DNS name (dash- and connectors- are prefixed to its first label, and its TLS certificate names it)")})
		return
	}
	if errs := validation.IsFullyQualifiedDomainName(field.NewPath("domain"), e.Domain); len(errs) > 0 {
		bad(e.Domain, "domain", errs)
		return
	}
	// IsFullyQualifiedDomainName allows a final dot (the DNS root); the
	// domain is written into Ingress hosts, which Kubernetes requires
	// without one.
	if strings.HasSuffix(e.Domain, ".") {
		bad(e.Domain, "domain", field.ErrorList{field.Invalid(field.NewPath("domain"), e.Domain,
			"it must not end with a dot: it becomes Ingress hosts, which Kubernetes requires without one")})
		return
	}
	for _, h := range []struct{ key, host, what string }{
		{"superset", e.DashHost(), "Superset's host"},
		{"airbyte", e.ConnectorsHost(), "Airbyte's host"},
	} {
		if !e.Enabled(h.key) {
			continue
		}
		// The prefix lengthens the first label: check it alone first, for
		// the clearer message (seed rule: it must stay <= 63 characters).
		first, _, _ := strings.Cut(h.host, ".")
		var errs field.ErrorList
		for _, msg := range validation.IsDNS1123Label(first) {
			errs = append(errs, field.Invalid(field.NewPath("domain"), h.host, "its first label "+msg))
		}
		if len(errs) == 0 {
			errs = validation.IsFullyQualifiedDomainName(field.NewPath("domain"), h.host)
		}
		bad(h.host, h.what, errs)
	}
}

func (c *checker) network() {
	n, rules := c.cfg.Network, c.repo.AzureNetwork
	if n == nil || c.cfg.Profile != config.ProfileAzurePrivate {
		return
	}
	parse := func(f, s string) (netip.Prefix, bool) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			c.errorf([]string{"network", f}, "azure.cidr", rules.Source, "%s %q is not a CIDR: %s", f, s, cidrProblem(s))
			return p, false
		}
		if !p.Addr().Is4() {
			c.errorf([]string{"network", f}, "azure.cidr", rules.Source, "%s %q must be an IPv4 CIDR", f, s)
			return p, false
		}
		if p.Masked() != p {
			c.errorf([]string{"network", f}, "azure.cidr", rules.Source, "%s %q has host bits set; the network is %s", f, s, p.Masked())
			return p, false
		}
		return p, true
	}
	vnet, ok1 := parse("vnetCIDR", n.VNetCIDR)
	cluster, ok2 := parse("clusterSubnetCIDR", n.ClusterSubnetCIDR)
	jump, ok3 := parse("jumphostSubnetCIDR", n.JumphostSubnetCIDR)
	// Azure refuses these ranges in a virtual network's address space;
	// the subnets are checked only when the VNet could not be.
	for _, s := range []struct {
		f  string
		p  netip.Prefix
		ok bool
	}{{"vnetCIDR", vnet, ok1}, {"clusterSubnetCIDR", cluster, ok2 && !ok1}, {"jumphostSubnetCIDR", jump, ok3 && !ok1}} {
		if !s.ok {
			continue
		}
		for _, r := range rules.ReservedRanges {
			rp, err := netip.ParsePrefix(r.CIDR)
			if err == nil && s.p.Overlaps(rp) {
				c.errorf([]string{"network", s.f}, "azure.reserved-range", rules.ReservedRangesSource,
					"%s %s overlaps %s (%s), which Azure does not allow in a virtual network", s.f, s.p, rp, r.Use)
				if s.f == "vnetCIDR" {
					ok1 = false
				}
				break
			}
		}
	}
	usable := func(p netip.Prefix) int { return max(0, 1<<(32-p.Bits())-rules.AzureReservedAddresses) }
	if ok1 {
		for _, s := range []struct {
			f  string
			p  netip.Prefix
			ok bool
		}{{"clusterSubnetCIDR", cluster, ok2}, {"jumphostSubnetCIDR", jump, ok3}} {
			if s.ok && (s.p.Bits() < vnet.Bits() || !vnet.Contains(s.p.Addr())) {
				c.errorf([]string{"network", s.f}, "azure.subnet-in-vnet", rules.Source,
					"%s %s is not inside vnetCIDR %s", s.f, s.p, vnet)
			}
		}
	}
	if ok2 && ok3 && cluster.Overlaps(jump) {
		c.errorf([]string{"network", "jumphostSubnetCIDR"}, "azure.subnets-disjoint", rules.Source,
			"jumphostSubnetCIDR %s overlaps clusterSubnetCIDR %s", jump, cluster)
	}
	if ok2 {
		switch {
		case cluster.Bits() > rules.ClusterSubnetMaxPrefix:
			c.errorf([]string{"network", "clusterSubnetCIDR"}, "azure.cluster-subnet-size", rules.Source,
				"clusterSubnetCIDR %s has %d usable addresses (Azure reserves %d); the AKS subnet must be /%d or larger",
				cluster, usable(cluster), rules.AzureReservedAddresses, rules.ClusterSubnetMaxPrefix)
		case cluster.Bits() > rules.ClusterSubnetRecommendedPrefix:
			c.warnf([]string{"network", "clusterSubnetCIDR"}, "azure.cluster-subnet-size", rules.Source,
				"clusterSubnetCIDR %s has %d usable addresses (Azure reserves %d) and every pod takes one; /%d or larger is recommended",
				cluster, usable(cluster), rules.AzureReservedAddresses, rules.ClusterSubnetRecommendedPrefix)
		}
	}
	if ok3 && jump.Bits() > rules.JumphostSubnetMaxPrefix {
		c.errorf([]string{"network", "jumphostSubnetCIDR"}, "azure.jumphost-subnet-size", rules.Source,
			"jumphostSubnetCIDR %s has %d usable addresses (Azure reserves %d); the JumpHost subnet must be /%d or larger",
			jump, usable(jump), rules.AzureReservedAddresses, rules.JumphostSubnetMaxPrefix)
	}
}

// labelValues checks the fields that become node labels and taint
// values: gpuType is the value of katonic.ai/gpu-type on a GPU pool's nodes
// (config.NodePool.Labels and Taints), so it must be a Kubernetes label
// value (at most 63 characters, alphanumerics, '-', '_' and '.', starting
// and ending with an alphanumeric).
func (c *checker) labelValues() {
	for _, role := range config.Roles {
		p, ok := c.cfg.NodePools[role]
		if !ok || p.GPUType == "" {
			continue
		}
		for _, msg := range validation.IsValidLabelValue(p.GPUType) {
			c.errorf([]string{"nodePools", string(role), "gpuType"}, "label.value", labelSource,
				"gpuType %q becomes the value of the node label and taint %s: %s", p.GPUType, config.GPUTypeLabelKey, msg)
		}
	}
}

// mirrors refuses a mirror URL that carries credentials: user-info (as in
// https://user:password@host), or a query string or fragment, where a
// token or signature goes (an Azure SAS token, a signed URL). Either would
// be written in clear into out/'s sources, which are committed; and a
// chart repository's URL needs neither: Flux appends index.yaml to its
// path, and an oci:// prefix is followed by /<chart>:<version>. The message
// shows the URL with its password, query and fragment redacted.
func (c *checker) mirrors() {
	m := c.cfg.Charts.Mirror
	if m == "" {
		return
	}
	// The schema's pattern leaves the URL's characters to this check, so
	// that a password in it is never printed. The message shows neither the
	// URL nor url.Parse's error, which quotes it.
	if i := strings.IndexFunc(m, func(r rune) bool { return r <= ' ' || r >= 0x7f }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(m[i:])
		c.errorf([]string{"charts", "mirror"}, "mirror.url", mirrorSource,
			"charts.mirror has the character %U at byte %d: a chart repository's URL is printable ASCII (a host name that is not ASCII in its xn-- form), or Flux cannot fetch it and reviewers may not see what it says", r, i)
		return
	}
	u, err := url.Parse(m)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		c.errorf([]string{"charts", "mirror"}, "mirror.url", mirrorSource, "charts.mirror is not a URL: %v", err)
		return
	}
	switch {
	case u.User != nil:
		c.errorf([]string{"charts", "mirror"}, "mirror.credentials", credentialsSource,
			"charts.mirror %q carries credentials, which would be written in clear into out/: remove them from the URL; a registry's credentials belong in a Secret (README, \"Secrets an environment needs\")", redactedURL(u))
	case u.RawQuery != "" || u.Fragment != "":
		c.errorf([]string{"charts", "mirror"}, "mirror.credentials", credentialsSource,
			"charts.mirror %q has a query string or fragment: a chart repository's URL takes neither, and a token or signature there (an Azure SAS token, a signed URL) would be written in clear into out/: remove it; a repository's credentials belong in a Secret (README, \"Secrets an environment needs\")", redactedURL(u))
	}
}

// redactedURL is u as a message may show it: its password, query and
// fragment replaced by xxxxx.
func redactedURL(u *url.URL) string {
	r := *u
	r.RawQuery, r.Fragment, r.RawFragment = "", "", ""
	s := r.Redacted()
	if u.RawQuery != "" {
		s += "?xxxxx"
	}
	if u.Fragment != "" {
		s += "#xxxxx"
	}
	return s
}

// waivers refuses a waiver whose reason is blank (empty or only white
// space): a waiver is reviewed by its reason. It refuses a reason with a
// control character other than a newline or a tab, or a bidirectional
// formatting character, too: reasons are printed in reports, terminals and
// pull-request comments, where an escape sequence, a carriage return or a
// right-to-left override would hide or rewrite what reviewers read
// ("Trojan Source", CVE-2021-42574). Whether the policy it names exists is
// policy.Set.CheckWaivers' to say.
func (c *checker) waivers() {
	for _, id := range slices.Sorted(maps.Keys(c.cfg.Waivers)) {
		reason := c.cfg.Waivers[id]
		if strings.TrimSpace(reason) == "" {
			c.errorf([]string{"waivers", id}, "policy.waiver", waiverSource,
				"the waiver of policy %q has a blank reason: write why this environment is exempt, for the reviewers", id)
			continue
		}
		if i := strings.IndexFunc(reason, hidesText); i >= 0 {
			r, _ := utf8.DecodeRuneInString(reason[i:])
			c.errorf([]string{"waivers", id}, "policy.waiver", waiverSource,
				"the waiver of policy %q has the control character %U in its reason (byte %d): reports and terminals print the reason, and it would hide or rewrite what the reviewers read; write it in plain text", id, r, i)
		}
	}
}

// hidesText tells whether r, printed, can hide or rewrite text: a control
// character other than newline and tab (escape sequences, carriage return,
// backspace), or a bidirectional formatting character (Unicode's
// Bidi_Control property).
func hidesText(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\t' || unicode.Is(unicode.Bidi_Control, r)
}

// vmSizeProvider refuses a known vmSize of another cloud than the
// environment's: azure-private runs on Azure (seed 003), a cloud
// environment on its provider (without one, and on-prem, any size
// goes). The message names the sizes of the right cloud with the same
// vCPU and memory, when schema/vmsizes.cue has some.
func (c *checker) vmSizeProvider(role config.Role, p config.NodePool) {
	want := c.cfg.Provider
	if c.cfg.Profile == config.ProfileAzurePrivate {
		want = "azure"
	}
	info, known := c.repo.VMSizeInfo[p.VMSize]
	if want == "" || !known || info.Provider == want {
		return
	}
	hint := "; give a size of " + config.ProviderNames[want] + ", or cpu and memoryGiB"
	if same := load.SameSize(c.repo.VMSizeInfo, info, want); len(same) > 0 {
		for i, n := range same {
			same[i] = strconv.Quote(n)
		}
		hint = fmt.Sprintf("; %s has the same %d vCPU and %d GiB", strings.Join(same, " or "), info.CPU, info.MemoryGiB)
	}
	c.errorf([]string{"nodePools", string(role), "vmSize"}, "nodepool.vm-size-provider", "schema/vmsizes.cue",
		"the %s pool's vmSize %q is a size of %s, and this environment runs on %s%s",
		role, p.VMSize, config.ProviderNames[info.Provider], config.ProviderNames[want], hint)
}

// cidrProblem says, in a user's words, why s (which net/netip refused) is
// not an IPv4 network in CIDR notation.
func cidrProblem(s string) string {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return "it has no prefix length; write ADDRESS/LENGTH, such as 10.20.0.0/16"
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return fmt.Sprintf("%q is not an IP address", addr)
	}
	limit := 32
	if a.Is6() {
		limit = 128
	}
	if n, err := strconv.Atoi(bits); err != nil || n < 0 || n > limit || bits != strconv.Itoa(n) {
		return fmt.Sprintf("the prefix length %q is not a number from 0 to %d", bits, limit)
	}
	return "write ADDRESS/LENGTH, such as 10.20.0.0/16"
}

// fieldHint returns, for a field the schema does not allow at path (a CUE
// path from environments.<name>), a "did you mean" naming the allowed
// field closest in spelling (Levenshtein distance at most a third of the
// name, case ignored), or else the list of the fields allowed there, read
// from the environment's value (the schema and its profile applied).
func (c *checker) fieldHint(path string) string {
	sels := cue.ParsePath(path).Selectors()
	if len(sels) < 3 {
		return ""
	}
	bad := sels[len(sels)-1].Unquoted()
	parent := c.env.Value.LookupPath(cue.MakePath(sels[2 : len(sels)-1]...))
	it, err := parent.Fields(cue.Optional(true))
	if err != nil {
		return ""
	}
	var names []string
	for it.Next() {
		if n := it.Selector().Unquoted(); n != bad && it.Selector().IsString() {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	if best, ok := suggest.Closest(bad, names); ok {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	return " (the fields here: " + strings.Join(names, ", ") + ")"
}

// conflict reads CUE's "conflicting values A and B" message.
var conflict = regexp.MustCompile(`^conflicting values (.+) and (.+?)(?: \(mismatched types .*\))?$`)

// enumMessage says that a value is none of an enum's: alts are CUE's
// "conflicting values A and B" messages, one per allowed value. The value
// given is the one every message names; the others are the allowed ones,
// listed, with a did-you-mean for the closest in spelling (Levenshtein
// distance at most a third of the value). Messages it cannot read are
// kept as they are.
func enumMessage(alts []string) string {
	const none = "the value is none of the ones the schema allows"
	if len(alts) < 2 {
		// With fewer than two alternatives, the value given cannot be
		// told from the allowed one.
		return strings.TrimSuffix(none+" ("+strings.Join(alts, "; ")+")", " ()")
	}
	count := map[string]int{}
	var pairs [][2]string
	for _, a := range alts {
		m := conflict.FindStringSubmatch(a)
		if m == nil {
			return none + " (" + strings.Join(alts, "; ") + ")"
		}
		pairs = append(pairs, [2]string{m[1], m[2]})
		count[m[1]]++
		if m[2] != m[1] {
			count[m[2]]++
		}
	}
	given := ""
	for v, n := range count {
		if n == len(alts) && (given == "" || v < given) {
			given = v
		}
	}
	if given == "" {
		return none + " (" + strings.Join(alts, "; ") + ")"
	}
	var allowed []string
	for _, p := range pairs {
		other := p[0]
		if other == given {
			other = p[1]
		}
		allowed = append(allowed, other)
	}
	slices.Sort(allowed)
	allowed = slices.Compact(allowed)
	msg := fmt.Sprintf("%s is none of the values the schema allows (%s)", given, strings.Join(allowed, ", "))
	plain := make([]string, len(allowed))
	for i, a := range allowed {
		plain[i] = strings.Trim(a, `"`)
	}
	if best, ok := suggest.Closest(strings.Trim(given, `"`), plain); ok {
		msg += ": did you mean " + allowed[slices.Index(plain, best)] + "?"
	}
	return msg
}

var (
	outOfBound = regexp.MustCompile(`^invalid value (.+) \(out of bound (>=|<=|>|<|!=|=~|!~)(.+)\)$`)
	incomplete = regexp.MustCompile(`^incomplete value (.+)$`)
	boundWords = map[string]string{">=": "at least", "<=": "at most", ">": "more than", "<": "less than", "!=": "other than"}
)

// plainCUE rewrites CUE's bound and incompleteness messages in the user's
// words: "invalid value -1 (out of bound >=0)" becomes "-1 is out of
// range: it must be at least 0"; a pattern a string fails is quoted as a
// regular expression; "incomplete value X" on a field says the field is
// missing. Other messages are returned as they are.
func plainCUE(path, msg string) string {
	field := path
	if sels := cue.ParsePath(path).Selectors(); len(sels) > 0 {
		field = sels[len(sels)-1].Unquoted()
	}
	if m := outOfBound.FindStringSubmatch(msg); m != nil {
		switch m[2] {
		case "=~":
			return fmt.Sprintf("%s does not match the pattern %s the schema requires", m[1], m[3])
		case "!~":
			return fmt.Sprintf("%s matches the pattern %s, which the schema forbids", m[1], m[3])
		default:
			return fmt.Sprintf("%s is out of range: it must be %s %s", m[1], boundWords[m[2]], m[3])
		}
	}
	if m := incomplete.FindStringSubmatch(msg); m != nil {
		want := strings.TrimPrefix(m[1], "=~")
		if want != m[1] {
			want = "a string matching " + want
		}
		return fmt.Sprintf("%s is missing: the schema requires a value (%s)", field, want)
	}
	return msg
}
