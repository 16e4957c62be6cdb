package installer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/load"
)

// Sources of the rules import applies that are not data in profiles/ or
// schema/ (those come from Options.Rules).
const (
	catalogSource  = "katonic's chart catalog (internal/catalog)"
	nameSource     = "README, \"Layout\": environment names become paths and object names (Kubernetes DNS-1123 label)"
	schemaSource   = "schema/environment.cue"
	providerSource = "schema/environment.cue: provider is \"aws\" | \"gcp\" | \"azure\" (the cloud's load-balancer annotations); cloud profile only"
	internalLBRule = "internal/validate (profile.provider): an internal load balancer on the cloud profile needs provider to choose its annotation (seed 003_48ea17a7d7c364df.txt)"
	// defaultBootDiskGiB is the schema's default bootDiskGiB (#NodePool).
	defaultBootDiskGiB = 128
	// katonicDomain is Katonic's own DNS zone: the inventory's
	// katonic_domain_prefix is a name under it (seed 003: Azure may use
	// Katonic's default .katonic.ai domain).
	katonicDomain = "katonic.ai"
)

// val is one value of the environment and where it came from.
type val struct {
	v any // string, int or bool
	// from is the installer key it was read from; nil when added.
	from *item
	// notes are extra comment lines (adjustments, additions).
	notes []string
}

// pool is one node pool being built.
type pool struct {
	role config.Role
	// from is the installer's pool key (a mapping); nil for an added pool.
	from *item
	// notes are comment lines for the pool.
	notes []string
	f     map[string]*val
}

func (p *pool) int(f string) (int, bool) {
	v, ok := p.f[f]
	if !ok {
		return 0, false
	}
	n, ok := v.v.(int)
	return n, ok
}

// conv holds one conversion.
type conv struct {
	d      *doc
	format Format
	opts   Options
	rep    *Report
	used   map[string]bool
	creds  map[string]bool

	name     string
	profile  config.Profile
	provider string
	rules    load.ProfileRules
	top      map[string]*val
	pools    map[config.Role]*pool
	services map[string]*val
}

func newConv(d *doc, f Format, opts Options) *conv {
	c := &conv{d: d, format: f, opts: opts, used: map[string]bool{}, creds: map[string]bool{},
		top: map[string]*val{}, pools: map[config.Role]*pool{}, services: map[string]*val{},
		rep: &Report{SchemaVersion: 1, File: opts.File, Format: f,
			Mapped: []Mapped{}, Adjusted: []Adjusted{}, Added: []Added{}, Unmapped: []Unmapped{},
			Credentials: []Credential{}, Secrets: []Secret{}, Warnings: []string{}}}
	// Credentials first, so that no mapping below can read one.
	for _, it := range d.leaves {
		if isCredential(it.key) {
			c.credential(it)
		}
	}
	return c
}

// get returns the item at key unless it is a credential or already used.
func (c *conv) get(key string) *item {
	if c.creds[key] {
		return nil
	}
	return c.d.get(key)
}

func (c *conv) mapped(it *item, field, note string) {
	c.used[it.key] = true
	c.rep.Mapped = append(c.rep.Mapped, Mapped{Key: it.key, Line: it.line, Column: it.column, Field: field, Note: note})
}

func (c *conv) unmapped(it *item, reason string) {
	if c.used[it.key] {
		return
	}
	c.used[it.key] = true
	c.rep.Unmapped = append(c.rep.Unmapped, Unmapped{Key: it.key, Line: it.line, Column: it.column, Reason: reason})
}

// unmappedTree reports every key at or under it as unmapped.
func (c *conv) unmappedTree(it *item, reason string) {
	if it == nil {
		return
	}
	kids := c.d.children(it.key)
	if len(kids) == 0 {
		c.unmapped(it, reason)
		return
	}
	for _, k := range kids {
		if !c.creds[k.key] {
			c.unmapped(k, reason)
		}
	}
}

func (c *conv) adjusted(it *item, field, from, to, rule, reason, source string) {
	a := Adjusted{Field: field, From: from, To: to, Rule: rule, Reason: reason, Source: source}
	if it != nil {
		c.used[it.key] = true
		a.Key, a.Line, a.Column = it.key, it.line, it.column
	}
	c.rep.Adjusted = append(c.rep.Adjusted, a)
}

func (c *conv) added(field, value, reason, source string) {
	c.rep.Added = append(c.rep.Added, Added{Field: field, Value: value, Reason: reason, Source: source})
}

// setName decides the environment's name: --name, else cluster_name.
func (c *conv) setName(it *item) error {
	if c.opts.Name != "" {
		c.name = c.opts.Name
		if it != nil {
			c.mapped(it, "(environment name)", "overridden by --name")
		}
		return nil
	}
	s, ok := "", false
	if it != nil {
		s, ok = it.str()
	}
	if !ok || s == "" {
		return fmt.Errorf("%s: no cluster_name: give the environment's name with --name", c.opts.File)
	}
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 {
		return fmt.Errorf("%s:%d:%d: cluster_name %q is not a DNS-1123 label: %s (environment names become paths and object names): give another with --name",
			c.opts.File, it.line, it.column, s, strings.Join(msgs, "; "))
	}
	c.name = s
	c.mapped(it, "(environment name)", "")
	return nil
}

// providerOf maps cloud_provider / deploy_on to a profile and provider.
// known is false for a cloud katonic has no load-balancer annotations for
// (OCI, Alibaba, SCCC, anything else).
func providerOf(s string) (profile config.Profile, provider string, known bool) {
	n := strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(s)))
	switch n {
	case "aws", "amazon", "eks":
		return config.ProfileCloud, "aws", true
	case "azure", "aks":
		return config.ProfileCloud, "azure", true
	case "gcp", "google", "gke":
		return config.ProfileCloud, "gcp", true
	case "baremetal", "onpremise", "onprem", "onpremises":
		return config.ProfileOnPrem, "", true
	}
	return config.ProfileCloud, "", false
}

// setProfile decides profile and provider from it (cloud_provider or
// deploy_on) and --profile, and loads the profile's rules.
func (c *conv) setProfile(it *item) {
	profile, provider, known := config.ProfileCloud, "", false
	raw := ""
	if it != nil {
		raw, _ = it.str()
		profile, provider, known = providerOf(raw)
	}
	field := "profile"
	if provider != "" && (c.opts.Profile == "" || c.opts.Profile == config.ProfileCloud) {
		field = "profile, provider"
	}
	switch {
	case it == nil:
		c.added("profile", `"cloud"`, "the installer names no cloud_provider/deploy_on; cloud without provider", schemaSource)
	case !known:
		c.adjusted(it, "profile", strconv.Quote(raw), `"cloud" without provider`, "profile.provider",
			"katonic has no load-balancer annotations for this cloud: the cloud profile without provider", providerSource)
	default:
		c.mapped(it, field, "")
	}
	if p := c.opts.Profile; p != "" && p != profile {
		from := string(profile)
		if it != nil {
			from = strconv.Quote(raw) + " (profile " + string(profile) + ")"
		}
		c.adjusted(it, "profile", from, strconv.Quote(string(p)), "--profile", "chosen on the command line", "katonic import --profile")
		profile = p
	}
	if profile != config.ProfileCloud {
		provider = ""
	}
	c.profile, c.provider = profile, provider
	c.rules = c.opts.Rules[profile]
	c.top["profile"] = &val{v: string(profile), from: it}
	if provider != "" {
		c.top["provider"] = &val{v: provider, from: it}
	}
}

var k8sVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)

// setKubernetes takes the first of keys that holds a version; the others
// present are unmapped. A "v" prefix and a distribution suffix
// ("1.30.2-gke.1", "1.30.1-aliyun.1") are dropped (schema: MAJOR.MINOR
// or MAJOR.MINOR.PATCH).
func (c *conv) setKubernetes(keys ...string) {
	var chosen *item
	for _, k := range keys {
		it := c.get(k)
		if it == nil || it.empty() {
			continue
		}
		if chosen != nil {
			c.unmapped(it, fmt.Sprintf("the Kubernetes version is taken from %s", chosen.key))
			continue
		}
		raw, _ := it.str()
		v := strings.TrimPrefix(strings.TrimSpace(raw), "v")
		v, _, _ = strings.Cut(v, "-")
		if !k8sVersion.MatchString(v) {
			c.unmapped(it, "not a Kubernetes version (MAJOR.MINOR or MAJOR.MINOR.PATCH)")
			continue
		}
		chosen = it
		c.mapped(it, "kubernetesVersion", "")
		kv := &val{v: v, from: it}
		if v != raw {
			c.adjusted(it, "kubernetesVersion", strconv.Quote(raw), strconv.Quote(v), "schema",
				"kubernetesVersion is MAJOR.MINOR[.PATCH]: the prefix or distribution suffix is dropped", schemaSource)
			kv.notes = append(kv.notes, "was "+strconv.Quote(raw)+": kubernetesVersion is MAJOR.MINOR[.PATCH]")
		}
		c.top["kubernetesVersion"] = kv
	}
}

// setPlatformVersion maps the installer's platform version to one katonic's
// catalog knows: itself when known, else the newest known (reported).
func (c *conv) setPlatformVersion(it *item) {
	known := c.opts.PlatformVersions
	newest := newestVersion(known)
	if c.opts.PlatformVersion != "" {
		v := &val{v: c.opts.PlatformVersion, from: it, notes: []string{"set by --platform-version"}}
		if it != nil {
			c.mapped(it, "platformVersion", "overridden by --platform-version")
		}
		c.top["platformVersion"] = v
		return
	}
	raw := ""
	if it != nil {
		raw, _ = it.str()
	}
	switch {
	case it == nil || raw == "":
		c.added("platformVersion", strconv.Quote(newest), "the installer gives no platform version: the newest katonic's catalog knows", catalogSource)
		c.top["platformVersion"] = &val{v: newest, notes: []string{"added: the newest platform version katonic's catalog knows"}}
	case contains(known, raw):
		c.mapped(it, "platformVersion", "")
		c.top["platformVersion"] = &val{v: raw, from: it}
	default:
		c.mapped(it, "platformVersion", "")
		reason := fmt.Sprintf("katonic pins charts for %s only: the newest is used (--platform-version chooses another)", strings.Join(known, ", "))
		c.adjusted(it, "platformVersion", strconv.Quote(raw), strconv.Quote(newest), "platform-version.known", reason, catalogSource)
		c.top["platformVersion"] = &val{v: newest, from: it, notes: []string{
			fmt.Sprintf("was %q: katonic's catalog knows %s; the newest is used", raw, strings.Join(known, ", "))}}
	}
}

// setService switches service on or off from it.
func (c *conv) setService(service string, it *item, on bool, note string) {
	c.mapped(it, "services."+service+".enabled", note)
	c.services[service] = &val{v: on, from: it}
}

// poolKeys maps the installer's pool settings (both formats) to #NodePool
// fields; "count" sets minNodes and maxNodes.
var poolKeys = map[string]string{
	"count":         "count",
	"node_count":    "count",
	"min_count":     "minNodes",
	"max_count":     "maxNodes",
	"instance_type": "vmSize",
	"vm_size":       "vmSize",
	"disk_size_gb":  "bootDiskGiB",
	"os_disk_size":  "bootDiskGiB",
	"disk_size":     "bootDiskGiB",
}

// roleOf maps an installer pool name to a katonic role.
func roleOf(name string) (config.Role, bool) {
	for _, r := range config.Roles {
		if string(r) == name {
			return r, true
		}
	}
	return "", false
}

func (c *conv) allowed(r config.Role) bool {
	for _, x := range c.rules.AllowedPools {
		if x == r {
			return true
		}
	}
	return false
}

func (c *conv) pool(role config.Role, from *item) *pool {
	p := c.pools[role]
	if p == nil {
		p = &pool{role: role, from: from, f: map[string]*val{}}
		c.pools[role] = p
	}
	return p
}

// readPool reads the installer pool at parent (a mapping of settings) as
// the pool role. A pool the installer names that katonic has no role for,
// or that the profile does not allow, is unmapped.
func (c *conv) readPool(name string, parent *item) {
	if parent == nil {
		return
	}
	if name == "vectordb" {
		c.unmappedTree(parent, "Milvus (the vector database) is not a Katonic service katonic renders, so it has no node pool")
		return
	}
	role, ok := roleOf(name)
	if !ok {
		c.unmappedTree(parent, fmt.Sprintf("katonic has no %q node pool (its roles: master, platform, compute, deployment, storage, gpu; seed 000)", name))
		return
	}
	if !c.allowed(role) {
		c.unmappedTree(parent, fmt.Sprintf("profile %s has no %s pool [%s]", c.profile, role, c.rules.PoolsSource))
		return
	}
	p := c.pool(role, parent)
	c.readPoolFields(p, c.d.children(parent.key), func(it *item) string {
		return it.key[len(parent.key)+1:]
	})
}

// readPoolFields maps the settings in items to p; setting names each
// item's setting name (e.g. "min_count").
func (c *conv) readPoolFields(p *pool, items []*item, setting func(*item) string) {
	prefix := "nodePools." + string(p.role) + "."
	for _, it := range items {
		if c.creds[it.key] {
			continue
		}
		f, ok := poolKeys[setting(it)]
		if !ok {
			c.unmapped(it, "katonic's node pools have no such setting (they have node counts, vmSize and bootDiskGiB)")
			continue
		}
		if f == "vmSize" {
			s, ok := it.str()
			if !ok || s == "" {
				c.unmapped(it, "empty: no instance type")
				continue
			}
			p.f["vmSize"] = &val{v: s, from: it}
			c.mapped(it, prefix+"vmSize", "")
			continue
		}
		n, ok := it.integer()
		if !ok {
			c.unmapped(it, "not a whole number")
			continue
		}
		if f == "count" {
			p.f["minNodes"] = &val{v: n, from: it}
			p.f["maxNodes"] = &val{v: n, from: it}
			c.mapped(it, prefix+"minNodes, "+prefix+"maxNodes", "")
			continue
		}
		p.f[f] = &val{v: n, from: it}
		c.mapped(it, prefix+f, "")
	}
}

// finish applies the profile's rules to what was read: required pools,
// each pool's bounds, the Kubernetes minimum, the load balancer; then
// reports every key nothing used.
func (c *conv) finish() {
	for _, role := range config.Roles {
		need := containsRole(c.rules.RequiredPools, role) || c.opts.Strict && containsRole(c.rules.RecommendedPools, role)
		if need && c.pools[role] == nil {
			c.addPool(role)
		}
	}
	for _, role := range config.Roles {
		if p := c.pools[role]; p != nil && p.from != nil {
			c.finishPool(p, false)
		}
	}
	c.finishKubernetes()
	if lb := c.top["loadBalancer"]; lb != nil && lb.v == "internal" && c.profile == config.ProfileCloud && c.provider == "" {
		c.adjusted(lb.from, "loadBalancer", `"internal"`, `"external"`, "profile.provider",
			"katonic marks an internal load balancer with the cloud's own annotation, and this cloud has none it knows", internalLBRule)
		lb.v = "external"
		lb.notes = append(lb.notes, "was internal: katonic knows no internal load-balancer annotation for this cloud")
	}
	if c.opts.Network != nil {
		c.mappedNetwork()
	}
	for _, it := range c.d.leaves {
		if !c.used[it.key] {
			c.unmapped(it, reasonFor(it.key, c))
		}
	}
}

func (c *conv) mappedNetwork() {
	c.added("network", "from --network", "profile azure-private needs the VNet plan, which no installer file holds", "seed 003_48ea17a7d7c364df.txt, \"Infrastructure Requirements for Private Cluster Setup\"")
}

func containsRole(rs []config.Role, r config.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// fill is the figure for a field the installer does not give: the larger
// of the rule's hard minimum and its recommendation, so an added value
// passes `katonic vet --strict`.
func fill(rule load.PoolRule, f string) int {
	return max(rule.Min[f], rule.Recommend[f])
}

// addPool adds a pool the profile requires (or, with Strict, recommends)
// and the installer lacks, sized at the rule's figures.
func (c *conv) addPool(role config.Role) {
	rule := c.rules.PoolRules[role]
	p := c.pool(role, nil)
	minN := max(fill(rule, "minNodes"), 1)
	if hi, ok := rule.Max["minNodes"]; ok && minN > hi {
		minN = hi
	}
	p.f["minNodes"] = &val{v: minN}
	p.f["maxNodes"] = &val{v: max(minN, rule.Min["maxNodes"])}
	c.finishPool(p, true)
	why := fmt.Sprintf("profile %s requires a %s pool", c.profile, role)
	if !containsRole(c.rules.RequiredPools, role) {
		why = fmt.Sprintf("profile %s recommends a %s pool (added with --strict)", c.profile, role)
	}
	var parts []string
	for _, f := range []string{"minNodes", "maxNodes", "cpu", "memoryGiB", "bootDiskGiB", "gpuType"} {
		if v, ok := p.f[f]; ok {
			parts = append(parts, fmt.Sprintf("%s: %s", f, literal(v.v)))
		}
	}
	value := "{" + strings.Join(parts, ", ") + "}"
	reason := why + " and the installer has none: sized at the pool rule's figures"
	c.added("nodePools."+string(role), value, reason, c.rules.PoolsSource+"; "+rule.Source)
	p.notes = append(p.notes, "added: "+reason, "rule: "+rule.Source)
}

func literal(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// finishPool brings p within its rule: hardware (vmSize, or cpu and
// memoryGiB), then node counts and boot disk. quiet suppresses per-field
// report entries (for an added pool, reported as a whole).
func (c *conv) finishPool(p *pool, quiet bool) {
	rule := c.rules.PoolRules[p.role]
	prefix := "nodePools." + string(p.role) + "."
	lower := func(f string) (int, string) {
		v, rid := rule.Min[f], "nodepool.min"
		if c.opts.Strict && rule.Recommend[f] > v {
			v, rid = rule.Recommend[f], "nodepool.recommended"
		}
		return v, rid
	}
	addf := func(f string, v any, reason string) {
		p.f[f] = &val{v: v, notes: []string{"added: " + reason}}
		if !quiet {
			c.added(prefix+f, literal(v), reason, rule.Source)
		}
	}
	adjust := func(f string, old *val, to any, rid, reason string) {
		from := literal(old.v)
		p.f[f] = &val{v: to, from: old.from, notes: append(old.notes, fmt.Sprintf("was %s: %s", from, reason), "rule "+rid+": "+rule.Source)}
		if !quiet {
			c.adjusted(old.from, prefix+f, from, literal(to), rid, reason, rule.Source)
		}
	}

	// Hardware.
	vm, hasVM := p.f["vmSize"]
	var hw VMSize
	known := false
	if hasVM {
		hw, known = c.opts.VMSizes[vm.v.(string)]
	}
	// A size of another cloud than the environment's: the same-shaped
	// size of its own cloud, or none (then cpu and memoryGiB, below).
	crossCloud := ""
	if want := c.cloud(); known && want != "" && hw.Provider != want {
		if same := load.SameSize(c.opts.VMSizes, hw, want); len(same) > 0 {
			reason := fmt.Sprintf("%s is a size of %s and this environment runs on %s: %s has the same %d vCPU / %d GiB",
				vm.v, config.ProviderNames[hw.Provider], config.ProviderNames[want], same[0], hw.CPU, hw.MemoryGiB)
			p.f["vmSize"] = &val{v: same[0], from: vm.from, notes: append(vm.notes, fmt.Sprintf("was %s: %s", literal(vm.v), reason), "rule nodepool.vm-size-provider: schema/vmsizes.cue")}
			if !quiet {
				c.adjusted(vm.from, prefix+"vmSize", literal(vm.v), literal(same[0]), "nodepool.vm-size-provider", reason, "schema/vmsizes.cue")
			}
			vm = p.f["vmSize"]
		} else {
			crossCloud = want
		}
	}
	needCPU, ridCPU := lower("cpu")
	needMem, ridMem := lower("memoryGiB")
	// unsize replaces vmSize by cpu and memoryGiB (at least the pool's
	// minimum) and, on a GPU pool, the size's GPUs, and reports it.
	unsize := func(rid, source, reason, note string) {
		cpu, mem := max(hw.CPU, needCPU), max(hw.MemoryGiB, needMem)
		delete(p.f, "vmSize")
		p.f["cpu"] = &val{v: cpu, from: vm.from, notes: []string{note, "rule " + rid + ": " + source}}
		p.f["memoryGiB"] = &val{v: mem, from: vm.from}
		if p.role == config.RoleGPU && hw.GPUType != "" {
			p.f["gpuType"] = &val{v: hw.GPUType, from: vm.from}
			p.f["gpuCount"] = &val{v: hw.GPUCount, from: vm.from}
		}
		if !quiet {
			c.adjusted(vm.from, prefix+"vmSize", literal(vm.v), fmt.Sprintf("cpu: %d, memoryGiB: %d", cpu, mem), rid, reason, source)
		}
	}
	switch {
	case crossCloud != "":
		reason := fmt.Sprintf("%s is a size of %s and this environment runs on %s, and schema/vmsizes.cue has no %s size of %d vCPU / %d GiB: the pool is sized by cpu and memoryGiB (at least the pool's minimum); choose a %s size",
			vm.v, config.ProviderNames[hw.Provider], config.ProviderNames[crossCloud], config.ProviderNames[crossCloud], hw.CPU, hw.MemoryGiB, config.ProviderNames[crossCloud])
		unsize("nodepool.vm-size-provider", "schema/vmsizes.cue", reason, fmt.Sprintf("was instance type %s: %s", vm.v, reason))
	case known && (hw.CPU < needCPU || hw.MemoryGiB < needMem):
		rid := ridCPU
		if hw.CPU >= needCPU {
			rid = ridMem
		}
		reason := fmt.Sprintf("%s has %d vCPU / %d GiB, below the %s pool's %d vCPU / %d GiB: the pool is sized at those figures without vmSize; choose a larger instance type",
			vm.v, hw.CPU, hw.MemoryGiB, p.role, needCPU, needMem)
		unsize(rid, rule.Source, reason, fmt.Sprintf("was instance type %s (%d vCPU, %d GiB): below the pool's minimum", vm.v, hw.CPU, hw.MemoryGiB))
	case known:
		// The schema derives cpu, memoryGiB (and a GPU size's gpuType and
		// gpuCount) from vmSize.
	default:
		reason := "the installer gives no instance type"
		if hasVM {
			reason = fmt.Sprintf("instance type %s is not in schema/vmsizes.cue, so its vCPU and memory are unknown", vm.v)
		}
		reason += fmt.Sprintf("; the %s pool's rule figures are used: check them", p.role)
		addf("cpu", max(fill(rule, "cpu"), 1), reason)
		addf("memoryGiB", max(fill(rule, "memoryGiB"), 1), reason)
	}
	if p.role == config.RoleGPU && p.f["gpuType"] == nil && (!known || hw.GPUType == "") {
		addf("gpuType", "nvidia", "the GPU type is unknown (no known GPU instance type): a generic value; set the real one (e.g. A100, v100)")
	}

	// Node counts and boot disk.
	if _, ok := p.f["minNodes"]; !ok {
		n := fill(rule, "minNodes")
		if mx, ok := p.int("maxNodes"); ok && n > mx {
			n = mx
		}
		addf("minNodes", n, "the installer gives no minimum node count: the pool rule's figure")
	}
	if _, ok := p.f["maxNodes"]; !ok {
		n, _ := p.int("minNodes")
		addf("maxNodes", max(n, rule.Min["maxNodes"]), "the installer gives no maximum node count: minNodes")
	}
	for _, f := range []string{"minNodes", "maxNodes", "bootDiskGiB"} {
		cur, explicit := p.int(f)
		if !explicit && f == "bootDiskGiB" {
			cur = defaultBootDiskGiB
		}
		lo, rid := lower(f)
		if cur < lo {
			reason := fmt.Sprintf("the %s pool needs %s >= %d", p.role, f, lo)
			if explicit {
				adjust(f, p.f[f], lo, rid, reason)
			} else {
				addf(f, lo, reason+" (the schema's default is 128)")
			}
			continue
		}
		if hi, ok := rule.Max[f]; ok && cur > hi {
			adjust(f, p.f[f], hi, "nodepool.max", fmt.Sprintf("the %s pool allows %s <= %d", p.role, f, hi))
		}
	}
	minN, _ := p.int("minNodes")
	maxN, _ := p.int("maxNodes")
	if minN > maxN {
		if hi, ok := rule.Max["maxNodes"]; ok && minN > hi {
			adjust("minNodes", p.f["minNodes"], maxN, "nodepool.range", "minNodes may not exceed maxNodes, which this pool caps")
		} else {
			adjust("maxNodes", p.f["maxNodes"], minN, "nodepool.range", "maxNodes may not be below minNodes")
		}
	}
}

// finishKubernetes adds the minimum Kubernetes version of the profile and
// platform version (catalog.MinKubernetes) when the installer gives none,
// and raises one below it.
func (c *conv) finishKubernetes() {
	platform, _ := c.top["platformVersion"].v.(string)
	minV, source := catalog.MinKubernetes(platform, c.rules.MinKubernetesVersion, c.rules.KubernetesSource)
	whose := "profile " + string(c.profile)
	if minV != c.rules.MinKubernetesVersion {
		whose = "Katonic " + platform
	}
	v := c.top["kubernetesVersion"]
	if v == nil {
		c.added("kubernetesVersion", strconv.Quote(minV), "the installer gives no Kubernetes version: the minimum for "+whose, source)
		c.top["kubernetesVersion"] = &val{v: minV, notes: []string{"added: the minimum Kubernetes version for " + whose}}
		return
	}
	if versionLess(v.v.(string), minV) && !strings.HasPrefix(v.v.(string), minV+".") {
		reason := fmt.Sprintf("Kubernetes %s is older than %s, the minimum for %s", v.v, minV, whose)
		c.adjusted(v.from, "kubernetesVersion", literal(v.v), strconv.Quote(minV), "kubernetes.min-version", reason, source)
		v.notes = append(v.notes, fmt.Sprintf("was %s: %s", literal(v.v), reason))
		v.v = minV
	}
}

// cloud is the cloud whose VM sizes the environment's pools take:
// "azure" on azure-private, the provider on cloud, "" otherwise (any).
func (c *conv) cloud() string {
	if c.profile == config.ProfileAzurePrivate {
		return "azure"
	}
	if c.profile == config.ProfileCloud {
		return c.provider
	}
	return ""
}
