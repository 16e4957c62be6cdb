package requirements

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/dns"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/render"
)

// seedsDir holds the seed files the requirements quote; the quote test
// skips where it is absent (as on a user's machine).
const seedsDir = "../../../shared/reference/seeds"

func services(on ...string) map[string]config.Service {
	m := map[string]config.Service{}
	for _, s := range on {
		m[s] = config.Service{Enabled: true}
	}
	return m
}

func cloudEnv() *config.Environment {
	return &config.Environment{Name: "c", Profile: config.ProfileCloud, Provider: "aws", PlatformVersion: "4.5",
		KubernetesVersion: "1.27.16", Domain: "k.example.com", LoadBalancer: "external",
		NodePools: map[config.Role]config.NodePool{
			config.RolePlatform: {MinNodes: 2, MaxNodes: 2, CPU: 4, MemoryGiB: 16, BootDiskGiB: 128},
			config.RoleCompute:  {MinNodes: 1, MaxNodes: 20, CPU: 8, MemoryGiB: 32, BootDiskGiB: 128},
			config.RoleGPU:      {MinNodes: 0, MaxNodes: 4, CPU: 8, MemoryGiB: 61, BootDiskGiB: 512, GPUType: "v100", GPUCount: 1},
		},
		Services: services("istio"),
	}
}

func onpremEnv(storage bool) *config.Environment {
	svc := services("istio", "superset")
	if storage {
		svc["storage"] = config.Service{Enabled: true}
	}
	return &config.Environment{Name: "o", Profile: config.ProfileOnPrem, PlatformVersion: "4.5",
		KubernetesVersion: "1.27.9", Domain: "katonic.tesla.com", LoadBalancer: "external",
		NodePools: map[config.Role]config.NodePool{
			config.RoleMaster:   {MinNodes: 3, MaxNodes: 3, CPU: 2, MemoryGiB: 8, BootDiskGiB: 128},
			config.RolePlatform: {MinNodes: 3, MaxNodes: 3, CPU: 4, MemoryGiB: 16, BootDiskGiB: 128},
			config.RoleCompute:  {MinNodes: 2, MaxNodes: 6, CPU: 8, MemoryGiB: 32, BootDiskGiB: 128},
			config.RoleStorage:  {MinNodes: 3, MaxNodes: 3, CPU: 2, MemoryGiB: 8, BootDiskGiB: 256},
		},
		Services: svc,
	}
}

func azureEnv() *config.Environment {
	return &config.Environment{Name: "a", Profile: config.ProfileAzurePrivate, PlatformVersion: "5.0.9",
		KubernetesVersion: "1.29.5", Domain: "katonic.acme.example", LoadBalancer: "internal", SharedStorage: true,
		NodePools: map[config.Role]config.NodePool{
			config.RolePlatform: {MinNodes: 2, MaxNodes: 3, CPU: 4, MemoryGiB: 14, BootDiskGiB: 128, VMSize: "Standard_DS3_v2"},
			config.RoleCompute:  {MinNodes: 1, MaxNodes: 10, CPU: 8, MemoryGiB: 32, BootDiskGiB: 128, VMSize: "Standard_D8s_v3"},
		},
		Network:  &config.Network{VNetCIDR: "10.20.0.0/16", ClusterSubnetCIDR: "10.20.0.0/26", JumphostSubnetCIDR: "10.20.8.0/29"},
		Services: services("istio", "superset", "airbyte", "pipelines"),
	}
}

// lbReport is a dns.Report with the given gateway Service and one
// Secret-less certificate per host.
func lbReport(env *config.Environment, lb *dns.LoadBalancer) *dns.Report {
	r := &dns.Report{Environment: env.Name, LoadBalancer: lb}
	zone := "public"
	if env.LoadBalancer == dns.Internal {
		zone = "private"
	}
	serves := map[string]string{env.Domain: "platform", env.DashHost(): "superset", env.ConnectorsHost(): "airbyte"}
	for _, h := range env.Hosts() {
		r.Records = append(r.Records, dns.Record{Name: h, Serves: serves[h], Type: dns.TypeA, Zone: zone, Target: "the gateway"})
		r.Certificates = append(r.Certificates, dns.Certificate{SANs: []string{h}})
	}
	return r
}

var (
	lbService = &dns.LoadBalancer{Release: "HelmRelease/flux-system/istio-gateway", File: "out/x.yaml",
		Namespace: "istio-system", Name: "istio-ingressgateway", Type: "LoadBalancer", Exposure: dns.External}
	lbInternal = &dns.LoadBalancer{Release: "HelmRelease/flux-system/istio-gateway", File: "out/x.yaml",
		Namespace: "istio-system", Name: "istio-ingressgateway", Type: "LoadBalancer", Exposure: dns.Internal,
		Annotation: "service.beta.kubernetes.io/azure-load-balancer-internal=true"}
	lbNodePort = &dns.LoadBalancer{Release: "HelmRelease/flux-system/istio-gateway", File: "out/x.yaml",
		Namespace: "istio-system", Name: "istio-ingressgateway", Type: "NodePort", Exposure: dns.External,
		NodePorts: map[string]int{"80": render.GatewayHTTPNodePort, "443": render.GatewayHTTPSNodePort}}
)

// examples are one environment per profile with what its render gives.
func examples() map[string]*Report {
	c, o, a := cloudEnv(), onpremEnv(true), azureEnv()
	secrets := []render.SecretRef{{Namespace: "flux-system", Name: "postgres-credentials", Keys: []string{"postgres-password"},
		Service: "postgres", Purpose: "PostgreSQL superuser password"}}
	releases := []render.Release{{Name: "storage", Service: "storage",
		Chart: catalog.Chart{Source: "longhorn", Kind: "HelmRepository", URL: "https://charts.longhorn.io"}}}
	return map[string]*Report{
		"cloud":         Build(c, Inputs{DNS: lbReport(c, lbService), Secrets: secrets}),
		"onprem":        Build(o, Inputs{DNS: lbReport(o, lbNodePort), Releases: releases}),
		"azure-private": Build(a, Inputs{DNS: lbReport(a, lbInternal)}),
	}
}

func sections(r *Report) []Section {
	var s []Section
	for _, g := range r.Groups {
		s = append(s, g.Section)
	}
	return s
}

// all joins every text and detail of a section, one per line.
func all(r *Report, s Section) string {
	var b strings.Builder
	for _, g := range r.Groups {
		if g.Section != s {
			continue
		}
		for _, q := range g.Requirements {
			b.WriteString(q.Text + "\n")
			for _, d := range q.Details {
				b.WriteString(d + "\n")
			}
			b.WriteString("source: " + q.Source + "\n")
		}
	}
	return b.String()
}

func TestSectionsPerProfile(t *testing.T) {
	ex := examples()
	tests := []struct {
		profile string
		want    []Section
	}{
		{"cloud", []Section{SectionKubernetes, SectionNodePools, SectionNetwork, SectionLoadBalancer, SectionDNS, SectionStorage, SectionSecrets}},
		{"onprem", []Section{SectionKubernetes, SectionNodePools, SectionNetwork, SectionLoadBalancer, SectionDNS, SectionStorage}},
		{"azure-private", []Section{SectionKubernetes, SectionNodePools, SectionNetwork, SectionLoadBalancer, SectionDNS, SectionAvailabilityZones, SectionStorage}},
	}
	for _, tt := range tests {
		if got := sections(ex[tt.profile]); !slices.Equal(got, tt.want) {
			t.Errorf("%s: sections %v, want %v", tt.profile, got, tt.want)
		}
	}
}

func TestProfileRequirements(t *testing.T) {
	ex := examples()
	tests := []struct {
		profile string
		section Section
		want    []string // substrings of the section
		not     []string
	}{
		{"cloud", SectionKubernetes, []string{"Kubernetes 1.27.16", "A managed control plane: EKS", "--path=out/clusters/c"}, []string{"Kubespray"}},
		{"onprem", SectionKubernetes, []string{"master pool: 3 nodes (1–3)", "we recommend using Kubespray"}, []string{"managed"}},
		{"azure-private", SectionKubernetes, []string{"AKS 1.29.5", "AKS-managed control plane", "Virtual Machine Scale Set"}, nil},

		{"cloud", SectionNodePools, []string{
			"platform pool: 2 nodes, 4 vCPU / 16 GiB memory / 128 GiB boot disk per node",
			"not autoscaled: a fixed count of 2",
			"compute pool: 1–20 nodes", "autoscaled between 1 and 20 nodes",
			"gpu pool: 0–4 nodes, 8 vCPU / 61 GiB memory / 512 GiB boot disk per node / 1× NVIDIA GPU (v100)",
			"labels: katonic.ai/gpu-type=v100, katonic.ai/node-pool=gpu",
			"taints: katonic.ai/gpu-type=v100:NoSchedule, nvidia.com/gpu=true:NoSchedule",
			"Nvidia driver, Nvidia-docker2", "NVIDIA device plugin", "EKS node group",
		}, []string{"quota"}},
		{"onprem", SectionNodePools, []string{
			"master pool: 3 nodes", "labels: katonic.ai/node-pool=master", "taints: none",
			"storage pool: 3 nodes, 2 vCPU / 8 GiB memory / 256 GiB boot disk", "taints: katonic.ai/node-pool=storage:NoSchedule",
			"node_labels and node_taints",
		}, []string{"NVIDIA"}},
		{"azure-private", SectionNodePools, []string{
			"platform pool: 2–3 nodes, 4 vCPU / 14 GiB memory / 128 GiB boot disk per node (Standard_DS3_v2)",
			"a fixed count between 2 and 3", "AKS node pool (--labels, --node-taints)",
			"platform: 3× Standard_DS3_v2 = 12 vCPU", "compute: 10× Standard_D8s_v3 = 80 vCPU",
		}, []string{"NVIDIA"}},

		{"cloud", SectionNetwork, []string{"enforces NetworkPolicy (e.g. Calico)", "out/environments/c/infrastructure/network-policies.yaml"}, []string{"VNet", "10 Gbps"}},
		{"onprem", SectionNetwork, []string{"All VMs on one network", "10 Gbps", "HelmRepository longhorn https://charts.longhorn.io"}, []string{"VNet"}},
		{"azure-private", SectionNetwork, []string{
			"A VNet 10.20.0.0/16 with two subnets: AKS 10.20.0.0/26 and JumpHost 10.20.8.0/29",
			"10.20.0.0/26: 64 addresses, 59 usable (Azure reserves 5)",
			"10.20.8.0/29: 8 addresses, 3 usable (Azure reserves 5)",
			"default network plugin", "--network-policy", "JumpHost", "roleAssignments/write",
			"GitRepository kubeflow-pipelines https://github.com/kubeflow/pipelines",
		}, []string{"10 Gbps"}},

		{"cloud", SectionLoadBalancer, []string{"An external load balancer for the Istio ingress gateway, Service istio-system/istio-ingressgateway (type LoadBalancer), ports 80 and 443",
			"TLS for k.example.com", "WebSocket"}, []string{"Standard SKU", "30080"}},
		{"onprem", SectionLoadBalancer, []string{"An external network load balancer of your own forwarding 80 → 30080 and 443 → 30443 on every platform node",
			"port 443 open", "TLS for katonic.tesla.com, dash-katonic.tesla.com"}, []string{"Standard SKU"}},
		{"azure-private", SectionLoadBalancer, []string{"An internal load balancer", "azure-load-balancer-internal=true", "Standard SKU Azure Load Balancer", "Application Gateway"}, []string{"30080"}},

		{"cloud", SectionDNS, []string{"k.example.com: A record in a public zone"}, []string{"dash-", "private"}},
		{"onprem", SectionDNS, []string{"katonic.tesla.com: A record", "dash-katonic.tesla.com: A record", `seed 001_023b29528093f049.txt, "Data Visualisation"`}, []string{"connectors-"}},
		{"azure-private", SectionDNS, []string{"connectors-katonic.acme.example: A record in a private zone", "private DNS zone", `seed 003_48ea17a7d7c364df.txt, "Connectors"`}, nil},

		{"azure-private", SectionAvailabilityZones, []string{"2 availability zones", "AKS cluster deployed in 2 Availability Zones (AZ)"}, nil},

		{"cloud", SectionStorage, []string{"blob storage, outside the cluster (Amazon S3)", "A default StorageClass", "EBS CSI"}, []string{"Longhorn", "kfs"}},
		{"onprem", SectionStorage, []string{"External disks on each storage node (3 nodes)", "node.longhorn.io/create-default-disk=true",
			"Longhorn (HelmRelease/flux-system/storage)", "open-iscsi"}, []string{"Azure"}},
		{"azure-private", SectionStorage, []string{"Azure Storage Account", "Azure Container Registry", "only kfs storage class is default", "kfs-shared"}, []string{"Longhorn"}},

		{"cloud", SectionSecrets, []string{"Secret flux-system/postgres-credentials", "keys: postgres-password", "PostgreSQL superuser password", "needed by postgres"}, nil},
	}
	for _, tt := range tests {
		got := all(ex[tt.profile], tt.section)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %s: no %q in\n%s", tt.profile, tt.section, w, got)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(got, n) {
				t.Errorf("%s %s: unexpected %q in\n%s", tt.profile, tt.section, n, got)
			}
		}
	}
}

func TestOnPremWithoutStorageService(t *testing.T) {
	r := Build(onpremEnv(false), Inputs{})
	got := all(r, SectionStorage)
	if !strings.Contains(got, "A default StorageClass") || strings.Contains(got, "longhorn") {
		t.Errorf("storage off: got\n%s", got)
	}
}

func TestNoGateway(t *testing.T) {
	env := cloudEnv()
	r := Build(env, Inputs{DNS: &dns.Report{Environment: env.Name}})
	got := all(r, SectionLoadBalancer)
	if !strings.Contains(got, "Your own ingress for k.example.com") {
		t.Errorf("no gateway: got\n%s", got)
	}
	// Without a DNS report, the records still come from the hosts.
	r = Build(env, Inputs{})
	if got := all(r, SectionDNS); !strings.Contains(got, "k.example.com") {
		t.Errorf("no DNS report: got\n%s", got)
	}
	if slices.Contains(sections(r), SectionLoadBalancer) {
		t.Errorf("no DNS report: a load-balancer section")
	}
}

// Every requirement has a text and a source, and no section is empty.
func TestEveryRequirementSourced(t *testing.T) {
	for name, r := range examples() {
		for _, g := range r.Groups {
			if len(g.Requirements) == 0 {
				t.Errorf("%s: empty section %s", name, g.Section)
			}
			for _, q := range g.Requirements {
				if q.Text == "" || q.Source == "" {
					t.Errorf("%s %s: %+v has no text or source", name, g.Section, q)
				}
			}
		}
	}
}

var (
	quoteRE = regexp.MustCompile(`“([^”]+)”`)
	seedRE  = regexp.MustCompile(`seed (\d{3}_[0-9a-f]+\.txt)`)
	spaceRE = regexp.MustCompile(`\s+`)
)

// Every phrase in curly quotes is the seed's own words, found in a seed
// file the requirement's source cites.
func TestSeedQuotes(t *testing.T) {
	if _, err := os.Stat(seedsDir); err != nil {
		t.Skipf("the seed files are not here (%v)", err)
	}
	seeds := map[string]string{}
	read := func(name string) string {
		if s, ok := seeds[name]; ok {
			return s
		}
		b, err := os.ReadFile(filepath.Join(seedsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = spaceRE.ReplaceAllString(string(b), " ")
		return seeds[name]
	}
	n := 0
	for name, r := range examples() {
		for _, g := range r.Groups {
			for _, q := range g.Requirements {
				cited := seedRE.FindAllStringSubmatch(q.Source, -1)
				for _, line := range append([]string{q.Text}, q.Details...) {
					for _, m := range quoteRE.FindAllStringSubmatch(line, -1) {
						n++
						if len(cited) == 0 {
							t.Errorf("%s %s: %q quotes %q but cites no seed", name, g.Section, q.Text, m[1])
							continue
						}
						found := false
						for _, c := range cited {
							if strings.Contains(read(c[1]), spaceRE.ReplaceAllString(m[1], " ")) {
								found = true
							}
						}
						if !found {
							t.Errorf("%s %s: %q is not in %s", name, g.Section, m[1], q.Source)
						}
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no quotes checked")
	}
}

// AzureReservedAddresses agrees with schema/rules.cue, which katonic vet
// applies.
func TestReservedAddressesMatchSchema(t *testing.T) {
	repo, diags, err := load.Load("../..")
	if err != nil || repo == nil {
		t.Fatalf("load: %v %v", err, diags)
	}
	if got := repo.AzureNetwork.AzureReservedAddresses; got != AzureReservedAddresses {
		t.Errorf("schema azureNetwork.azureReservedAddresses = %d, requirements.AzureReservedAddresses = %d", got, AzureReservedAddresses)
	}
}

func TestWriters(t *testing.T) {
	r := &Report{Environment: "e", Profile: "cloud", Provider: "aws", Cluster: "out/clusters/e", Groups: []Group{{
		Section: SectionDNS, Requirements: []Requirement{{Text: "dash-<fqdn> *now*", Details: []string{"a `b`"}, Source: "seed x"}},
	}}}
	var buf bytes.Buffer
	if err := Write(&buf, r, "markdown"); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, w := range []string{"# Cluster requirements: e (cloud/aws)\n", "\n## DNS\n\n", "- [ ] dash-\\<fqdn\\> \\*now\\*\n", "  - a \\`b\\`\n", "  - Source: seed x\n"} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown: no %q in\n%s", w, md)
		}
	}
	buf.Reset()
	if err := Write(&buf, r, "text"); err != nil {
		t.Fatal(err)
	}
	if want := "e (cloud/aws): what the cluster must have before Flux reconciles out/clusters/e\n\nDNS\n  - dash-<fqdn> *now*\n      a `b`\n      source: seed x\n"; buf.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := Write(&buf, r, "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int    `json:"schemaVersion"`
		Environment   string `json:"environment"`
		Sections      []struct {
			Name         string `json:"name"`
			Requirements []struct {
				Text, Source string
				Details      []string
			} `json:"requirements"`
		} `json:"sections"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Environment != "e" || len(doc.Sections) != 1 || doc.Sections[0].Name != "DNS" ||
		doc.Sections[0].Requirements[0].Source != "seed x" {
		t.Errorf("json: %+v", doc)
	}
	if err := Write(&buf, r, "yaml"); err == nil || err.Error() != "-o yaml: want text, markdown, json" {
		t.Errorf("bad format: %v", err)
	}
}

// Nodes reach the image registries of the installed charts, or only the
// image mirror when one is set.
func TestImageRegistries(t *testing.T) {
	env := cloudEnv()
	rels := []render.Release{{Name: "minio", Service: "file-manager", Chart: catalog.Chart{Registries: []string{"quay.io/minio"}}}}
	got := all(Build(env, Inputs{Releases: rels}), SectionNetwork)
	if !strings.Contains(got, "image registries the charts pull from") || !strings.Contains(got, "quay.io/minio") {
		t.Errorf("registries: got\n%s", got)
	}
	env.Images.Mirror = "registry.acme.example/katonic"
	got = all(Build(env, Inputs{Releases: rels}), SectionNetwork)
	if !strings.Contains(got, "The image mirror registry.acme.example/katonic") || strings.Contains(got, "quay.io/minio") {
		t.Errorf("mirror: got\n%s", got)
	}
}
