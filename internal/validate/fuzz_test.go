package validate

import (
	"fmt"
	"net/netip"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/testrepo"
)

// fuzzCloud is a valid cloud environment "e" (no warnings): the fuzz
// targets vary one thing of it.
const fuzzCloud = `package environments

environments: e: {
	profile:           "cloud"
	provider:          "aws"
	platformVersion:   "4.5"
	kubernetesVersion: "1.27"
	domain:            "mlops.globex.example"
	nodePools: {
		platform: {minNodes: 2, maxNodes: 2, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 1, maxNodes: 20, cpu: 8, memoryGiB: 32}
		deployment: {minNodes: 1, maxNodes: 5, cpu: 8, memoryGiB: 32}
	}
}
`

// fuzzRepo loads a repository holding fuzzCloud, with the real schema and
// profiles (once per fuzzing process).
func fuzzRepo(f *testing.F) (*load.Repository, load.Env) {
	dir := testrepo.New(f, "../..", map[string]string{"environments/e.cue": fuzzCloud})
	repo, diags, err := load.Load(dir)
	if err != nil || len(diags) > 0 || len(repo.Envs) != 1 {
		f.Fatalf("load: %v %v", err, diags)
	}
	return repo, repo.Envs[0]
}

// isLabel is an independent DNS-1123 label check: 1 to 63 characters of
// a-z, 0-9 and '-', starting and ending with a letter or digit.
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// isHost is an independent check of a host name for an Ingress: at most
// 253 characters, at least two labels, each a DNS-1123 label, no final dot.
func isHost(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !isLabel(l) {
			return false
		}
	}
	return true
}

// oneLine wants every diagnostic of l to print on one line, as an error or
// warning positioned in file.
func oneLine(t *testing.T, l diag.List, file string) {
	t.Helper()
	for _, d := range l {
		s := d.Format(filepath.Dir(file))
		if strings.ContainsAny(s, "\n\r") {
			t.Errorf("diagnostic is not one line: %q", s)
		}
		if d.Pos.Filename != file || d.Pos.Line < 1 || d.Pos.Column < 1 {
			t.Errorf("diagnostic not positioned in %s: %s", file, s)
		}
		if d.Message == "" || d.Rule == "" || d.Source == "" {
			t.Errorf("diagnostic incomplete: %s", s)
		}
	}
}

// FuzzEnvironmentName validates the valid environment under any name.
// Property: it is accepted exactly when the name is a DNS-1123 label, and
// then it is safe as a path element (no separator, not . or .., local, the
// same once cleaned) under out/clusters/ and out/environments/; otherwise
// there is exactly one error, rule environment.name, one line, at the
// declaration.
func FuzzEnvironmentName(f *testing.F) {
	for _, s := range []string{
		"e", "acme-azure", "../x", "a/b", `a\b`, ".", "..", "", "-a", "a-", "A", "a_b", "x.y", "a b", "a\nb",
		"é", "a\x00b", strings.Repeat("a", 63), strings.Repeat("a", 64), "0", "katonic_apply", "clusters/../..",
	} {
		f.Add(s)
	}
	repo, base := fuzzRepo(f)
	file := base.File
	opts := Options{PlatformVersions: []string{"4.5", "5.0.9"}}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) {
			t.Skip("CUE source is UTF-8: load rejects any other name")
		}
		src := strings.Replace(fuzzCloud, "environments: e:", "environments: "+literal.String.Quote(name)+":", 1)
		syntax, err := parser.ParseFile(file, src, parser.ParseComments)
		if err != nil {
			t.Fatalf("the name does not quote: %v", err)
		}
		env, diags := Environment(repo, load.Env{Name: name, File: file, Syntax: syntax, Value: base.Value}, opts)
		oneLine(t, diags, file)
		if isLabel(name) {
			if env == nil || len(diags) != 0 {
				t.Fatalf("a DNS-1123 label is refused: %q %v", name, diags)
			}
			if strings.ContainsAny(name, `/\`) || name == "." || name == ".." || !filepath.IsLocal(name) || path.Clean(name) != name {
				t.Fatalf("accepted name %q is not a plain path element", name)
			}
			for _, dir := range []string{"clusters", "environments"} {
				if p := path.Join(dir, name, "x.yaml"); !strings.HasPrefix(p, dir+"/"+name+"/") {
					t.Fatalf("accepted name %q escapes %s/: %s", name, dir, p)
				}
			}
			return
		}
		if env != nil || diags.Errors() != 1 || len(diags) != 1 || diags[0].Rule != "environment.name" || diags[0].Pos.Line != 3 {
			t.Fatalf("name %q: want one environment.name error at the declaration, got %v", name, diags)
		}
	})
}

// FuzzDNS checks the DNS rule on any domain, with Superset and Airbyte on
// or off. Property: the domain is accepted exactly when it is not an IP
// address and it, and dash-<domain>
// with Superset on, and connectors-<domain> with Airbyte on, are host names
// an Ingress accepts (isHost: no final dot); a refused domain gets one or
// two dns.name errors at the domain, each naming the host it is about.
func FuzzDNS(f *testing.F) {
	for _, s := range []string{
		"katonic.acme.example", "mlops.globex.example", "katonic.acme.example.", "", ".", "a", "a.b", "a..b",
		"-a.example", "a-.example", "A.example", "katonic_mlops.example", "xn--bcher-kva.example", "bücher.example",
		strings.Repeat("a", 63) + ".example", strings.Repeat("a", 58) + ".example", strings.Repeat("a", 53) + ".example",
		strings.Repeat("a.", 126) + "bc", strings.Repeat("a.", 124) + "a", "a.example\n", "1.2.3.4", "*.example",
	} {
		f.Add(s, true, true)
	}
	repo, base := fuzzRepo(f)
	file := base.File
	syntax, err := parser.ParseFile(file, fuzzCloud, parser.ParseComments)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, domain string, superset, airbyte bool) {
		c := &checker{repo: repo, env: load.Env{Name: "e", File: file, Syntax: syntax}, cfg: &config.Environment{
			Domain:   domain,
			Services: map[string]config.Service{"superset": {Enabled: superset}, "airbyte": {Enabled: airbyte}},
		}}
		c.dns()
		oneLine(t, c.diags, file)
		_, ipErr := netip.ParseAddr(domain)
		accept := ipErr != nil && isHost(domain) && (!superset || isHost("dash-"+domain)) && (!airbyte || isHost("connectors-"+domain))
		if accept != (len(c.diags) == 0) {
			t.Fatalf("domain %q (superset %v, airbyte %v): accepted %v, want %v: %v", domain, superset, airbyte, len(c.diags) == 0, accept, c.diags)
		}
		if len(c.diags) > 2 {
			t.Fatalf("more than one error per host: %v", c.diags)
		}
		for _, d := range c.diags {
			if d.Severity != diag.Error || d.Rule != "dns.name" || d.Path != "environments.e.domain" || d.Pos.Line != 8 {
				t.Errorf("not a dns.name error at the domain: %s", d.Format(filepath.Dir(file)))
			}
			named := false
			for _, h := range []string{domain, "dash-" + domain, "connectors-" + domain} {
				named = named || strings.Contains(d.Message, fmt.Sprintf("%q", h))
			}
			if !named {
				t.Errorf("error does not name its host: %s", d.Message)
			}
		}
	})
}

// FuzzCIDR checks the Azure network rules on any three CIDRs. Property:
// no panic; there is no error exactly when the three are IPv4 networks
// (no host bits, not IPv4-mapped IPv6) as net/netip parses them, both
// subnets lie inside the VNet and do not overlap (compared as address
// ranges, independently of netip's Contains and Overlaps), the cluster
// subnet is /ClusterSubnetMaxPrefix or larger and the JumpHost subnet
// /JumphostSubnetMaxPrefix or larger, and the VNet overlaps none of the
// ranges Azure reserves (schema/rules.cue); without errors, there is a warning
// exactly when the cluster subnet is smaller than recommended; each
// finding is one line, positioned at the field it is about.
func FuzzCIDR(f *testing.F) {
	for _, s := range [][3]string{
		{"10.20.0.0/16", "10.20.0.0/23", "10.20.8.0/29"},
		{"10.20.0.0/16", "10.20.0.0/33", "10.20.8.0/29"},
		{"10.20.0.0/16", "10.20.0.0/27", "10.20.8.0/29"},
		{"10.20.0.0/16", "10.20.0.0/23", "10.20.8.0/30"},
		{"10.20.0.0/16", "10.20.0.0/23", "10.30.8.0/29"},
		{"10.20.0.0/16", "10.20.0.0/23", "10.20.1.0/29"},
		{"10.20.0.1/16", "10.20.0.0/23", "10.20.8.0/29"},
		{"10.20.0.0/16", "10.20.0.0/15", "10.20.8.0/29"},
		{"0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1"},
		{"10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/29"},
		{"::ffff:10.20.0.0/112", "10.20.0.0/23", "10.20.8.0/29"},
		{"fd00::/8", "fd00::/64", "fd01::/64"},
		{"", "", ""},
		{"10.20.0.0", "10.20.0.0/23", "10.20.8.0/29"},
		{"010.20.0.0/16", "10.20.0.0/23", "10.20.8.0/29"},
		{"10.20.0.0/16", "10.20.255.248/29", "10.20.255.240/29"},
		{"255.255.255.255/32", "255.255.255.255/32", "255.255.255.255/32"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	repo, _ := fuzzRepo(f)
	rules := repo.AzureNetwork
	src := `package environments

environments: e: {
	profile: "azure-private"
	network: {
		vnetCIDR:           "x"
		clusterSubnetCIDR:  "x"
		jumphostSubnetCIDR: "x"
	}
}
`
	file := filepath.Join(repo.Dir, load.EnvironmentsDir, "e.cue")
	syntax, err := parser.ParseFile(file, src, parser.ParseComments)
	if err != nil {
		f.Fatal(err)
	}
	line := map[string]int{"vnetCIDR": 6, "clusterSubnetCIDR": 7, "jumphostSubnetCIDR": 8}
	f.Fuzz(func(t *testing.T, vnet, cluster, jump string) {
		c := &checker{repo: repo, env: load.Env{Name: "e", File: file, Syntax: syntax}, cfg: &config.Environment{
			Profile: config.ProfileAzurePrivate,
			Network: &config.Network{VNetCIDR: vnet, ClusterSubnetCIDR: cluster, JumphostSubnetCIDR: jump},
		}}
		c.network()
		oneLine(t, c.diags, file)
		for _, d := range c.diags {
			field := d.Path[strings.LastIndex(d.Path, ".")+1:]
			if !strings.HasPrefix(d.Rule, "azure.") || d.Pos.Line != line[field] {
				t.Errorf("finding not at its field: %s", d.Format(repo.Dir))
			}
		}

		// The oracle.
		type network struct {
			p          netip.Prefix
			start, end uint64
		}
		parse := func(s string) (network, bool) {
			p, err := netip.ParsePrefix(s)
			if err != nil || !p.Addr().Is4() || p.Masked() != p {
				return network{}, false
			}
			a := p.Addr().As4()
			start := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
			return network{p, start, start + 1<<(32-p.Bits()) - 1}, true
		}
		v, ok1 := parse(vnet)
		cl, ok2 := parse(cluster)
		j, ok3 := parse(jump)
		inside := func(s network) bool { return v.start <= s.start && s.end <= v.end }
		// Azure's reserved ranges, by address arithmetic.
		reserved := false
		for _, r := range rules.ReservedRanges {
			rn, ok := parse(r.CIDR)
			if !ok {
				t.Fatalf("schema/rules.cue: reserved range %q is not a CIDR", r.CIDR)
			}
			reserved = reserved || (ok1 && !(v.end < rn.start || rn.end < v.start))
		}
		valid := ok1 && !reserved && ok2 && ok3 && inside(cl) && inside(j) &&
			(cl.end < j.start || j.end < cl.start) &&
			cl.p.Bits() <= rules.ClusterSubnetMaxPrefix && j.p.Bits() <= rules.JumphostSubnetMaxPrefix
		if valid == (c.diags.Errors() > 0) {
			t.Fatalf("vnet %q cluster %q jumphost %q: valid %v, but errors: %v", vnet, cluster, jump, valid, c.diags)
		}
		if ok2 && ok3 && cl.p.Overlaps(j.p) == (cl.end < j.start || j.end < cl.start) {
			t.Fatalf("netip and address ranges disagree on overlap: %s %s", cl.p, j.p)
		}
		if valid && (c.diags.Warnings() > 0) != (cl.p.Bits() > rules.ClusterSubnetRecommendedPrefix) {
			t.Fatalf("cluster subnet %s: warnings %v", cl.p, c.diags)
		}
	})
}
