package fit

import (
	"slices"
	"strings"

	"github.com/katonic/katonic/internal/config"
)

// StorageClasses returns the StorageClass names that exist in in's
// environment, sorted, and whether it has a default class: the classes
// its objects create; on-prem with services.storage, Longhorn's
// "longhorn" (created from a ConfigMap by its chart, the default class);
// on the cloud profile the provider's default class, which has no name
// katonic can check.
func StorageClasses(in Input) (names []string, hasDefault bool) {
	for _, w := range in.Workloads {
		for _, n := range w.StorageClasses {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		hasDefault = hasDefault || w.DefaultClass
	}
	if in.Env.Profile == config.ProfileOnPrem && in.Env.Enabled("storage") {
		if !slices.Contains(names, longhornClass) {
			names = append(names, longhornClass)
		}
		hasDefault = true
	}
	if in.Env.Profile == config.ProfileCloud {
		hasDefault = true
	}
	slices.Sort(names)
	return names, hasDefault
}

// storage checks fit.storage-class for every claim and, on-prem with
// Longhorn, fit.storage-size for their sum.
func (c *checker) storage() {
	names, hasDefault := StorageClasses(c.in)
	have := strings.Join(names, ", ")
	if have == "" {
		have = "none"
	}
	var total int64
	for i, w := range c.in.Workloads {
		for _, cl := range w.Claims {
			total += int64(max(cl.Count, 0)) * cl.Size.Value()
			switch {
			case cl.StorageClass == "" && !hasDefault:
				c.add(i, "", RuleStorageClass, SrcStorageClass,
					"%s: the claim names no StorageClass and environment %s has no default class (on-prem, the default class is Longhorn's, services.storage); it stays Pending",
					cl.What, c.in.Env.Name)
			case cl.StorageClass != "" && !slices.Contains(names, cl.StorageClass):
				c.add(i, "", RuleStorageClass, SrcStorageClass,
					"%s: the claim names StorageClass %q, which environment %s does not have (classes: %s); it stays Pending",
					cl.What, cl.StorageClass, c.in.Env.Name, have)
			}
		}
	}
	if c.in.Env.Profile != config.ProfileOnPrem || !c.in.Env.Enabled("storage") {
		return
	}
	pool, ok := c.in.Env.NodePools[config.RoleStorage]
	if !ok {
		return
	}
	replicas := c.in.LonghornReplicas
	if replicas <= 0 {
		replicas = defaultLonghornReplicas
	}
	usable := StorageCapacity(pool, replicas)
	if total > usable {
		c.add(-1, "", RuleStorageSize, SrcStorageSize,
			"environment %s: the volume claims request %s, more than the %s Longhorn can provision on the storage pool at minNodes "+
				"(%d nodes × %d GiB disk, less %.0f%% reserved, ÷ %d replicas); raise the storage pool's minNodes or bootDiskGiB, or lower the claims",
			c.in.Env.Name, mem(total), mem(usable), pool.MinNodes, pool.BootDiskGiB, longhornReserved*100, replicas)
	}
}

// StorageCapacity returns the bytes Longhorn can provision on pool at
// minNodes with replicas replicas per volume: minNodes × bootDiskGiB GiB,
// less the 30% Storage Reserved Percentage For Default Disk, divided by
// replicas (SrcStorageSize). It returns 0 for replicas ≤ 0.
func StorageCapacity(pool config.NodePool, replicas int) int64 {
	if replicas <= 0 {
		return 0
	}
	raw := int64(pool.MinNodes) * int64(pool.BootDiskGiB) * gib
	return int64(float64(raw)*(1-longhornReserved)) / int64(replicas)
}
