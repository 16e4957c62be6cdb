package scaffold

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/testrepo"
)

// root is the katonic checkout whose schema/ and profiles/ the tests use.
const root = "../.."

// loadRepo loads a copy of the real repository with files added or
// replaced (paths relative to it).
func loadRepo(t testing.TB, files map[string]string) *load.Repository {
	t.Helper()
	dir := testrepo.New(t, root, files)
	repo, diags, err := load.Load(dir)
	if err != nil || repo == nil || diags.Errors() > 0 {
		t.Fatalf("load: %v %v", err, diags)
	}
	return repo
}

// compiled scaffolds name for profile p in repo, checks that it vets
// (Check) and returns the environment as katonic decodes it.
func compiled(t *testing.T, repo *load.Repository, o Options) (*config.Environment, []byte) {
	t.Helper()
	src, err := Environment(repo, o)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := Check(repo.Dir, o.Name, src, nil); err != nil || len(d) > 0 {
		t.Fatalf("the scaffold of %s does not vet: %v\n%v\n%s", o.Profile, err, d, src)
	}
	path := filepath.Join(repo.Dir, load.EnvironmentsDir, o.Name+".cue")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	res, err := compile.Compile(compile.Options{Dir: repo.Dir, Envs: []string{o.Name}, Strict: true, Render: true})
	if err != nil {
		t.Fatalf("compile: %v %v", err, res.Diags)
	}
	return res.Envs[0].Env, src
}

// floor is a field's value at its floor, computed from the rules apart
// from the builder: the larger of the hard and the recommended minimum.
func floor(r load.PoolRule, f string) int {
	return max(r.Min[f], r.Recommend[f])
}

func TestEveryProfileVets(t *testing.T) {
	repo := loadRepo(t, nil)
	for _, p := range Profiles(repo) {
		t.Run(p, func(t *testing.T) {
			env, src := compiled(t, repo, Options{Name: "x-" + p, Profile: config.Profile(p)})
			rules := repo.Rules[config.Profile(p)]
			// The newest platform version, 5.0.9, needs Kubernetes 1.29
			// (seed 003), above every profile's own minimum.
			wantKube, kubeSource := catalog.MinKubernetes("5.0.9", rules.MinKubernetesVersion, rules.KubernetesSource)
			if env.KubernetesVersion != wantKube || wantKube != "1.29" {
				t.Errorf("kubernetesVersion %s, want the minimum of profile and platform %s", env.KubernetesVersion, wantKube)
			}
			if env.PlatformVersion != "5.0.9" {
				t.Errorf("platformVersion %s, want the newest, 5.0.9", env.PlatformVersion)
			}
			if env.Domain != "x-"+p+".example.com" {
				t.Errorf("domain %s", env.Domain)
			}
			wantPools := map[config.Role]bool{}
			for _, r := range append(rules.RequiredPools, rules.RecommendedPools...) {
				wantPools[r] = true
			}
			if len(env.NodePools) != len(wantPools) {
				t.Errorf("pools %v, want the required and recommended ones %v", env.NodePools, wantPools)
			}
			for role := range wantPools {
				got, ok := env.NodePools[role]
				if !ok {
					t.Errorf("no %s pool", role)
					continue
				}
				rule := rules.PoolRules[role]
				for f, v := range map[string]int{"cpu": got.CPU, "memoryGiB": got.MemoryGiB, "bootDiskGiB": got.BootDiskGiB, "minNodes": got.MinNodes} {
					if w := floor(rule, f); w > 0 && v != w {
						t.Errorf("%s.%s = %d, want %d (the rule's floor)", role, f, v, w)
					}
				}
			}
			// Optional pools are shown, commented out.
			for _, role := range rules.AllowedPools {
				if !wantPools[role] && !bytes.Contains(src, []byte("\t\t// "+string(role)+": {\n")) {
					t.Errorf("optional pool %s not shown commented out", role)
				}
			}
			if (p == string(config.ProfileAzurePrivate)) != (env.Network != nil) {
				t.Errorf("network %v for profile %s", env.Network, p)
			}
			// Comments say each field's unit and the rule's source.
			for _, s := range []string{"vCPU per node", "GiB of memory per node", "nodes, at the least", kubeSource} {
				if !strings.Contains(squeeze(string(src)), squeeze(s)) {
					t.Errorf("the scaffold does not say %q", s)
				}
			}
			again, err := Environment(repo, Options{Name: "x-" + p, Profile: config.Profile(p)})
			if err != nil || !bytes.Equal(again, src) {
				t.Errorf("a second scaffold differs")
			}
		})
	}
}

// The scaffold follows the rules of the repository it is made from: raise
// a minimum in schema/rules.cue or profiles/ and the scaffold follows.
func TestScaffoldFollowsRules(t *testing.T) {
	rulesCUE, err := os.ReadFile(filepath.Join(root, "schema", "rules.cue"))
	if err != nil {
		t.Fatal(err)
	}
	old := `min: {minNodes: *2 | int, maxNodes: *2 | int, cpu: *4 | int, memoryGiB: *16 | int, bootDiskGiB: *128 | int}`
	if !bytes.Contains(rulesCUE, []byte(old)) {
		t.Fatalf("schema/rules.cue no longer has the platform row this test edits: %s", old)
	}
	mutated := strings.Replace(string(rulesCUE), old,
		`min: {minNodes: *3 | int, maxNodes: *3 | int, cpu: *6 | int, memoryGiB: *24 | int, bootDiskGiB: *200 | int}`, 1)
	onprem := string(must(os.ReadFile(filepath.Join(root, "profiles", "onprem.cue"))))
	for _, r := range [][2]string{
		{`minKubernetesVersion: "1.25"`, `minKubernetesVersion: "1.30"`},
		{`recommendedPools: ["deployment"]`, `recommendedPools: ["deployment", "gpu"]`},
	} {
		if !strings.Contains(onprem, r[0]) {
			t.Fatalf("profiles/onprem.cue no longer has %s", r[0])
		}
		onprem = strings.Replace(onprem, r[0], r[1], 1)
	}
	extra := "package profiles\n\nrules: cloud: poolRules: compute: recommend: memoryGiB: 48\n"
	repo := loadRepo(t, map[string]string{"schema/rules.cue": mutated, "profiles/onprem.cue": onprem, "profiles/zz_extra.cue": extra})

	env, _ := compiled(t, repo, Options{Name: "raised", Profile: config.ProfileCloud})
	p := env.NodePools[config.RolePlatform]
	if p.MinNodes != 3 || p.MaxNodes != 3 || p.CPU != 6 || p.MemoryGiB != 24 || p.BootDiskGiB != 200 {
		t.Errorf("platform pool %+v does not follow the raised minimums", p)
	}
	if c := env.NodePools[config.RoleCompute]; c.MemoryGiB != 48 {
		t.Errorf("compute memoryGiB %d, want the raised recommendation 48", c.MemoryGiB)
	}

	env, src := compiled(t, repo, Options{Name: "raised-onprem", Profile: config.ProfileOnPrem})
	if env.KubernetesVersion != "1.30" {
		t.Errorf("kubernetesVersion %s, want the raised minimum 1.30", env.KubernetesVersion)
	}
	g, ok := env.NodePools[config.RoleGPU]
	if !ok || g.GPUCount != 1 || g.CPU != 8 || g.BootDiskGiB != 512 || g.GPUType == "" {
		t.Errorf("gpu pool %+v: a recommended pool is written at its floor", g)
	}
	if bytes.Contains(src, []byte("// gpu: {")) {
		t.Errorf("the gpu pool is still commented out")
	}
}

// A scaffold that does not vet is reported with its diagnostics at the
// file it would be, and the error is compile.ErrInvalid.
func TestCheckFails(t *testing.T) {
	// A platform minimum above its maximum: the scaffold writes the
	// minimum, which the maximum rejects.
	repo := loadRepo(t, map[string]string{"profiles/zz_extra.cue": "package profiles\n\nrules: cloud: poolRules: platform: min: minNodes: 4\n"})
	src, err := Environment(repo, Options{Name: "bad", Profile: config.ProfileCloud})
	if err != nil {
		t.Fatal(err)
	}
	diags, err := Check(repo.Dir, "bad", src, nil)
	if !errors.Is(err, compile.ErrInvalid) || diags.Errors() == 0 {
		t.Fatalf("Check = %v, %v; want ErrInvalid with errors", diags, err)
	}
	want := filepath.Join(repo.Dir, "environments", "bad.cue")
	for _, d := range diags {
		if d.Pos.Filename != want {
			t.Errorf("diagnostic at %q, want %q: %s", d.Pos.Filename, want, d.Format(repo.Dir))
		}
	}
	if _, err := os.Stat(want); !os.IsNotExist(err) {
		t.Errorf("Check wrote %s", want)
	}
}

func TestOptionErrors(t *testing.T) {
	repo := loadRepo(t, nil)
	for _, tc := range []struct {
		opts   Options
		option string
		msg    string
	}{
		{Options{Name: "Bad_Name", Profile: "cloud"}, "name", `environment name "Bad_Name" is not a DNS-1123 label`},
		{Options{Name: "", Profile: "cloud"}, "name", "not a DNS-1123 label"},
		{Options{Name: strings.Repeat("a", 64), Profile: "cloud"}, "name", "must be no more than 63"},
		{Options{Name: "x", Profile: "aws"}, "profile", `unknown profile "aws" (profiles: azure-private, cloud, onprem)`},
		{Options{Name: "x", Profile: "onprem", Provider: "aws"}, "provider", "for the cloud profile only"},
		{Options{Name: "x", Profile: "cloud", Provider: "ibm"}, "provider", `unknown provider "ibm"`},
		{Options{Name: "x", Profile: "cloud", Domain: "a b"}, "domain", "is not an FQDN"},
		{Options{Name: "x", Profile: "cloud", Domain: "example.com."}, "domain", "must not end with a dot"},
		{Options{Name: "x", Profile: "cloud", Domain: "localhost"}, "domain", "is not an FQDN"},
	} {
		_, err := Environment(repo, tc.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(oe.Msg, tc.msg) {
			t.Errorf("%+v: got %v, want a %s error containing %q", tc.opts, err, tc.option, tc.msg)
		}
	}
	// The options that are fine are written as given.
	env, _ := compiled(t, repo, Options{Name: "given", Profile: "cloud", Provider: "gcp", Domain: "katonic.given.example"})
	if env.Provider != "gcp" || env.Domain != "katonic.given.example" {
		t.Errorf("provider %q, domain %q", env.Provider, env.Domain)
	}
}

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"4.5", "5.0.9", true},
		{"5.0.9", "4.5", false},
		{"9.1", "10.0", true},
		{"5.0", "5.0.1", true},
		{"5.0.1", "5.0.1", false},
		{"5.0.10", "5.0.9", false},
		{"5.0-rc", "5.1", true},
	} {
		if got := versionLess(tc.a, tc.b); got != tc.less {
			t.Errorf("versionLess(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
	if Newest() != "5.0.9" {
		t.Errorf("Newest() = %q", Newest())
	}
}

// The sample network plan meets the subnet rules for any rules it accepts.
func TestSamplePlan(t *testing.T) {
	for _, r := range []load.AzureNetworkRules{
		{ClusterSubnetMaxPrefix: 26, ClusterSubnetRecommendedPrefix: 23, JumphostSubnetMaxPrefix: 29, AzureReservedAddresses: 5},
		{ClusterSubnetMaxPrefix: 26, ClusterSubnetRecommendedPrefix: 26, JumphostSubnetMaxPrefix: 28},
		{ClusterSubnetMaxPrefix: 24, ClusterSubnetRecommendedPrefix: 20, JumphostSubnetMaxPrefix: 27},
		{ClusterSubnetMaxPrefix: 24, ClusterSubnetRecommendedPrefix: 16, JumphostSubnetMaxPrefix: 29},
		{ClusterSubnetMaxPrefix: 26, JumphostSubnetMaxPrefix: 22},
	} {
		f, err := samplePlan(r)
		if err != nil {
			t.Errorf("%+v: %v", r, err)
			continue
		}
		src, err := formatField(f)
		if err != nil {
			t.Fatal(err)
		}
		cidrs := map[string]netip.Prefix{}
		for _, l := range strings.Split(src, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
			if !ok || !strings.HasSuffix(k, "CIDR") {
				continue
			}
			v, _, _ = strings.Cut(v, "//")
			p, err := netip.ParsePrefix(strings.Trim(strings.TrimSpace(v), `"`))
			if err != nil || p.Masked() != p {
				t.Fatalf("%s: %q: %v", k, v, err)
			}
			cidrs[k] = p
		}
		vnet, cl, jh := cidrs["vnetCIDR"], cidrs["clusterSubnetCIDR"], cidrs["jumphostSubnetCIDR"]
		rec := r.ClusterSubnetRecommendedPrefix
		if rec == 0 {
			rec = r.ClusterSubnetMaxPrefix
		}
		if cl.Bits() > rec || jh.Bits() > r.JumphostSubnetMaxPrefix || cl.Overlaps(jh) ||
			!vnet.Contains(cl.Addr()) || !vnet.Contains(jh.Addr()) || cl.Bits() < vnet.Bits() || jh.Bits() < vnet.Bits() {
			t.Errorf("%+v: plan %s breaks the rules", r, src)
		}
	}
	if _, err := samplePlan(load.AzureNetworkRules{ClusterSubnetRecommendedPrefix: 4, JumphostSubnetMaxPrefix: 29}); err == nil {
		t.Errorf("a plan for a /4 subnet")
	}
}

// The scaffold is CUE that parses, and its comments wrap within 80
// columns (a tab as 4) except where one word is longer.
func TestWellFormed(t *testing.T) {
	repo := loadRepo(t, nil)
	src, err := Environment(repo, Options{Name: "x", Profile: config.ProfileAzurePrivate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.ParseFile("x.cue", src, parser.ParseComments); err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		text := strings.TrimLeft(l, "\t")
		width := len(text) + 4*(len(l)-len(text))
		// Commented-out code keeps its line comments; doc comments wrap.
		doc := strings.HasPrefix(text, "// ") && strings.Count(text, "//") == 1
		if doc && width > 80 && strings.Contains(text[3:], " ") {
			t.Errorf("line %d is %d columns wide: %s", i+1, width, l)
		}
	}
}

func formatField(f *ast.Field) (string, error) {
	b, err := format.Node(f)
	return string(b), err
}

// squeeze drops comment markers and white space, so that text wrapped
// into comments compares with the text it came from.
func squeeze(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "//", "")), "")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzOptions checks Environment on any name, domain and provider: it
// either refuses them with an *OptionError or returns CUE that parses and
// declares environments.<name> with that domain.
func FuzzOptions(f *testing.F) {
	for _, s := range [][3]string{
		{"acme", "", ""}, {"acme", "katonic.acme.com", "aws"}, {"Acme", "", ""}, {"a\"b", "", ""},
		{"x", "a\nb.com", ""}, {"x", "a.b.", "gcp"}, {"x", "ä.example", "azure"}, {"x", "x.example", "ibm"},
		{strings.Repeat("a", 63), "", ""}, {"x", strings.Repeat("a.", 126) + "a", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	repo := loadRepo(f, nil)
	f.Fuzz(func(t *testing.T, name, domain, provider string) {
		src, err := Environment(repo, Options{Name: name, Profile: config.ProfileCloud, Domain: domain, Provider: provider})
		var oe *OptionError
		if errors.As(err, &oe) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile("x.cue", src, parser.ParseComments)
		if err != nil {
			t.Fatalf("the scaffold does not parse: %v\n%s", err, src)
		}
		if domain == "" {
			domain = name + ".example.com"
		}
		got, err := cuecontext.New().BuildFile(file).LookupPath(cue.MakePath(cue.Str("environments"), cue.Str(name), cue.Str("domain"))).String()
		if err != nil || got != domain || file.PackageName() != "environments" {
			t.Fatalf("the scaffold does not declare %s with domain %q (%q, %v):\n%s", name, domain, got, err, src)
		}
	})
}
