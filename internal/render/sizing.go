package render

import (
	"fmt"

	"github.com/katonic/katonic/internal/config"
)

// Sizing of the platform's stateful services, from the environment's pools
// and storage rather than the charts' defaults (MinIO's chart asks for 16 GiB
// of memory and a 500 GiB volume, more than a seed 000 platform node has).
//
// Requests are shares of what one platform node offers to pods
// (config.NodePool.Allocatable), with a floor below which the service does
// not run well; the shares of all services together stay under half a node,
// so the platform pool's minimum of two nodes holds them with room for the
// stateless services and a node's loss. Memory limits are twice the
// request; CPU is not limited (Kubernetes' own advice for latency).
//
// Volumes: on the cloud and azure-private profiles the provider's disks
// grow on demand, so each volume has a fixed size. On-prem, volumes live on
// Longhorn on the storage pool, whose usable space is
// storageCapacityGiB; each volume gets a share of it, so the platform's
// volumes always fit the disks the environment declares.
//
// The figures are the table in docs/sizing.md; change both together.
type sizing struct {
	memShare, cpuShare int // per cent of one platform node's allocatable memory and CPU
	memFloorMiB        int64
	cpuFloorMilli      int64
	volumeGiB          int // volume on cloud and azure-private; 0 = none
	volumeShare        int // per cent of the on-prem storage capacity; 0 = none
}

// sizes is the table of docs/sizing.md, by release name.
var sizes = map[string]sizing{
	svcPostgres:    {memShare: 8, cpuShare: 5, memFloorMiB: 512, cpuFloorMilli: 250, volumeGiB: 20, volumeShare: 10},
	svcMongoDB:     {memShare: 8, cpuShare: 5, memFloorMiB: 512, cpuFloorMilli: 250, volumeGiB: 20, volumeShare: 10},
	svcRedis:       {memShare: 3, cpuShare: 2, memFloorMiB: 256, cpuFloorMilli: 100, volumeGiB: 8, volumeShare: 2},
	svcKeycloak:    {memShare: 10, cpuShare: 8, memFloorMiB: 1024, cpuFloorMilli: 500},
	svcFileManager: {memShare: 8, cpuShare: 5, memFloorMiB: 1024, cpuFloorMilli: 250, volumeGiB: 100, volumeShare: 30},
	svcMLflowMinIO: {memShare: 6, cpuShare: 4, memFloorMiB: 1024, cpuFloorMilli: 250, volumeGiB: 50, volumeShare: 20},
	svcMonitoring:  {memShare: 12, cpuShare: 8, memFloorMiB: 1024, cpuFloorMilli: 250, volumeGiB: 50, volumeShare: 10},
}

// Longhorn's figures for the usable space of the storage pool (Longhorn
// settings reference: "Storage Reserved Percentage For Default Disk",
// default 30; the default disk is /var/lib/longhorn on the node's disk).
const longhornReservedPercent = 30

// storageCapacityGiB is the space the on-prem storage pool offers to
// volumes: minNodes × bootDiskGiB, less Longhorn's reserve, divided by the
// replica count (every volume is stored longhornReplicas times). 0 when the
// environment has no storage pool.
func storageCapacityGiB(env *config.Environment) int {
	pool, ok := env.NodePools[config.RoleStorage]
	if !ok {
		return 0
	}
	return pool.MinNodes * pool.BootDiskGiB * (100 - longhornReservedPercent) / 100 / longhornReplicas
}

// resources returns the Kubernetes resources block of release name:
// requests from its share of a platform node, memory limit twice the
// request.
func (r *renderer) resources(name string) map[string]any {
	s := sizes[name]
	a := r.env.NodePools[config.RolePlatform].Allocatable()
	mem := max(a.MemoryMiB*int64(s.memShare)/100, s.memFloorMiB)
	cpu := max(a.MilliCPU*int64(s.cpuShare)/100/10*10, s.cpuFloorMilli)
	return map[string]any{
		"requests": map[string]any{"cpu": fmt.Sprintf("%dm", cpu), "memory": fmt.Sprintf("%dMi", mem)},
		"limits":   map[string]any{"memory": fmt.Sprintf("%dMi", 2*mem)},
	}
}

// volumeSize returns the volume size of release name, as a quantity
// ("20Gi"): its share of the storage pool on-prem (at least 1 GiB), its
// fixed size elsewhere.
func (r *renderer) volumeSize(name string) string {
	s := sizes[name]
	gib := s.volumeGiB
	if r.env.Profile == config.ProfileOnPrem && r.env.Enabled(svcStorage) {
		gib = max(storageCapacityGiB(r.env)*s.volumeShare/100, 1)
	}
	return fmt.Sprintf("%dGi", gib)
}
