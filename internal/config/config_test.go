package config

import "testing"

// The worked figures of Allocatable's docstring, and the tiers' edges.
func TestAllocatable(t *testing.T) {
	for _, tc := range []struct {
		cpu, memGiB int
		want        Allocatable
	}{
		{4, 16, Allocatable{MilliCPU: 3920, MemoryMiB: 13621}},       // seed 000 platform node
		{4, 14, Allocatable{MilliCPU: 3920, MemoryMiB: 11778}},       // Standard_DS3_v2 (seed 003)
		{8, 32, Allocatable{MilliCPU: 7910, MemoryMiB: 29022}},       // 32768 - ceil(1024+819.2+819.2+983.04) - 100
		{2, 8, Allocatable{MilliCPU: 1930, MemoryMiB: 6248}},         // 8192 - ceil(1024+819.2) - 100
		{1, 1, Allocatable{MilliCPU: 940, MemoryMiB: 668}},           // 1024 - 256 - 100
		{96, 1152, Allocatable{MilliCPU: 95690, MemoryMiB: 1149032}}, // p4d.24xlarge: the 2% tier
		{0, 0, Allocatable{}},
		{3, 0, Allocatable{MilliCPU: 2925}},       // 60 + 10 + 5
		{5, 0, Allocatable{MilliCPU: 4917}},       // 60 + 10 + 5 + 5 + 2.5, rounded up
		{4096, 0, Allocatable{MilliCPU: 4085690}}, // the schema's largest: 80 + 0.25% of 4,092 cores (10,230m)
	} {
		got := NodePool{CPU: tc.cpu, MemoryGiB: tc.memGiB}.Allocatable()
		if got != tc.want {
			t.Errorf("%d vCPU / %d GiB: Allocatable() = %+v, want %+v", tc.cpu, tc.memGiB, got, tc.want)
		}
	}
}
