package testrepo

import (
	"fmt"
	"strings"
)

// Fleet returns the files of n generated environments, fleet-0000 to
// fleet-<n-1>, cycling through FleetEnvs: "environments/<name>.cue" ->
// contents. Pass it to New, or write it next to a Seed.
func Fleet(n int) map[string]string {
	files := make(map[string]string, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("fleet-%04d", i)
		files["environments/"+name+".cue"] = strings.ReplaceAll(FleetEnvs[i%len(FleetEnvs)], "NAME", name)
	}
	return files
}

// FleetEnvs are environment templates for fleet tests and benchmarks, one
// per profile, with every optional service enabled (Superset and Airbyte;
// Longhorn is on by default on-prem). NAME stands for the environment name.
var FleetEnvs = []string{`package environments

environments: "NAME": {
	profile:           "cloud"
	provider:          "gcp"
	platformVersion:   "4.5"
	kubernetesVersion: "1.29.8"
	domain:            "NAME.fleet.example"
	loadBalancer:      "internal"
	nodePools: {
		platform: {minNodes: 3, maxNodes: 3, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 1, maxNodes: 20, cpu: 8, memoryGiB: 32}
		deployment: {minNodes: 1, maxNodes: 5, cpu: 8, memoryGiB: 32}
		gpu: {minNodes: 0, maxNodes: 4, cpu: 8, memoryGiB: 61, bootDiskGiB: 512, gpuType: "A100"}
	}
	services: {superset: enabled: true, airbyte: enabled: true}
}
`, `package environments

environments: "NAME": {
	profile:           "onprem"
	platformVersion:   "4.5"
	kubernetesVersion: "1.28.4"
	domain:            "NAME.fleet.example"
	nodePools: {
		master: {minNodes: 3, maxNodes: 3, cpu: 2, memoryGiB: 8}
		platform: {minNodes: 3, maxNodes: 3, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 2, maxNodes: 6, cpu: 8, memoryGiB: 32}
		deployment: {minNodes: 1, maxNodes: 4, cpu: 8, memoryGiB: 32}
		storage: {minNodes: 3, maxNodes: 3, cpu: 2, memoryGiB: 8}
	}
	identity: mode: "saml"
	services: {superset: enabled: true, airbyte: enabled: true}
}
`, `package environments

environments: "NAME": {
	profile:           "azure-private"
	platformVersion:   "5.0.9"
	kubernetesVersion: "1.29.5"
	domain:            "NAME.fleet.example"
	sharedStorage:     true
	nodePools: {
		platform: {minNodes: 2, maxNodes: 3, vmSize: "Standard_DS3_v2"}
		compute: {minNodes: 1, maxNodes: 10, vmSize: "Standard_D8s_v3"}
	}
	network: {
		vnetCIDR:           "10.20.0.0/16"
		clusterSubnetCIDR:  "10.20.0.0/23"
		jumphostSubnetCIDR: "10.20.8.0/29"
	}
	services: {superset: enabled: true, airbyte: enabled: true}
}
`}
