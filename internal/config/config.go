// Package config holds the Go form of a validated Katonic environment: the
// configuration contract, decoded from CUE after the schema,
// the profile defaults and the rules have been applied.
//
// Values of these types are plain data: safe to share between goroutines as
// long as nobody writes to them, which is how the renderer uses them.
package config

import "sort"

// Profile names one of the three installation profiles.
// Sources: seed 000 (cloud), seeds 000 and 001 (on-prem), seed 003 (Azure private AKS).
type Profile string

// The profiles katonic knows.
const (
	ProfileCloud        Profile = "cloud"
	ProfileOnPrem       Profile = "onprem"
	ProfileAzurePrivate Profile = "azure-private"
)

// Role names a node pool by what it hosts (seed 000, "Node pool requirements").
type Role string

// The node-pool roles of seed 000.
const (
	RoleMaster     Role = "master"
	RolePlatform   Role = "platform"
	RoleCompute    Role = "compute"
	RoleDeployment Role = "deployment"
	RoleStorage    Role = "storage"
	RoleGPU        Role = "gpu"
)

// Roles lists every role in a fixed order, for deterministic iteration.
var Roles = []Role{RoleMaster, RolePlatform, RoleCompute, RoleDeployment, RoleStorage, RoleGPU}

// PoolLabelKey is the node label every node of a pool carries, with the
// pool's role as value (seed 000; seed 003: "labeled katonic.ai/node-pool=platform").
const PoolLabelKey = "katonic.ai/node-pool"

// GPUTypeLabelKey is the node label that carries a GPU pool's GPU type
// (seed 000: "Labels: {GPU type}", e.g. v100, A30, A100).
const GPUTypeLabelKey = "katonic.ai/gpu-type"

// Environment is one Katonic installation: the value of
// environments."<name>" after the schema and its profile's defaults applied.
type Environment struct {
	// Name is the environment's key, a DNS-1123 label; it names the
	// cluster's directories in out/.
	Name string `json:"-"`
	// File is the path, relative to the working directory and slash
	// separated, of the .cue file that declares the environment.
	File string `json:"-"`

	Profile           Profile `json:"profile"`
	Provider          string  `json:"provider,omitempty"` // "aws" | "gcp" | "azure"; cloud profile only
	PlatformVersion   string  `json:"platformVersion"`    // Katonic release, e.g. "5.0.9"
	KubernetesVersion string  `json:"kubernetesVersion"`  // e.g. "1.29.5"
	Domain            string  `json:"domain"`             // platform FQDN
	LoadBalancer      string  `json:"loadBalancer"`       // "external" | "internal"
	// SharedStorage asks for the optional kfs-shared StorageClass on
	// Azure Files (seed 003, "Dynamic shared storage"); azure-private only.
	SharedStorage bool               `json:"sharedStorage"`
	NodePools     map[Role]NodePool  `json:"nodePools"`
	Network       *Network           `json:"network,omitempty"`
	Identity      Identity           `json:"identity"`
	Services      map[string]Service `json:"services"`
	Charts        Charts             `json:"charts,omitempty"`
	Images        Images             `json:"images,omitempty"`
	// Waivers maps a policy id (policy/) to the recorded reason this
	// environment is exempt from it.
	Waivers map[string]string `json:"waivers,omitempty"`
}

// Charts says where an environment's charts come from.
type Charts struct {
	// Mirror, when set, is an https:// Helm repository or an oci:// prefix
	// that serves every chart in place of its upstream source (see
	// catalog.Release.Mirror). Empty means upstream.
	Mirror string `json:"mirror,omitempty"`
}

// Images says where an environment's container images come from.
type Images struct {
	// Mirror, when set, is a registry host with an optional path prefix
	// ("registry.acme.example/katonic") that serves every image in place
	// of its upstream registry, for air-gapped installs. An image keeps its
	// repository path and tag, with the registry host replaced:
	// docker.io/bitnamilegacy/postgresql:17.4.0 is pulled as
	// registry.acme.example/katonic/bitnamilegacy/postgresql:17.4.0 (the
	// convention of the charts' own global.imageRegistry values). Empty
	// means upstream.
	Mirror string `json:"mirror,omitempty"`
}

// NodePool is one node pool's sizing. CPU is in vCPU, memory and disk in GiB.
type NodePool struct {
	MinNodes    int    `json:"minNodes"`
	MaxNodes    int    `json:"maxNodes"`
	CPU         int    `json:"cpu"`         // vCPU per node
	MemoryGiB   int    `json:"memoryGiB"`   // GiB per node
	BootDiskGiB int    `json:"bootDiskGiB"` // GiB per node
	VMSize      string `json:"vmSize,omitempty"`
	GPUType     string `json:"gpuType,omitempty"`  // e.g. "v100", "A100"; gpu pool only
	GPUCount    int    `json:"gpuCount,omitempty"` // GPUs per node; gpu pool only
}

// Network is the Azure private cluster's address plan (seed 003,
// "Infrastructure Requirements for Private Cluster Setup"), in CIDR notation.
type Network struct {
	VNetCIDR           string `json:"vnetCIDR"`
	ClusterSubnetCIDR  string `json:"clusterSubnetCIDR"`
	JumphostSubnetCIDR string `json:"jumphostSubnetCIDR"`
}

// Identity selects how Keycloak authenticates users (seed 000, "User Accounts").
type Identity struct {
	Mode string `json:"mode"` // "local" | "ldap" | "oidc" | "saml"
}

// Service is one entry of environments."<name>".services: whether the
// service is installed and the namespace it is installed into. The namespace
// is fixed by the schema (seed 001, "Pre Deployed Services"); users cannot
// change it.
type Service struct {
	Enabled   bool   `json:"enabled"`
	Namespace string `json:"namespace"`
}

// Taint is a Kubernetes node taint, as key=value:effect.
type Taint struct {
	Key    string
	Value  string
	Effect string // "NoSchedule"
}

// Labels returns the node labels katonic derives for a pool of role r:
// katonic.ai/node-pool=<role> on every pool (seed 000, seed 003), plus
// katonic.ai/gpu-type=<gpuType> on a GPU pool (seed 000). Users never type them.
func (p NodePool) Labels(r Role) map[string]string {
	l := map[string]string{PoolLabelKey: string(r)}
	if r == RoleGPU && p.GPUType != "" {
		l[GPUTypeLabelKey] = p.GPUType
	}
	return l
}

// Taints returns the taints katonic derives for a pool of role r, sorted by key.
//
//   - platform, deployment, storage: katonic.ai/node-pool=<role>:NoSchedule
//     (seed 000: "No other workloads can be assigned to these nodes"; the
//     deployment and storage pools are listed with taints).
//   - gpu: katonic.ai/gpu-type=<gpuType>:NoSchedule (seed 000, "Taints: {GPU
//     type}") and nvidia.com/gpu=true:NoSchedule (Katonic's AKS tooling and
//     the NVIDIA device plugin's convention).
//   - master and compute: none (compute is labelled, not tainted; the master
//     pool keeps the control plane's own taints).
func (p NodePool) Taints(r Role) []Taint {
	var t []Taint
	switch r {
	case RolePlatform, RoleDeployment, RoleStorage:
		t = append(t, Taint{Key: PoolLabelKey, Value: string(r), Effect: "NoSchedule"})
	case RoleGPU:
		if p.GPUType != "" {
			t = append(t, Taint{Key: GPUTypeLabelKey, Value: p.GPUType, Effect: "NoSchedule"})
		}
		t = append(t, Taint{Key: "nvidia.com/gpu", Value: "true", Effect: "NoSchedule"})
	}
	sort.Slice(t, func(i, j int) bool { return t[i].Key < t[j].Key })
	return t
}

// ProviderNames are the clouds of the provider field and of
// schema/vmsizes.cue ("aws", "azure", "gcp") as their owners write them,
// for messages.
var ProviderNames = map[string]string{"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud"}

// Enabled reports whether service key is switched on in e.
func (e *Environment) Enabled(key string) bool { return e.Services[key].Enabled }

// DashHost returns Superset's host, "dash-" + the platform FQDN (seeds 001, 003).
func (e *Environment) DashHost() string { return "dash-" + e.Domain }

// ConnectorsHost returns Airbyte's host, "connectors-" + the platform FQDN (seeds 001, 003).
func (e *Environment) ConnectorsHost() string { return "connectors-" + e.Domain }

// Hosts returns the ingress hosts e may serve: its FQDN, then
// dash-<FQDN> when Superset is on and connectors-<FQDN> when Airbyte is
// on (seeds 001_023b29528093f049.txt and 003_48ea17a7d7c364df.txt).
func (e *Environment) Hosts() []string {
	hosts := []string{e.Domain}
	if e.Enabled("superset") {
		hosts = append(hosts, e.DashHost())
	}
	if e.Enabled("airbyte") {
		hosts = append(hosts, e.ConnectorsHost())
	}
	return hosts
}

// Allocatable is what one node of a pool offers to pods: its capacity less
// the system reserve of Allocatable's formula.
type Allocatable struct {
	MilliCPU  int64 // millicores (1000 = one vCPU)
	MemoryMiB int64 // MiB
}

// Allocatable returns the vCPU and memory one node of p offers to pods:
// capacity (CPU vCPU, MemoryGiB GiB) minus the kube-reserved tiers that
// GKE documents ("Plan node sizes", node allocatable resources) and AKS
// uses for CPU ("Node resource reservations"), plus a 100 MiB hard
// eviction threshold:
//
//   - CPU: 6% of the first core, 1% of the second, 0.5% of the third and
//     fourth, 0.25% of every core above four (4 vCPU: 80m reserved, 3,920m
//     allocatable);
//   - memory: 25% of the first 4 GiB, 20% of the next 4 GiB, 10% of the
//     next 8 GiB, 6% of the next 112 GiB, 2% above 128 GiB, rounded up to
//     a MiB, plus 100 MiB (16 GiB: 13,621 MiB allocatable; 14 GiB:
//     11,778 MiB).
//
// AKS before 1.29 reserves the same memory tiers with a 750 MiB eviction
// threshold, AKS 1.29 and later and EKS reserve less (20 MB or 11 MiB per
// pod plus a base), so this is the larger, safe figure for every profile.
// A pool with no size gives zero.
func (p NodePool) Allocatable() Allocatable {
	cores := int64(p.CPU)
	milli := cores * 1000
	// In 1/100 of a millicore (6% of 1000m = 6000), tier by tier, in
	// closed form: the time must not grow with the pool's cpu, which the
	// schema bounds only loosely.
	var cpuReserve int64
	if cores >= 1 {
		cpuReserve += 6000
	}
	if cores >= 2 {
		cpuReserve += 1000
	}
	if cores >= 3 {
		cpuReserve += 500 * (min(cores, 4) - 2)
	}
	if cores > 4 {
		cpuReserve += 250 * (cores - 4)
	}
	mem := int64(p.MemoryGiB) * 1024
	tiers := []struct{ upTo, pct int64 }{{4096, 25}, {8192, 20}, {16384, 10}, {131072, 6}, {1 << 62, 2}}
	var memReserve, prev int64 // in 1/100 MiB
	for _, t := range tiers {
		if mem <= prev {
			break
		}
		memReserve += (min(mem, t.upTo) - prev) * t.pct
		prev = t.upTo
	}
	const evictionMiB = 100
	a := Allocatable{MilliCPU: milli - (cpuReserve+99)/100, MemoryMiB: mem - (memReserve+99)/100 - evictionMiB}
	if p.CPU == 0 {
		a.MilliCPU = 0
	}
	if p.MemoryGiB == 0 {
		a.MemoryMiB = 0
	}
	return a
}
