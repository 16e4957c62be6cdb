// Package requirements lists what a cluster must already have before Flux
// reconciles an environment's render: what Flux cannot create. The
// Kubernetes version and control plane, the node pools with the labels and
// taints katonic's charts select, the network, the load balancer in front
// of the Istio ingress gateway, DNS records, availability zones, storage,
// and the Secrets the render references but never writes.
//
// Each requirement cites its source: a seed of Katonic's installation
// guides (../shared/reference/seeds/, named by file and section, with the
// seed's own words in “curly quotes”), an upstream project's documentation,
// or the katonic file whose rule decides it. The package is pure: it reads
// a config.Environment and what the render produced (render.SecretRef,
// render.Release, dns.Report) and does no I/O.
package requirements

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/dns"
	"github.com/katonic/katonic/internal/render"
)

// SchemaVersion is the version of the JSON document WriteJSON emits; it
// changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Section names a group of requirements. Sections appear in the order of
// Sections, and only those that apply to the environment's profile.
type Section string

// The sections, in report order.
const (
	SectionKubernetes        Section = "Kubernetes"
	SectionNodePools         Section = "Node pools"
	SectionNetwork           Section = "Network"
	SectionLoadBalancer      Section = "Load balancer"
	SectionDNS               Section = "DNS"
	SectionAvailabilityZones Section = "Availability zones"
	SectionStorage           Section = "Storage"
	SectionSecrets           Section = "Secrets"
)

// Sections lists every section in report order.
var Sections = []Section{SectionKubernetes, SectionNodePools, SectionNetwork, SectionLoadBalancer,
	SectionDNS, SectionAvailabilityZones, SectionStorage, SectionSecrets}

// The seed files of Katonic's installation guides the requirements cite.
const (
	Seed000 = "seed 000_3264e35a1f2fc576.txt" // cloud and architecture, "Cluster Requirements"
	Seed001 = "seed 001_023b29528093f049.txt" // on-premise
	Seed003 = "seed 003_48ea17a7d7c364df.txt" // Azure private AKS cluster
)

// AzureReservedAddresses is how many addresses Azure reserves in every
// subnet (seed 003, "Infrastructure Requirements for Private Cluster
// Setup": “Azure reserves 5 IPs”). schema/rules.cue (azureNetwork) holds the
// same number for katonic vet; a test keeps the two in step.
const AzureReservedAddresses = 5

// Report is everything one environment needs before Flux reconciles it.
type Report struct {
	// Environment is the environment's name; Profile its profile
	// ("cloud", "onprem", "azure-private") and Provider its cloud
	// provider ("aws", "gcp", "azure"; cloud profile only).
	Environment string `json:"environment"`
	Profile     string `json:"profile"`
	Provider    string `json:"provider,omitempty"`
	// Cluster is the directory Flux is bootstrapped with,
	// "out/clusters/<env>".
	Cluster string `json:"cluster"`
	// Groups are the sections that apply, in the order of Sections; none
	// is empty.
	Groups []Group `json:"sections"`
}

// Group is one section's requirements, in the order a platform engineer
// works through them.
type Group struct {
	// Section is the group's name (JSON "name"); Requirements are never empty.
	Section      Section       `json:"name"`
	Requirements []Requirement `json:"requirements"`
}

// Requirement is one thing the cluster or its surroundings must have.
type Requirement struct {
	// Text says what, in one line.
	Text string `json:"text"`
	// Details are the facts that make it precise (values, where katonic
	// uses it, the seed's words); may be empty.
	Details []string `json:"details"`
	// Source is where the requirement comes from: "seed 000_….txt,
	// \"Section\"", an upstream document, or a katonic file.
	Source string `json:"source"`
}

// Inputs is what Build reads from the environment's render.
type Inputs struct {
	// Secrets are the Secrets the render references but never writes
	// (render.Result.Secrets, compile.EnvResult.Secrets).
	Secrets []render.SecretRef
	// Releases are the rendered HelmReleases (compile.EnvResult.Releases):
	// their chart sources are what Flux must reach.
	Releases []render.Release
	// DNS is the ingress report of the same render (dns.Build): the
	// gateway's Service, the records and the certificates. Nil when not
	// available: the DNS and load-balancer sections then say less.
	DNS *dns.Report
	// OutDir is the output directory from the repository root, "out" when
	// empty.
	OutDir string
}

// Build returns what env needs before Flux reconciles its render, read
// from in. The sections and their requirements depend on env.Profile
// (cloud, onprem, azure-private) and on what the render holds; the
// result is deterministic.
func Build(env *config.Environment, in Inputs) *Report {
	out := in.OutDir
	if out == "" {
		out = "out"
	}
	b := &builder{env: env, in: in, out: out, bySection: map[Section][]Requirement{}}
	b.kubernetes()
	b.nodePools()
	b.network()
	b.loadBalancer()
	b.dnsRecords()
	b.zones()
	b.storage()
	b.secrets()
	r := &Report{Environment: env.Name, Profile: string(env.Profile), Provider: env.Provider,
		Cluster: out + "/clusters/" + env.Name}
	for _, s := range Sections {
		if reqs := b.bySection[s]; len(reqs) > 0 {
			r.Groups = append(r.Groups, Group{Section: s, Requirements: reqs})
		}
	}
	return r
}

type builder struct {
	env       *config.Environment
	in        Inputs
	out       string
	bySection map[Section][]Requirement
}

func (b *builder) add(s Section, source, text string, details ...string) {
	if details == nil {
		details = []string{}
	}
	b.bySection[s] = append(b.bySection[s], Requirement{Text: text, Details: details, Source: source})
}

// seed cites one or more sections of a seed file.
func seed(file string, sections ...string) string {
	q := make([]string, len(sections))
	for i, s := range sections {
		q[i] = `"` + s + `"`
	}
	return file + ", " + strings.Join(q, " and ")
}

// quote marks the seed's own words.
func quote(s string) string { return "“" + s + "”" }

func (b *builder) envDir(layer string) string {
	return b.out + "/environments/" + b.env.Name + "/" + layer
}

// managed names the provider's managed Kubernetes service.
func managed(provider string) string {
	switch provider {
	case "aws":
		return "EKS"
	case "gcp":
		return "GKE"
	case "azure":
		return "AKS"
	}
	return "the provider's managed Kubernetes"
}

func (b *builder) kubernetes() {
	e := b.env
	const s = SectionKubernetes
	switch e.Profile {
	case config.ProfileAzurePrivate:
		b.add(s, seed(Seed003, "Kubernetes(AKS) version"), "AKS "+e.KubernetesVersion+" (the environment's kubernetesVersion)",
			quote("validated with Kubernetes(AKS) version 1.29 and above"))
		b.add(s, seed(Seed003, "Runtime platform", "When running on AKS"), "The AKS-managed control plane; nodes in Virtual Machine Scale Sets",
			quote("Kubernetes control is handled by the AKS control plane with managed Kubernetes masters"),
			quote("Node/instances: Virtual Machine Scale Set"))
	case config.ProfileOnPrem:
		b.add(s, seed(Seed001, "Kubernetes version"), "Kubernetes "+e.KubernetesVersion+" (the environment's kubernetesVersion)",
			quote("validated with Kubernetes version 1.25 and above"))
		text := "A control plane of your own on the master pool"
		if p, ok := e.NodePools[config.RoleMaster]; ok {
			text += ": " + count(p) + " (1–3)"
		}
		b.add(s, seed(Seed000, "On-Premise Architecture", "Master pool requirements")+"; "+seed(Seed001, "Kubernetes Cluster Installation"), text,
			quote("Master nodes serve a crucial role in managing the cluster"),
			"installed with Kubespray, as recommended: "+quote("For a hassle-free Kubernetes cluster setup, we recommend using Kubespray."))
	default:
		b.add(s, seed(Seed000, "General requirements"), "Kubernetes "+e.KubernetesVersion+" (the environment's kubernetesVersion)",
			quote("Katonic 4.5 has been validated with Kubernetes version 1.27."))
		b.add(s, "katonic: profiles/cloud.cue (the provider runs the control plane: no master pool); "+seed(Seed000, "Cloud Architecture"),
			"A managed control plane: "+managed(e.Provider),
			"no master pool in this environment: the provider runs the Kubernetes masters")
	}
	b.add(s, `katonic: README.md, "The output"; internal/render (the API versions of out/)`,
		"Flux, bootstrapped with --path="+b.out+"/clusters/"+e.Name,
		"its controllers serve kustomize.toolkit.fluxcd.io/v1, helm.toolkit.fluxcd.io/v2 and source.toolkit.fluxcd.io/v1, the API versions of "+b.out+"/",
		"the next katonic render lists "+b.out+"/clusters/"+e.Name+"/flux-system/ first, so the bootstrap objects are not pruned")
}

// count is "3 nodes" or "1–10 nodes".
func count(p config.NodePool) string {
	if p.MinNodes == p.MaxNodes {
		return fmt.Sprintf("%d node%s", p.MinNodes, plural(p.MinNodes))
	}
	return fmt.Sprintf("%d–%d nodes", p.MinNodes, p.MaxNodes)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// poolSections are the seed 000 sections of "Node pool requirements".
var poolSections = map[config.Role]string{
	config.RoleMaster:     "Master pool requirements",
	config.RolePlatform:   "Platform pool requirements",
	config.RoleCompute:    "Compute pool requirements",
	config.RoleDeployment: "Deployment pool requirements",
	config.RoleStorage:    "Storage pool requirements",
	config.RoleGPU:        "Optional GPU compute pool",
}

// provisioning says where a pool's labels and taints are set, per profile.
func (b *builder) provisioning() string {
	switch {
	case b.env.Profile == config.ProfileAzurePrivate || b.env.Provider == "azure":
		return "set them on the AKS node pool (--labels, --node-taints)"
	case b.env.Profile == config.ProfileOnPrem:
		return "set them when the nodes join (Kubespray's node_labels and node_taints, or kubelet --node-labels and --register-with-taints)"
	case b.env.Provider == "aws":
		return "set them on the EKS node group (labels and taints)"
	case b.env.Provider == "gcp":
		return "set them on the GKE node pool (--node-labels, --node-taints)"
	}
	return "set them on the provider's node pool"
}

func (b *builder) nodePools() {
	e := b.env
	const s = SectionNodePools
	for _, role := range config.Roles {
		p, ok := e.NodePools[role]
		if !ok {
			continue
		}
		spec := fmt.Sprintf("%d vCPU / %d GiB memory / %d GiB boot disk per node", p.CPU, p.MemoryGiB, p.BootDiskGiB)
		if role == config.RoleGPU {
			gpus := "one or more NVIDIA GPUs"
			if p.GPUCount > 0 {
				gpus = fmt.Sprintf("%d× NVIDIA GPU", p.GPUCount)
			}
			if p.GPUType != "" {
				gpus += " (" + p.GPUType + ")"
			}
			spec += " / " + gpus
		}
		if p.VMSize != "" {
			spec += " (" + p.VMSize + ")"
		}
		text := fmt.Sprintf("%s pool: %s, %s", role, count(p), spec)

		labels := p.Labels(role)
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			ls = append(ls, k+"="+labels[k])
		}
		details := []string{"labels: " + strings.Join(ls, ", ")}
		var ts []string
		for _, t := range p.Taints(role) {
			ts = append(ts, t.Key+"="+t.Value+":"+t.Effect)
		}
		if len(ts) == 0 {
			details = append(details, "taints: none")
		} else {
			details = append(details, "taints: "+strings.Join(ts, ", "))
		}
		details = append(details, b.provisioning()+": katonic's charts select and tolerate them, and Flux does not label nodes")

		sources := []string{}
		if e.Profile == config.ProfileAzurePrivate {
			sources = append(sources, seed(Seed003, "Runtime platform"))
		}
		sections := []string{poolSections[role]}
		switch role {
		case config.RolePlatform:
			sections = append(sections, "Platform nodes")
			fixed := fmt.Sprintf("a fixed count of %d", p.MinNodes)
			if p.MinNodes != p.MaxNodes {
				fixed = fmt.Sprintf("a fixed count between %d and %d", p.MinNodes, p.MaxNodes)
			}
			details = append(details, "not autoscaled: "+fixed+": "+quote("they have a fixed number"))
		case config.RoleCompute:
			sections = append(sections, "Compute nodes")
			details = append(details, fmt.Sprintf("autoscaled between %d and %d nodes: %s", p.MinNodes, p.MaxNodes, quote("these nodes are usually auto-scaled to meet these demands")))
		case config.RoleGPU:
			details = append(details, fmt.Sprintf("autoscaled between %d and %d nodes: %s", p.MinNodes, p.MaxNodes, quote("these nodes are usually auto-scaled to meet these demands")))
		case config.RoleStorage:
			details = append(details, "external disks and the Longhorn disk label: see Storage")
		}
		sources = append(sources, seed(Seed000, sections...))
		if role == config.RoleGPU {
			sources = append(sources, seed(Seed001, "GPU Nodes"))
		}
		sources = append(sources, "labels and taints: katonic: internal/config (NodePool.Labels, NodePool.Taints)")
		b.add(s, strings.Join(sources, "; "), text, details...)

		if role == config.RoleGPU {
			b.add(s, seed(Seed000, "Optional GPU compute pool"), "gpu nodes pre-configured with the NVIDIA driver, nvidia-docker2 and NVIDIA as the default container runtime",
				quote("Nodes must be pre-configured with the appropriate Nvidia driver, Nvidia-docker2, and set the default docker runtime to Nvidia."))
			b.add(s, "katonic: internal/config (the nvidia.com/gpu taint; katonic renders no device plugin)",
				"The NVIDIA device plugin (or the NVIDIA GPU Operator) on the gpu nodes, so they advertise nvidia.com/gpu",
				"it must tolerate the gpu pool's taints: "+strings.Join(ts, ", "))
		}
	}
	if e.Profile == config.ProfileAzurePrivate {
		var parts []string
		for _, role := range config.Roles {
			p, ok := e.NodePools[role]
			if !ok || p.VMSize == "" {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %d× %s = %d vCPU", role, p.MaxNodes, p.VMSize, p.MaxNodes*p.CPU))
		}
		if len(parts) > 0 {
			b.add(s, seed(Seed003, "Service quotas"), "Azure vCPU quota in the region for every pool at its maximum",
				append(parts, quote("Azure maintains default service quotas for each of the services listed above."))...)
		}
	}
}

func (b *builder) network() {
	e := b.env
	const s = SectionNetwork
	policies := "katonic renders NetworkPolicies (" + b.envDir(render.LayerInfrastructure) + "/network-policies.yaml); a plugin that does not enforce them leaves every pod open"
	switch e.Profile {
	case config.ProfileAzurePrivate:
		b.add(s, seed(Seed003, "Network plugin")+"; katonic: internal/render/infrastructure.go",
			"The AKS default network plugin, with a network policy engine that enforces NetworkPolicy (e.g. Calico)",
			quote("The Katonic-hosting cluster should use the default network plugin created when AKS is deployed."),
			quote("your cluster uses a networking solution that supports NetworkPolicy, such as Calico"),
			"AKS enforces NetworkPolicy only with the network policy engine chosen when the cluster is created (--network-policy azure, calico or cilium)",
			policies)
		if n := e.Network; n != nil {
			b.add(s, seed(Seed003, "Infrastructure Requirements for Private Cluster Setup using AKS with Katonic Platform", "Network plugin"),
				fmt.Sprintf("A VNet %s with two subnets: AKS %s and JumpHost %s", n.VNetCIDR, n.ClusterSubnetCIDR, n.JumphostSubnetCIDR),
				"AKS subnet "+addresses(n.ClusterSubnetCIDR)+": every pod takes one",
				"JumpHost subnet "+addresses(n.JumphostSubnetCIDR),
				quote("Be aware that Azure reserves 5 IPs during AKS cluster creation."),
				quote("Katonic recommends at least a /23 CIDR for the cluster."))
		}
		b.add(s, seed(Seed003, "Create Azure Kubernetes Service(AKS)"),
			"A JumpHost in the JumpHost subnet, from which to reach the private cluster's API server",
			quote("one for cluster to utilize and other for JumpHost"))
		b.add(s, seed(Seed003, "Infrastructure Requirements for Private Cluster Setup using AKS with Katonic Platform"),
			"Permission to create role assignments (Microsoft.Authorization/roleAssignments/write) in the subscription, for AKS in your VNet",
			"the seed's custom role AKS-Vnet-Permission grants it",
			quote("Ensure the user has the necessary permissions to create the required resources in Azure."))
	case config.ProfileOnPrem:
		b.add(s, seed(Seed001, "Cluster networking")+"; Kubespray docs (kube_network_plugin); katonic: internal/render/infrastructure.go",
			"A network plugin that enforces NetworkPolicy (e.g. Calico)",
			quote("your cluster uses a networking solution that supports NetworkPolicy, such as Calico"),
			"Calico is Kubespray's default kube_network_plugin", policies)
		b.add(s, seed(Seed001, "Network Requirement on Machines"), "All VMs on one network, every port open between them",
			quote("All Virtual Machines should be in the same network."),
			quote("All ports should be open and accessible between the VMs."),
			quote("Performance-oriented networking connection between the VMs with high throughput"))
		b.add(s, seed(Seed001, "Network interfaces"), "A single-port 10 Gbps (minimum) NIC dedicated to each type of node",
			quote("Ensure the host has a single-port 10 Gbps (minimum) NIC dedicated to each type of VM node"))
	default:
		b.add(s, seed(Seed000, "Cluster networking")+"; katonic: internal/render/infrastructure.go",
			"A network plugin that enforces NetworkPolicy (e.g. Calico)",
			quote("your cluster uses a networking solution that supports NetworkPolicy, such as Calico"), policies)
	}
	if srcs := b.sources(); len(srcs) > 0 {
		details := append(srcs, "the chart sources are in "+b.envDir(render.LayerInfrastructure)+"/sources.yaml")
		if e.Images.Mirror != "" {
			details = append(details, "images are pulled from "+e.Images.Mirror+" (images.mirror)")
		}
		b.add(s, "katonic: internal/catalog (the pinned sources of platform "+e.PlatformVersion+"); charts.mirror",
			"Outbound HTTPS from the cluster to the chart and Git sources Flux fetches", details...)
	}
	if e.Images.Mirror != "" {
		b.add(s, "katonic: images.mirror (every chart's image keys and the Kubeflow Pipelines Kustomization's images are rewritten to it)",
			"The image mirror "+e.Images.Mirror+", holding every image the charts run under its repository path",
			"nodes pull from it and from no other registry: verify's fit layer checks every templated image (rule fit.image-mirror)")
	} else if regs := b.registries(); len(regs) > 0 {
		b.add(s, "katonic: internal/catalog (each pin's image registries, checked by verify's fit layer, rule fit.image-registry)",
			"Outbound HTTPS from the nodes to the image registries the charts pull from", regs...)
	}
}

// registries lists the image registries (host and path prefix) of the
// rendered releases' pins, and the Kubeflow Pipelines images' registry,
// sorted and unique; Katonic's private charts name none.
func (b *builder) registries() []string {
	seen := map[string]bool{}
	for _, r := range b.in.Releases {
		for _, reg := range r.Chart.Registries {
			seen[reg] = true
		}
	}
	if b.env.Enabled("pipelines") {
		if rel, err := catalog.Lookup(b.env.PlatformVersion); err == nil {
			for _, img := range rel.Pipelines.Images {
				if i := strings.LastIndex(img, "/"); i > 0 {
					seen[img[:i]] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// addresses is "10.20.0.0/23: 512 addresses, 507 usable (Azure reserves 5)".
func addresses(cidr string) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return cidr
	}
	n := 1 << (32 - p.Bits())
	return fmt.Sprintf("%s: %d addresses, %d usable (Azure reserves %d)", cidr, n, max(0, n-AzureReservedAddresses), AzureReservedAddresses)
}

// sources lists the distinct chart sources of the rendered releases and
// the Kubeflow Pipelines Git repository, as "Kind name URL".
func (b *builder) sources() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range b.in.Releases {
		c := r.Chart
		if c.Source == "" || seen[c.Source] {
			continue
		}
		seen[c.Source] = true
		line := fmt.Sprintf("%s %s %s", c.Kind, c.Source, c.URL)
		if c.Private {
			line += " (private: pull Secret flux-system/katonic-registry)"
		}
		out = append(out, line)
	}
	sort.Strings(out)
	if b.env.Enabled("pipelines") {
		if rel, err := catalog.Lookup(b.env.PlatformVersion); err == nil && rel.Pipelines.URL != "" {
			out = append(out, fmt.Sprintf("GitRepository %s %s (tag %s)", rel.Pipelines.Source, rel.Pipelines.URL, rel.Pipelines.Tag))
		}
	}
	return out
}

// release names the HelmRelease that installs service, "HelmRelease/flux-system/<name>".
func (b *builder) release(service string) string {
	for _, r := range b.in.Releases {
		if r.Service == service {
			return "HelmRelease/" + render.FluxNamespace + "/" + r.Name
		}
	}
	return "the " + service + " service"
}

func (b *builder) gateway() *dns.LoadBalancer {
	if b.in.DNS == nil {
		return nil
	}
	return b.in.DNS.LoadBalancer
}

func (b *builder) loadBalancer() {
	e := b.env
	const s = SectionLoadBalancer
	lb := b.gateway()
	if lb == nil {
		if b.in.DNS != nil {
			b.add(s, "katonic: internal/dns (no ingress gateway HelmRelease in the render)",
				"Your own ingress for "+e.Domain+": no Istio ingress gateway is rendered (services.istio is off)")
		}
		return
	}
	svc := fmt.Sprintf("Service %s/%s", lb.Namespace, lb.Name)
	from := "rendered in " + lb.Release + " (" + lb.File + ")"
	if lb.Type == "LoadBalancer" {
		details := []string{"Flux creates the Service, " + from + "; the cloud's load-balancer integration gives it its address"}
		if lb.Annotation != "" {
			details = append(details, "annotation "+lb.Annotation)
		}
		where := "a public IP"
		if lb.Exposure == dns.Internal {
			where = "a private IP inside the VNet/VPC, reachable only from it"
		}
		details = append(details, lb.Exposure+" (the environment's loadBalancer): "+where)
		source := seed(Seed000, "Cloud Architecture") + "; katonic: internal/dns (reads the rendered Service)"
		if e.Profile == config.ProfileAzurePrivate || e.Provider == "azure" {
			details = append(details, "a Standard SKU Azure Load Balancer (AKS's default load-balancer SKU): "+quote("Ingress Load Balancer: Standard SKU Azure Load Balancer"))
			source = seed(Seed003, "Networking") + "; katonic: internal/dns (reads the rendered Service)"
		} else {
			details = append(details, quote("a load balancer responsible for managing user connections"))
		}
		b.add(s, source, fmt.Sprintf("An %s load balancer for the Istio ingress gateway, %s (type LoadBalancer), ports 80 and 443", lb.Exposure, svc), details...)
	} else {
		http, https := render.GatewayHTTPNodePort, render.GatewayHTTPSNodePort
		if p := lb.NodePorts["80"]; p > 0 {
			http = p
		}
		if p := lb.NodePorts["443"]; p > 0 {
			https = p
		}
		b.add(s, seed(Seed001, "Network Requirement on Machines", "Ingress and SSL")+"; katonic: internal/render/services.go (GatewayHTTPNodePort, GatewayHTTPSNodePort)",
			fmt.Sprintf("An %s network load balancer of your own forwarding 80 → %d and 443 → %d on every platform node", lb.Exposure, http, https),
			fmt.Sprintf("the ingress gateway is %s, type %s with fixed node ports, %s", svc, lb.Type, from),
			quote("A network LoadBalancer is to be provided for the application endpoint with port 443 open."),
			"the seed forwards 80 and 443 to port 80 on the platform nodes; katonic's gateway listens on the node ports above instead")
	}
	b.tls(lb)
}

// tls is the certificate and WebSocket requirement of the load balancer
// (seed 000 and 001, "Ingress and SSL"; seed 003, "Domain").
func (b *builder) tls(lb *dns.LoadBalancer) {
	e := b.env
	var onLB []string
	var details []string
	for _, c := range b.in.DNS.Certificates {
		names := strings.Join(c.SANs, ", ")
		if c.Secret == "" {
			onLB = append(onLB, names)
			details = append(details, names+": no rendered object names a TLS Secret for it, so its certificate goes on the load balancer")
		} else {
			details = append(details, names+": certificate in Secret "+c.Secret+" (see Secrets), served by the ingress gateway")
		}
	}
	if len(onLB) == 0 {
		onLB = []string{e.Domain}
	}
	source := seed(Seed000, "Ingress and SSL")
	switch e.Profile {
	case config.ProfileOnPrem:
		source = seed(Seed001, "Ingress and SSL")
	case config.ProfileAzurePrivate:
		source = seed(Seed003, "Domain", "When running on AKS") + "; " + seed(Seed000, "Ingress and SSL")
		details = append(details, quote("Ingress to the Katonic application is handled by an SSL-terminating Application Gateway that points to a Kubernetes load balancer"))
	}
	details = append(details, quote("an SSL-terminating load balancer with a valid certificate"), quote("This load balancer must support WebSocket connections."))
	b.add(SectionLoadBalancer, source+"; katonic: internal/dns (the certificates and their TLS Secrets)",
		"TLS for "+strings.Join(onLB, ", ")+" terminated at the load balancer with a valid certificate, and WebSocket connections supported", details...)
}

func (b *builder) dnsRecords() {
	e := b.env
	const s = SectionDNS
	type rec struct{ name, typ, zone, target, serves string }
	var recs []rec
	if b.in.DNS != nil {
		for _, r := range b.in.DNS.Records {
			recs = append(recs, rec{r.Name, r.Type, r.Zone, r.Target, r.Serves})
		}
	} else {
		serves := map[string]string{e.Domain: "platform", e.DashHost(): "superset", e.ConnectorsHost(): "airbyte"}
		for _, h := range e.Hosts() {
			recs = append(recs, rec{name: h, serves: serves[h]})
		}
	}
	for _, r := range recs {
		text := r.name
		if r.typ != "" {
			text += ": " + r.typ + " record in a " + r.zone + " zone"
		}
		var details []string
		if r.target != "" {
			details = append(details, "points at "+r.target)
		}
		if r.zone == "private" {
			details = append(details, "the load balancer is internal: a private DNS zone linked to the VNet/VPC (Azure Private DNS, Route 53 private hosted zone, Cloud DNS private zone)")
		}
		var source string
		guide, sections := Seed001, []string{"Data Visualisation"}
		if e.Profile == config.ProfileAzurePrivate {
			guide = Seed003
		}
		switch r.serves {
		case "superset":
			details = append(details, "serves Superset: "+quote("You require an additional DNS if you're installing Superset."))
			source = seed(guide, sections...)
		case "airbyte":
			details = append(details, "serves Airbyte: "+quote("You require an additional DNS if you're installing Airbyte."))
			source = seed(guide, "Connectors")
		default:
			details = append(details, "serves the platform: "+quote("DNS for that name must resolve to the address of an SSL-terminating load balancer"))
			source = seed(Seed000, "Ingress and SSL")
		}
		b.add(s, source+"; katonic: internal/dns (record type and zone)", text, details...)
	}
}

func (b *builder) zones() {
	if b.env.Profile != config.ProfileAzurePrivate {
		return
	}
	b.add(SectionAvailabilityZones, seed(Seed003, "Runtime platform"),
		"2 availability zones for the AKS cluster: a region that offers them, with the pools' VM sizes available in both",
		quote("AKS cluster deployed in 2 Availability Zones (AZ)"))
}

func (b *builder) storage() {
	e := b.env
	const s = SectionStorage
	switch e.Profile {
	case config.ProfileOnPrem:
		p, hasPool := e.NodePools[config.RoleStorage]
		if !e.Enabled("storage") || !hasPool {
			b.add(s, "katonic: internal/render (the storage service is off: no StorageClass is rendered)",
				"A default StorageClass: the volumes of katonic's charts use the cluster's default class")
			return
		}
		b.add(s, seed(Seed000, "Storage pool requirements", "Storage Nodes"),
			fmt.Sprintf("External disks on each storage node (%s), sized for the data", count(p)),
			quote("External disks with required storage size."),
			quote("On-Premise systems need to have internal solutions to handle the storage."),
			"mounted at Longhorn's default data path, /var/lib/longhorn")
		b.add(s, `Longhorn docs, "Create Default Disk on Labeled Nodes"; katonic: internal/render/values.go (longhornValues)`,
			"The label node.longhorn.io/create-default-disk=true on each storage node",
			"katonic's storage service is Longhorn ("+b.release("storage")+") with defaultSettings.createDefaultDiskLabeledNodes: true, so Longhorn creates disks only on labelled nodes",
			"3 replicas per volume, one per storage node")
		b.add(s, `Longhorn docs, "Installation Requirements"; katonic: internal/render/values.go (the manager and CSI driver tolerate every pool)`,
			"open-iscsi installed and iscsid running on every node",
			"Longhorn's manager and CSI driver run on every node that mounts volumes")
	case config.ProfileAzurePrivate:
		b.add(s, seed(Seed003, "Storage"), "An Azure Storage Account for shared files, datasets and backups",
			quote("Shared filesystem and datasets: Azure Storage Account"), quote("Backups: Azure Storage Account"))
		b.add(s, seed(Seed003, "Storage"), "An Azure Container Registry for environment and model images",
			quote("Environment and model image: Azure Container Registry"))
		details := []string{"katonic renders kfs (disk.csi.azure.com, StandardSSD_LRS, default) in " + b.envDir(render.LayerInfrastructure) + "/storage-classes.yaml: Flux creates it",
			quote("Make sure only kfs storage class is default. Remove other storage class from default.")}
		if e.SharedStorage {
			details = append(details, "sharedStorage: kfs-shared on Azure Files (file.csi.azure.com) is rendered too: the AKS Azure Files CSI driver must be enabled (it is by default)")
		}
		b.add(s, seed(Seed003, "Dynamic block storage")+"; katonic: internal/render/infrastructure.go (storageClasses)",
			"No default StorageClass but kfs: remove the default annotation from AKS's built-in classes", details...)
	default:
		blob := map[string]string{"aws": "Amazon S3", "gcp": "Cloud Storage", "azure": "Azure Blob Storage"}[e.Provider]
		text := "The provider's blob storage, outside the cluster"
		if blob != "" {
			text += " (" + blob + ")"
		}
		b.add(s, seed(Seed000, "Cloud Architecture"), text,
			quote("Outside the cluster, there is a reliable blob storage system"))
		details := []string{}
		if e.Provider == "aws" {
			details = append(details, "on EKS, the Amazon EBS CSI driver add-on and a default gp3 or gp2 class")
		}
		b.add(s, "katonic: internal/render (StorageClasses are rendered on azure-private only; volumes use the cluster's default class)",
			"A default StorageClass", details...)
	}
}

func (b *builder) secrets() {
	for _, sr := range b.in.Secrets {
		details := []string{"keys: " + strings.Join(sr.Keys, ", ")}
		if sr.Purpose != "" {
			details = append(details, sr.Purpose)
		}
		if sr.Service != "" {
			details = append(details, "needed by "+sr.Service)
		}
		b.add(SectionSecrets, `katonic: the render's Secret references (internal/render); README.md, "Secrets an environment needs"`,
			"Secret "+sr.Namespace+"/"+sr.Name, details...)
	}
}
