package fit

import (
	"github.com/katonic/katonic/internal/config"
)

// SrcReserve cites the system reserve that Allocatable subtracts
// (config.NodePool.Allocatable holds the figures).
const SrcReserve = "GKE \"Node allocatable resources\" and AKS \"Resource reservations\": kube-reserved CPU " +
	"(6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4) and memory (25% of the first 4 GiB, " +
	"20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above 128) plus a 100 MiB hard eviction threshold"

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// Allocatable returns what one node of pool p offers to pods, as
// millicores and bytes: config.NodePool.Allocatable, the one place the
// reserve tiers of SrcReserve live (the renderer sizes services from the
// same figures).
func Allocatable(p config.NodePool) (cpuMilli, memBytes int64) {
	a := p.Allocatable()
	return a.MilliCPU, a.MemoryMiB * mib
}
