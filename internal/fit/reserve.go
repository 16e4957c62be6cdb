package fit

import (
	"math"

	"github.com/katonic/katonic/internal/config"
)

// SrcReserve cites the system reserve that Allocatable subtracts.
const SrcReserve = "GKE \"Node allocatable resources\" and AKS \"Resource reservations\": kube-reserved CPU " +
	"(6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4) and memory (25% of the first 4 GiB, " +
	"20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above 128) plus a 100 MiB hard eviction threshold"

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// tier is one band of a reserve table: the next size units (millicores or
// bytes) of a node are reserved at rate.
type tier struct {
	size float64
	rate float64
}

// The kube-reserved tables of GKE ("Node allocatable resources") and AKS
// ("Resource reservations", the same tiers since AKS 1.29 for memory, and
// for CPU on every version). CPU bands are in millicores, memory bands in
// bytes; the last band of each is unbounded. They are the one place these
// figures live: change them here.
var (
	cpuReserve = []tier{{1000, 0.06}, {1000, 0.01}, {2000, 0.005}, {math.Inf(1), 0.0025}}
	memReserve = []tier{{float64(4 * gib), 0.25}, {float64(4 * gib), 0.20}, {float64(8 * gib), 0.10},
		{float64(112 * gib), 0.06}, {math.Inf(1), 0.02}}
	// evictionHard is the kubelet's memory.available hard eviction
	// threshold that GKE and AKS add to the memory reserve.
	evictionHard = 100 * mib
)

func reserved(capacity float64, tiers []tier) float64 {
	var r float64
	for _, t := range tiers {
		if capacity <= 0 {
			break
		}
		n := math.Min(capacity, t.size)
		r += n * t.rate
		capacity -= n
	}
	return r
}

// Reserve returns the system reserve of a node with cpu vCPU and memGiB GiB
// of memory: the kube-reserved CPU in millicores (rounded up) and the
// kube-reserved memory plus the 100 MiB hard eviction threshold in bytes
// (rounded up), from the tiers of SrcReserve. A 4 vCPU, 16 GiB node
// reserves 80 millicores and 2.6 GiB + 100 MiB.
func Reserve(cpu, memGiB int) (cpuMilli, memBytes int64) {
	c := reserved(float64(cpu)*1000, cpuReserve)
	m := reserved(float64(int64(memGiB)*gib), memReserve)
	return int64(math.Ceil(c)), int64(math.Ceil(m)) + evictionHard
}

// Allocatable returns what one node of pool p offers to pods: its capacity
// (p.CPU vCPU, p.MemoryGiB GiB) less Reserve, as millicores and bytes,
// never below zero.
func Allocatable(p config.NodePool) (cpuMilli, memBytes int64) {
	rc, rm := Reserve(p.CPU, p.MemoryGiB)
	return max(int64(p.CPU)*1000-rc, 0), max(int64(p.MemoryGiB)*gib-rm, 0)
}
