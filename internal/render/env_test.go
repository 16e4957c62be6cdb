package render

import "github.com/katonic/katonic/internal/config"

// serviceNamespaces is every services key with its fixed namespace (seed 001).
var testNamespaces = map[string]string{
	"istio": "istio-system", "katonic-ui": "application", "katonic-api": "application",
	"mongodb": "application", "postgres": "application", "redis": "application",
	"file-manager": "default", "keycloak": "keycloak", "mlflow": "mlflow", "mlflow-minio": "mlflow",
	"monitoring": "monitoring", "pipelines": "kubeflow", "superset": "superset", "airbyte": "airbyte",
	"storage": "longhorn-system",
}

// testEnv builds a complete, valid environment of profile p with every
// service (add-ons included) enabled.
func testEnv(name string, p config.Profile) *config.Environment {
	env := &config.Environment{
		Name:              name,
		File:              "environments/" + name + ".cue",
		Profile:           p,
		PlatformVersion:   "5.0.9",
		KubernetesVersion: "1.29.5",
		Domain:            name + ".example.com",
		LoadBalancer:      "external",
		Identity:          config.Identity{Mode: "local"},
		Services:          map[string]config.Service{},
		NodePools: map[config.Role]config.NodePool{
			config.RolePlatform:   {MinNodes: 2, MaxNodes: 3, CPU: 4, MemoryGiB: 16, BootDiskGiB: 128},
			config.RoleCompute:    {MinNodes: 1, MaxNodes: 10, CPU: 8, MemoryGiB: 32, BootDiskGiB: 128},
			config.RoleDeployment: {MinNodes: 1, MaxNodes: 5, CPU: 8, MemoryGiB: 32, BootDiskGiB: 128},
		},
	}
	switch p {
	case config.ProfileCloud:
		env.Provider = "aws"
		env.KubernetesVersion = "1.27.9"
	case config.ProfileOnPrem:
		env.PlatformVersion = "4.5"
		env.KubernetesVersion = "1.25.16"
		env.NodePools[config.RoleMaster] = config.NodePool{MinNodes: 1, MaxNodes: 3, CPU: 2, MemoryGiB: 8, BootDiskGiB: 128}
		env.NodePools[config.RoleStorage] = config.NodePool{MinNodes: 3, MaxNodes: 3, CPU: 2, MemoryGiB: 8, BootDiskGiB: 128}
	case config.ProfileAzurePrivate:
		env.Domain = name + ".katonic.ai"
		env.LoadBalancer = "internal"
		env.SharedStorage = true
		env.Network = &config.Network{VNetCIDR: "10.0.0.0/16", ClusterSubnetCIDR: "10.0.0.0/23", JumphostSubnetCIDR: "10.0.2.0/29"}
		env.NodePools[config.RoleGPU] = config.NodePool{MinNodes: 0, MaxNodes: 2, CPU: 6, MemoryGiB: 112, BootDiskGiB: 512, VMSize: "Standard_NC6s_v3", GPUType: "v100", GPUCount: 1}
		delete(env.NodePools, config.RoleDeployment)
	}
	for k, ns := range testNamespaces {
		env.Services[k] = config.Service{Enabled: k != "storage" || p == config.ProfileOnPrem, Namespace: ns}
	}
	return env
}
