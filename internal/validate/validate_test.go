package validate_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/testrepo"
	"github.com/katonic/katonic/internal/validate"
)

// repoRoot is the katonic repository, whose cue.mod/, schema/ and
// profiles/ the tests validate against.
const repoRoot = "../.."

// azure is a valid azure-private environment after seed 003; tests
// replace one line of it to break one rule.
const azure = `package environments

environments: "e": {
	profile:           "azure-private"
	platformVersion:   "5.0.9"
	kubernetesVersion: "1.29.5"
	domain:            "katonic.acme.example"
	loadBalancer:      "internal"
	nodePools: {
		platform: {minNodes: 2, maxNodes: 3, vmSize: "Standard_DS3_v2"}
		compute: {minNodes: 1, maxNodes: 10, vmSize: "Standard_D8s_v3"}
	}
	network: {
		vnetCIDR:           "10.20.0.0/16"
		clusterSubnetCIDR:  "10.20.0.0/23"
		jumphostSubnetCIDR: "10.20.8.0/29"
	}
	services: superset: enabled: true
}
`

const onprem = `package environments

environments: "e": {
	profile:           "onprem"
	platformVersion:   "4.5"
	kubernetesVersion: "1.25.0"
	domain:            "katonic.tesla.com"
	nodePools: {
		master: {minNodes: 1, maxNodes: 3, cpu: 2, memoryGiB: 8}
		platform: {minNodes: 2, maxNodes: 3, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 1, maxNodes: 6, cpu: 8, memoryGiB: 32}
		deployment: {minNodes: 1, maxNodes: 4, cpu: 8, memoryGiB: 32}
		storage: {minNodes: 3, maxNodes: 3, cpu: 2, memoryGiB: 8}
	}
}
`

const cloud = `package environments

environments: "e": {
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
	services: airbyte: enabled: true
}
`

func TestRules(t *testing.T) {
	tests := []struct {
		name       string
		base       string
		old, new   string // replace old with new in base
		severity   diag.Severity
		rule       string
		message    string // a substring of the message
		line, col  int    // expected position in environments/e.cue; 0 to skip
		noFindings bool
	}{
		{name: "azure valid", base: azure, noFindings: true},
		{name: "onprem valid", base: onprem, noFindings: true},
		{name: "cloud valid", base: cloud, noFindings: true},

		{name: "platform min nodes", base: onprem, old: "platform: {minNodes: 2", new: "platform: {minNodes: 1",
			severity: diag.Error, rule: "nodepool.min", message: "the platform pool needs minNodes >= 2 nodes, got 1", line: 10, col: 24},
		{name: "platform max nodes", base: onprem, old: "platform: {minNodes: 2, maxNodes: 3", new: "platform: {minNodes: 2, maxNodes: 5",
			severity: diag.Error, rule: "nodepool.max", message: "the platform pool allows maxNodes <= 3 nodes, got 5", line: 10, col: 37},
		{name: "master cpu", base: onprem, old: "master: {minNodes: 1, maxNodes: 3, cpu: 2", new: "master: {minNodes: 1, maxNodes: 3, cpu: 1",
			severity: diag.Error, rule: "nodepool.min", message: "the master pool needs cpu >= 2 vCPU, got 1"},
		{name: "platform memory onprem", base: onprem, old: "cpu: 4, memoryGiB: 16", new: "cpu: 4, memoryGiB: 14",
			severity: diag.Error, rule: "nodepool.min", message: "the platform pool needs memoryGiB >= 16 GiB, got 14"},
		{name: "boot disk", base: onprem, old: "compute: {minNodes: 1, maxNodes: 6, cpu: 8, memoryGiB: 32}", new: "compute: {minNodes: 1, maxNodes: 6, cpu: 8, memoryGiB: 32, bootDiskGiB: 64}",
			severity: diag.Error, rule: "nodepool.min", message: "the compute pool needs bootDiskGiB >= 128 GiB, got 64"},
		{name: "min above max", base: cloud, old: "compute: {minNodes: 1, maxNodes: 20", new: "compute: {minNodes: 30, maxNodes: 20",
			severity: diag.Error, rule: "nodepool.range", message: "minNodes 30 above maxNodes 20"},
		{name: "compute recommended", base: cloud, old: "compute: {minNodes: 1, maxNodes: 20, cpu: 8", new: "compute: {minNodes: 1, maxNodes: 20, cpu: 4",
			severity: diag.Warning, rule: "nodepool.recommended", message: "the compute pool has cpu 4 vCPU, below the recommended 8"},
		{name: "storage recommended nodes", base: onprem, old: "storage: {minNodes: 3", new: "storage: {minNodes: 2",
			severity: diag.Warning, rule: "nodepool.recommended", message: "the storage pool has minNodes 2 nodes, below the recommended 3"},
		{name: "gpu NC6s_v3 below recommended cpu", base: azure, old: "compute: {minNodes: 1, maxNodes: 10, vmSize: \"Standard_D8s_v3\"}",
			new:      "compute: {minNodes: 1, maxNodes: 10, vmSize: \"Standard_D8s_v3\"}\n\t\tgpu: {minNodes: 0, maxNodes: 2, vmSize: \"Standard_NC6s_v3\"}",
			severity: diag.Warning, rule: "nodepool.recommended", message: "the gpu pool has cpu 6 vCPU, below the recommended 8"},
		{name: "pool size missing", base: cloud, old: "deployment: {minNodes: 1, maxNodes: 5, cpu: 8, memoryGiB: 32}", new: "deployment: {minNodes: 1, maxNodes: 5}",
			severity: diag.Error, rule: "nodepool.size", message: "the deployment pool needs cpu (vCPU) and memoryGiB per node"},
		{name: "unknown vmSize", base: cloud, old: "deployment: {minNodes: 1, maxNodes: 5, cpu: 8, memoryGiB: 32}", new: "deployment: {minNodes: 1, maxNodes: 5, vmSize: \"m5.16xlarge\"}",
			severity: diag.Error, rule: "nodepool.size", message: `the deployment pool's vmSize "m5.16xlarge" is not one katonic knows the vCPU and memory of (known of its family: m5.2xlarge, m5.4xlarge, m5.8xlarge, m5.xlarge)`},
		{name: "master on cloud", base: cloud, old: "nodePools: {", new: "nodePools: {\n\t\tmaster: {minNodes: 1, maxNodes: 3, cpu: 2, memoryGiB: 8}",
			severity: diag.Error, rule: "profile.pools", message: "profile cloud has no master pool"},
		{name: "storage pool on azure", base: azure, old: "nodePools: {", new: "nodePools: {\n\t\tstorage: {minNodes: 3, maxNodes: 3, cpu: 2, memoryGiB: 8}",
			severity: diag.Error, rule: "profile.pools", message: "profile azure-private has no storage pool"},
		{name: "onprem requires storage pool", base: onprem, old: "\t\tstorage: {minNodes: 3, maxNodes: 3, cpu: 2, memoryGiB: 8}\n", new: "",
			severity: diag.Error, rule: "profile.pools", message: "profile onprem requires a storage pool"},
		{name: "platform required", base: cloud, old: "\t\tplatform: {minNodes: 2, maxNodes: 2, cpu: 4, memoryGiB: 16}\n", new: "",
			severity: diag.Error, rule: "profile.pools", message: "profile cloud requires a platform pool"},
		{name: "deployment recommended", base: cloud, old: "\t\tdeployment: {minNodes: 1, maxNodes: 5, cpu: 8, memoryGiB: 32}\n", new: "",
			severity: diag.Warning, rule: "profile.pools", message: "profile cloud recommends a deployment pool"},
		{name: "kubernetes cloud", base: cloud, old: `"1.27"`, new: `"1.26.3"`,
			severity: diag.Error, rule: "kubernetes.min-version", message: "Kubernetes 1.26.3 is older than 1.27, the minimum for profile cloud", line: 7, col: 21},
		{name: "kubernetes onprem", base: onprem, old: `"1.25.0"`, new: `"1.24.9"`,
			severity: diag.Error, rule: "kubernetes.min-version", message: "older than 1.25"},
		{name: "kubernetes azure", base: azure, old: `"1.29.5"`, new: `"1.28.9"`,
			severity: diag.Error, rule: "kubernetes.min-version", message: "older than 1.29"},
		{name: "platform version", base: azure, old: `"5.0.9"`, new: `"9.9"`,
			severity: diag.Error, rule: "platform-version.known", message: `unknown platformVersion "9.9": katonic pins charts for 4.5, 5.0.9`},
		{name: "fqdn", base: cloud, old: `"mlops.globex.example"`, new: `"Not_A.Domain"`,
			severity: diag.Error, rule: "dns.name", message: `domain "Not_A.Domain" is not a valid DNS name`},
		{name: "single label domain", base: cloud, old: `"mlops.globex.example"`, new: `"localhost"`,
			severity: diag.Error, rule: "dns.name", message: `domain "localhost" is not a valid DNS name`},
		{name: "connectors host too long", base: cloud, old: `"mlops.globex.example"`, new: `"` + strings.Repeat("a", 55) + `.example"`,
			severity: diag.Error, rule: "dns.name", message: `Airbyte's host "connectors-aaaa`},
		{name: "cidr invalid", base: azure, old: `"10.20.0.0/16"`, new: `"10.20.0.0/33"`,
			severity: diag.Error, rule: "azure.cidr", message: `vnetCIDR "10.20.0.0/33" is not a CIDR: the prefix length "33" is not a number from 0 to 32`},
		{name: "cidr without a prefix length", base: azure, old: `"10.20.0.0/16"`, new: `"10.20.0.0"`,
			severity: diag.Error, rule: "azure.cidr", message: `vnetCIDR "10.20.0.0" is not a CIDR: it has no prefix length; write ADDRESS/LENGTH`},
		{name: "cidr of a bad address", base: azure, old: `"10.20.0.0/16"`, new: `"10.20.0.256/16"`,
			severity: diag.Error, rule: "azure.cidr", message: `vnetCIDR "10.20.0.256/16" is not a CIDR: "10.20.0.256" is not an IP address`},
		{name: "cidr host bits", base: azure, old: `"10.20.8.0/29"`, new: `"10.20.8.1/29"`,
			severity: diag.Error, rule: "azure.cidr", message: "has host bits set; the network is 10.20.8.0/29"},
		{name: "subnet outside vnet", base: azure, old: `"10.20.8.0/29"`, new: `"10.30.8.0/29"`,
			severity: diag.Error, rule: "azure.subnet-in-vnet", message: "jumphostSubnetCIDR 10.30.8.0/29 is not inside vnetCIDR 10.20.0.0/16"},
		{name: "subnets overlap", base: azure, old: `"10.20.8.0/29"`, new: `"10.20.1.0/29"`,
			severity: diag.Error, rule: "azure.subnets-disjoint", message: "jumphostSubnetCIDR 10.20.1.0/29 overlaps clusterSubnetCIDR 10.20.0.0/23"},
		{name: "cluster subnet too small", base: azure, old: `"10.20.0.0/23"`, new: `"10.20.0.0/27"`,
			severity: diag.Error, rule: "azure.cluster-subnet-size", message: "has 27 usable addresses (Azure reserves 5); the AKS subnet must be /26 or larger"},
		{name: "cluster subnet below recommendation", base: azure, old: `"10.20.0.0/23"`, new: `"10.20.0.0/26"`,
			severity: diag.Warning, rule: "azure.cluster-subnet-size", message: "has 59 usable addresses (Azure reserves 5) and every pod takes one; /23 or larger is recommended"},
		{name: "jumphost subnet too small", base: azure, old: `"10.20.8.0/29"`, new: `"10.20.8.0/30"`,
			severity: diag.Error, rule: "azure.jumphost-subnet-size", message: "has 0 usable addresses"},
		{name: "network missing", base: azure, old: "\tnetwork: {\n\t\tvnetCIDR:           \"10.20.0.0/16\"\n\t\tclusterSubnetCIDR:  \"10.20.0.0/23\"\n\t\tjumphostSubnetCIDR: \"10.20.8.0/29\"\n\t}\n", new: "",
			severity: diag.Error, rule: "azure.network", message: "profile azure-private needs network"},
		{name: "network on cloud", base: cloud, old: "\tservices:", new: "\tnetwork: {vnetCIDR: \"10.0.0.0/16\", clusterSubnetCIDR: \"10.0.0.0/23\", jumphostSubnetCIDR: \"10.0.8.0/29\"}\n\tservices:",
			severity: diag.Error, rule: "azure.network", message: "network is only for the azure-private profile"},
		{name: "provider on onprem", base: onprem, old: "\tdomain:", new: "\tprovider: \"aws\"\n\tdomain:",
			severity: diag.Error, rule: "profile.provider", message: "provider is only for the cloud profile"},
		{name: "internal lb without provider", base: cloud, old: "\tprovider:          \"aws\"\n", new: "\tloadBalancer: \"internal\"\n",
			severity: diag.Error, rule: "profile.provider", message: "needs provider"},
		{name: "storage service on cloud", base: cloud, old: "services: airbyte: enabled: true", new: "services: storage: enabled: true",
			severity: diag.Error, rule: "services.storage", message: "the storage service runs on the on-prem storage pool"},
		{name: "storage service off on onprem", base: onprem, old: "\tnodePools:", new: "\tservices: storage: enabled: false\n\tnodePools:",
			severity: diag.Warning, rule: "services.storage", message: "the storage service is off"},
		{name: "unknown field", base: cloud, old: "\tdomain:", new: "\tdomian: \"x\"\n\tdomain:",
			severity: diag.Error, rule: "schema", message: "field not allowed", line: 8, col: 2},
		{name: "misspelt field", base: cloud, old: "\tdomain:", new: "\tdomian: \"x\"\n\tdomain:",
			severity: diag.Error, rule: "schema", message: `field not allowed: did you mean "domain"?`, line: 8, col: 2},
		{name: "misspelt pool field", base: cloud, old: "compute: {minNodes: 1, maxNodes: 20, cpu: 8, memoryGiB: 32}", new: "compute: {minNodes: 1, maxNodes: 20, cpu: 8, memoryGib: 32}",
			severity: diag.Error, rule: "schema", message: `field not allowed: did you mean "memoryGiB"?`},
		{name: "unknown field far from any", base: cloud, old: "\tdomain:", new: "\tregion: \"us-east-1\"\n\tdomain:",
			severity: diag.Error, rule: "schema", message: "field not allowed (the fields here: charts, domain, identity, images, kubernetesVersion, loadBalancer, network, nodePools, platformVersion, profile, provider, services, sharedStorage, waivers)"},
		{name: "unknown pool", base: cloud, old: "nodePools: {", new: "nodePools: {\n\t\tbatch: {minNodes: 1, maxNodes: 3, cpu: 2, memoryGiB: 8}",
			severity: diag.Error, rule: "schema", message: "field not allowed"},
		{name: "typed label", base: cloud, old: "compute: {minNodes: 1,", new: "compute: {labels: {a: \"b\"}, minNodes: 1,",
			severity: diag.Error, rule: "schema", message: "field not allowed"},
		{name: "wrong type", base: cloud, old: "compute: {minNodes: 1,", new: "compute: {minNodes: \"one\",",
			severity: diag.Error, rule: "schema", message: "conflicting values"},
		{name: "fixed namespace", base: cloud, old: "services: airbyte: enabled: true", new: "services: airbyte: namespace: \"data\"",
			severity: diag.Error, rule: "schema", message: `conflicting values "airbyte" and "data"`},
		{name: "vmSize contradicts cpu", base: azure, old: `vmSize: "Standard_DS3_v2"}`, new: `vmSize: "Standard_DS3_v2", cpu: 8}`,
			severity: diag.Error, rule: "schema", message: "conflicting values"},
		{name: "domain with a final dot", base: cloud, old: `"mlops.globex.example"`, new: `"mlops.globex.example."`,
			severity: diag.Error, rule: "dns.name", message: "it must not end with a dot", line: 8, col: 21},
		{name: "domain an IP address", base: cloud, old: `"mlops.globex.example"`, new: `"10.0.0.1"`,
			severity: diag.Error, rule: "dns.name", message: `domain "10.0.0.1" is not a valid DNS name: it is an IP address`, line: 8, col: 21},
		{name: "mirror with credentials", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"https://admin:s3cret@charts.acme.example/katonic\"\n\tservices:",
			severity: diag.Error, rule: "mirror.credentials", message: `charts.mirror "https://admin:xxxxx@charts.acme.example/katonic" carries credentials`, line: 14, col: 18},
		{name: "oci mirror with a user", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"oci://robot@registry.acme.example/katonic\"\n\tservices:",
			severity: diag.Error, rule: "mirror.credentials", message: `"oci://robot@registry.acme.example/katonic" carries credentials`},
		{name: "mirror with a token in its query", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"https://charts.acme.example/katonic?sv=2024-05-04&sig=abc123\"\n\tservices:",
			severity: diag.Error, rule: "mirror.credentials", message: `charts.mirror "https://charts.acme.example/katonic?xxxxx" has a query string or fragment`, line: 14, col: 18},
		{name: "mirror with a fragment", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"https://charts.acme.example/katonic#token=abc123\"\n\tservices:",
			severity: diag.Error, rule: "mirror.credentials", message: `charts.mirror "https://charts.acme.example/katonic#xxxxx" has a query string or fragment`},
		{name: "mirror with a user and a query", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"https://admin:s3cret@charts.acme.example/katonic?token=abc123\"\n\tservices:",
			severity: diag.Error, rule: "mirror.credentials", message: `charts.mirror "https://admin:xxxxx@charts.acme.example/katonic?xxxxx" carries credentials`},
		{name: "mirror with an escape sequence", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"https://admin:s3cret@charts.acme.example\\u001b[2K/katonic\"\n\tservices:",
			severity: diag.Error, rule: "mirror.url", message: "charts.mirror has the character U+001B at byte 40: a chart repository's URL is printable ASCII", line: 14, col: 18},
		{name: "mirror with a right-to-left override", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"https://charts.acme.\\u202eelpmaxe/katonic\"\n\tservices:",
			severity: diag.Error, rule: "mirror.url", message: "charts.mirror has the character U+202E at byte 20"},
		{name: "mirror that does not parse", base: cloud, old: "\tservices:", new: "\tcharts: mirror: \"https://admin:s3cret@[charts/katonic\"\n\tservices:",
			severity: diag.Error, rule: "mirror.url", message: "charts.mirror is not a URL: missing ']' in host"},
		{name: "vnet everything", base: azure, old: `"10.20.0.0/16"`, new: `"0.0.0.0/0"`,
			severity: diag.Error, rule: "azure.reserved-range", message: "vnetCIDR 0.0.0.0/0 overlaps 224.0.0.0/4 (multicast), which Azure does not allow", line: 14, col: 23},
		{name: "vnet link-local", base: azure, old: "\"10.20.0.0/16\"\n\t\tclusterSubnetCIDR:  \"10.20.0.0/23\"\n\t\tjumphostSubnetCIDR: \"10.20.8.0/29\"",
			new:      "\"169.254.0.0/16\"\n\t\tclusterSubnetCIDR:  \"169.254.0.0/23\"\n\t\tjumphostSubnetCIDR: \"169.254.8.0/29\"",
			severity: diag.Error, rule: "azure.reserved-range", message: "vnetCIDR 169.254.0.0/16 overlaps 169.254.0.0/16 (link-local)"},
		{name: "subnet reserved under an invalid vnet", base: azure, old: `"10.20.0.0/16"`, new: `"10.20.0.0/33"`,
			severity: diag.Error, rule: "azure.cidr", message: "is not a CIDR"},
		{name: "gpuType not a label value", base: azure, old: "\tnetwork: {", new: "\tnodePools: gpu: {minNodes: 0, maxNodes: 2, cpu: 8, memoryGiB: 16, gpuType: \"Tesla V100\"}\n\tnetwork: {",
			severity: diag.Error, rule: "label.value", message: `gpuType "Tesla V100" becomes the value of the node label and taint katonic.ai/gpu-type`},
		{name: "vmSize of AWS on azure-private", base: azure, old: `vmSize: "Standard_D8s_v3"`, new: `vmSize: "m5.2xlarge"`,
			severity: diag.Error, rule: "nodepool.vm-size-provider", message: `the compute pool's vmSize "m5.2xlarge" is a size of AWS, and this environment runs on Azure; "Standard_D8s_v3" has the same 8 vCPU and 32 GiB`, line: 11, col: 48},
		{name: "vmSize of Azure on AWS", base: cloud, old: "compute: {minNodes: 1, maxNodes: 20, cpu: 8, memoryGiB: 32}", new: `compute: {minNodes: 1, maxNodes: 20, vmSize: "Standard_D8s_v3"}`,
			severity: diag.Error, rule: "nodepool.vm-size-provider", message: `is a size of Azure, and this environment runs on AWS; "m5.2xlarge" has the same 8 vCPU and 32 GiB`},
		{name: "GPU vmSize without a match", base: azure, old: "\tnetwork: {", new: "\tnodePools: gpu: {minNodes: 0, maxNodes: 2, vmSize: \"p3.2xlarge\"}\n\tnetwork: {",
			severity: diag.Error, rule: "nodepool.vm-size-provider", message: `"p3.2xlarge" is a size of AWS, and this environment runs on Azure; give a size of Azure, or cpu and memoryGiB`},
		{name: "profile missing", base: cloud, old: "\tprofile:           \"cloud\"\n", new: "",
			severity: diag.Error, rule: "schema", message: "profile is missing", line: 3, col: 20},
		{name: "bad profile", base: cloud, old: `profile:           "cloud"`, new: `profile:           "edge"`,
			severity: diag.Error, rule: "schema", message: `"edge" is none of the values the schema allows ("azure-private", "cloud", "onprem")`, line: 4, col: 21},
		{name: "misspelt load balancer", base: cloud, old: `provider:          "aws"`, new: "provider:          \"aws\"\n\tloadBalancer:      \"internl\"",
			severity: diag.Error, rule: "schema", message: `"internl" is none of the values the schema allows ("external", "internal"): did you mean "internal"?`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.base
			if tc.old != "" {
				if !strings.Contains(body, tc.old) {
					t.Fatalf("test bug: %q not in base", tc.old)
				}
				body = strings.Replace(body, tc.old, tc.new, 1)
			}
			dir := testrepo.New(t, repoRoot, map[string]string{"environments/e.cue": body})
			repo, ld, err := load.Load(dir)
			if err != nil || len(ld) > 0 {
				t.Fatalf("load: %v %v", err, ld)
			}
			env, diags := validate.Environment(repo, repo.Envs[0], validate.Options{PlatformVersions: []string{"4.5", "5.0.9"}})
			if tc.noFindings {
				if len(diags) > 0 || env == nil {
					t.Fatalf("want no findings, got:\n%s", format(diags, dir))
				}
				return
			}
			for _, d := range diags {
				if d.Severity == tc.severity && d.Rule == tc.rule && strings.Contains(d.Message, tc.message) {
					if d.Source == "" && tc.rule != "schema" {
						t.Errorf("diagnostic has no source: %s", d.Format(dir))
					}
					if d.Path == "" || !strings.HasPrefix(d.Path, `environments.e`) {
						t.Errorf("diagnostic path %q does not start at the environment", d.Path)
					}
					if filepath.Base(d.Pos.Filename) != "e.cue" {
						t.Errorf("diagnostic not positioned in the environment file: %s", d.Format(dir))
					}
					if tc.line != 0 && (d.Pos.Line != tc.line || d.Pos.Column != tc.col) {
						t.Errorf("position %d:%d, want %d:%d: %s", d.Pos.Line, d.Pos.Column, tc.line, tc.col, d.Format(dir))
					}
					if (tc.severity == diag.Error) != (env == nil) {
						t.Errorf("errors must withhold the environment and warnings must not: env=%v", env != nil)
					}
					return
				}
			}
			t.Fatalf("no %s %s %q among:\n%s", tc.severity, tc.rule, tc.message, format(diags, dir))
		})
	}
}

func format(l diag.List, dir string) string {
	var b strings.Builder
	for _, d := range l {
		b.WriteString(d.Format(dir) + "\n")
	}
	return b.String()
}

// A mirror's password, query or fragment never appears in a diagnostic.
func TestMirrorCredentialsRedacted(t *testing.T) {
	for _, mirror := range []string{
		"https://admin:s3cret@charts.acme.example",
		"https://charts.acme.example/katonic?sig=s3cret",
		"https://charts.acme.example/katonic#s3cret",
		"https://admin:s3cret@charts.acme.example/?token=s3cret#s3cret",
		"https://admin:s3cret@charts.acme.example\\u001b/katonic", // not a URL Flux can fetch
		"https://admin:s3cret@[charts.acme.example/katonic",       // does not parse
	} {
		body := strings.Replace(cloud, "\tservices:", "\tcharts: mirror: \""+mirror+"\"\n\tservices:", 1)
		dir := testrepo.New(t, repoRoot, map[string]string{"environments/e.cue": body})
		repo, _, err := load.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, diags := validate.Environment(repo, repo.Envs[0], validate.Options{PlatformVersions: []string{"4.5", "5.0.9"}})
		if len(diags) == 0 {
			t.Fatalf("mirror %s passed", mirror)
		}
		for _, d := range diags {
			if strings.Contains(d.Format(dir), "s3cret") {
				t.Errorf("mirror %s: the secret is printed: %s", mirror, d.Format(dir))
			}
		}
	}
}
