package installer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/load"
)

// Format names the kind of installer configuration a file is.
type Format string

// The two installer formats of Katonic platform v7.
const (
	// FormatKatonicYML is katonic.yml: nested keys (cloud_provider,
	// domain, node_pools.platform.count...).
	FormatKatonicYML Format = "katonic.yml"
	// FormatAnsibleInventory is the Ansible inventory of the installer:
	// flat keys (deploy_on, platform_nodes.min_count, custom_domain_name...).
	FormatAnsibleInventory Format = "ansible-inventory"
)

// Describe says in a few words what the format is.
func (f Format) Describe() string {
	switch f {
	case FormatKatonicYML:
		return "Katonic installer configuration, katonic.yml format (nested: cloud_provider, domain, node_pools)"
	case FormatAnsibleInventory:
		return "Katonic installer configuration, Ansible inventory format (flat: deploy_on, platform_nodes, custom_domain_name)"
	}
	return string(f)
}

func (f Format) short() string {
	if f == FormatAnsibleInventory {
		return "Ansible inventory format"
	}
	return string(f) + " format"
}

// VMSize is the hardware of one entry of schema.vmSizes: vCPU, memory in
// GiB, and for GPU sizes the GPU type and count per VM.
type VMSize = load.VMSize

// Network is the azure-private VNet plan (schema #Network), which no
// installer file holds: it comes from the command line.
type Network struct {
	VNetCIDR, ClusterSubnetCIDR, JumphostSubnetCIDR string
}

// Options are what Convert needs besides the file.
type Options struct {
	// File is the installer file's name as the report and the header
	// comment show it (relative to the working directory).
	File string
	// Name overrides cluster_name as the environment's name; it must be a
	// DNS-1123 label (names become paths and object names).
	Name string
	// Profile overrides the profile derived from cloud_provider/deploy_on.
	Profile config.Profile
	// PlatformVersion overrides the installer's platform version; it must
	// be one of PlatformVersions.
	PlatformVersion string
	// Network is the VNet plan, required with the azure-private profile.
	Network *Network
	// Strict applies the pool rules' recommendations as well as their hard
	// bounds (and adds the profile's recommended pools), so that the
	// result passes `katonic vet --strict`.
	Strict bool
	// Rules are the per-profile rules of profiles/ (load.Repository.Rules).
	Rules map[config.Profile]load.ProfileRules
	// VMSizes is schema.vmSizes: the sizes whose hardware the schema
	// derives from vmSize.
	VMSizes map[string]VMSize
	// PlatformVersions are the Katonic releases katonic's catalog knows
	// (catalog.Versions()).
	PlatformVersions []string
}

// Result is a converted installer file.
type Result struct {
	// Name is the environment's name.
	Name string
	// Format is the installer format detected.
	Format Format
	// Source is environments/<Name>.cue, formatted by CUE's printer.
	Source []byte
	// Report says what became of every installer key.
	Report *Report
}

// UsageError is an error in Options (not in the file): an unknown
// profile, platform version or a missing network.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Detect tells the format of a file from its top-level keys: deploy_on or
// platform_nodes mean the Ansible inventory, cloud_provider or node_pools
// katonic.yml. It returns an error, naming the keys it looked for, when the
// file has neither or both.
func Detect(file string, src []byte) (Format, error) {
	d, err := parse(file, src)
	if err != nil {
		return "", err
	}
	return detect(file, d)
}

func detect(file string, d *doc) (Format, error) {
	inv := d.has("deploy_on") || d.has("platform_nodes")
	yml := d.has("cloud_provider") || d.has("node_pools")
	switch {
	case inv && yml:
		return "", fmt.Errorf("%s: has keys of both installer formats (deploy_on/platform_nodes and cloud_provider/node_pools): import one format at a time", file)
	case inv:
		return FormatAnsibleInventory, nil
	case yml:
		return FormatKatonicYML, nil
	}
	return "", fmt.Errorf("%s: not a Katonic installer configuration: it has none of the keys deploy_on, platform_nodes (Ansible inventory) or cloud_provider, node_pools (katonic.yml)", file)
}

// Convert converts src, an installer file, into an environment. It returns
// an error, with the file and line where there is one, when src is not
// YAML, is neither format, has no domain or a cluster_name (or Name) that
// is not a DNS-1123 label, and a *UsageError for bad Options. Values that
// break katonic's rules are clamped to them and reported as adjusted; the
// result is meant to vet, and callers vet it.
func Convert(src []byte, opts Options) (*Result, error) {
	if err := checkOptions(opts); err != nil {
		return nil, err
	}
	d, err := parse(opts.File, src)
	if err != nil {
		return nil, err
	}
	f, err := detect(opts.File, d)
	if err != nil {
		return nil, err
	}
	c := newConv(d, f, opts)
	switch f {
	case FormatKatonicYML:
		err = c.katonicYML()
	default:
		err = c.inventory()
	}
	if err != nil {
		return nil, err
	}
	c.finish()
	source, err := c.generate()
	if err != nil {
		return nil, err
	}
	c.rep.sort()
	return &Result{Name: c.name, Format: f, Source: source, Report: c.rep}, nil
}

func checkOptions(opts Options) error {
	if opts.Profile != "" {
		if _, ok := opts.Rules[opts.Profile]; !ok {
			return &UsageError{fmt.Sprintf("--profile %s: want one of %s", opts.Profile, strings.Join(profileNames(opts.Rules), ", "))}
		}
	}
	if opts.Profile == config.ProfileAzurePrivate && opts.Network == nil {
		return &UsageError{"--profile azure-private needs --network vnet=CIDR,cluster=CIDR,jumphost=CIDR: the private AKS cluster's VNet plan (seed 003) is in no installer file"}
	}
	if opts.Profile != config.ProfileAzurePrivate && opts.Network != nil {
		return &UsageError{"--network is only for --profile azure-private"}
	}
	if opts.PlatformVersion != "" && !contains(opts.PlatformVersions, opts.PlatformVersion) {
		return &UsageError{fmt.Sprintf("--platform-version %s: katonic's catalog knows %s", opts.PlatformVersion, strings.Join(opts.PlatformVersions, ", "))}
	}
	if opts.Name != "" {
		if msgs := validation.IsDNS1123Label(opts.Name); len(msgs) > 0 {
			return &UsageError{fmt.Sprintf("--name %q is not a DNS-1123 label: %s (environment names become paths and object names)", opts.Name, strings.Join(msgs, "; "))}
		}
	}
	if len(opts.PlatformVersions) == 0 {
		return &UsageError{"no known platform versions"}
	}
	return nil
}

func profileNames(rules map[config.Profile]load.ProfileRules) []string {
	var out []string
	for p := range rules {
		out = append(out, string(p))
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newestVersion returns the highest of versions, comparing dotted numbers
// numerically ("5.0.9" > "4.5"; "10.0" > "9.1").
func newestVersion(versions []string) string {
	best := ""
	for _, v := range versions {
		if best == "" || versionLess(best, v) {
			best = v
		}
	}
	return best
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return a < b
}
