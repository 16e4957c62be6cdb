// Package fit checks that what an environment installs fits the
// environment: every pod lands on one of its node pools and fits one node
// there, each pool holds the sum of its pods' requests at maxNodes, every
// volume claim names a StorageClass that exists and (on-prem) fits
// Longhorn's disks, every image is pinned and comes from where it should,
// and every Ingress path is served the way Istio serves it.
//
// It is pure: Decode turns Kubernetes objects (as decoded YAML) into plain
// data and Check applies the rules to an Input. internal/verify's fit layer
// feeds it the templated HelmReleases and the Flux Kustomizations' objects
// and positions the findings.
package fit

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"

	"github.com/katonic/katonic/internal/config"
)

// Rule ids of the findings.
const (
	RulePlacement     = "fit.placement"
	RulePodSize       = "fit.pod-size"
	RulePoolCapacity  = "fit.pool-capacity"
	RuleStorageClass  = "fit.storage-class"
	RuleStorageSize   = "fit.storage-size"
	RuleImageTag      = "fit.image-tag"
	RuleImageRegistry = "fit.image-registry"
	RuleImageMirror   = "fit.image-mirror"
	RuleIngressPath   = "fit.ingress-path"
	// RuleDecode is an object that does not decode into its Kubernetes
	// type, so that the other rules cannot read it.
	RuleDecode = "fit.decode"
)

// Sources of the rules.
const (
	SrcPlacement = "seed 000_3264e35a1f2fc576.txt, \"Node pool requirements\": each service's pods run on its node pool " +
		"(label katonic.ai/node-pool, taint of the pool); DaemonSets are node agents and run on every node"
	SrcRequests = "Kubernetes \"Resource Management for Pods and Containers\" and \"Init Containers\": the scheduler places a pod " +
		"on a node whose allocatable fits its effective request (per resource, the larger of the largest init container's " +
		"request and the sum of the app containers')"
	SrcStorageClass = "Kubernetes \"Storage Classes\": a claim naming a class that does not exist, or naming none where " +
		"there is no default class, stays Pending; Longhorn's class comes from its chart's templates/storageclass.yaml"
	SrcStorageSize = "Longhorn \"Settings Reference\": Storage Reserved Percentage For Default Disk (default 30) and " +
		"Default Replica Count (katonic sets 3): each volume takes replica count × its size of the storage nodes' disks"
	SrcImageTag = "Kubernetes \"Images\": an image without a tag is pulled as :latest, which moves under a running " +
		"installation; pin a tag or a digest"
	SrcImageRegistry = "katonic catalog: the image registries of each pinned chart"
	SrcImageMirror   = "environment images.mirror: an air-gapped installation pulls every image from the mirror"
	SrcIngressPath   = "Istio \"Kubernetes Ingress\": pathType Exact and ImplementationSpecific are exact matches, " +
		"so a path like / serves no /static/… or /api/…; use Prefix (VirtualService: prefix or regex, not exact)"
)

// longhornClass is the StorageClass the Longhorn chart creates. The chart
// ships it in a ConfigMap (templates/storageclass.yaml, longhorn 1.9.0)
// that longhorn-manager applies, not as a StorageClass object, so no
// templated object names it; with persistence.defaultClass (default true)
// it is the default class.
const longhornClass = "longhorn"

// longhornReserved is Longhorn's Storage Reserved Percentage For Default
// Disk (default 30): the share of each default disk it never schedules.
const longhornReserved = 0.30

// defaultLonghornReplicas is Longhorn's Default Replica Count as katonic
// renders it.
const defaultLonghornReplicas = 3

// Workload is a set of objects with one origin: a HelmRelease's templated
// chart, or one object of a Flux Kustomization.
type Workload struct {
	// Service is the services key that installs the objects ("" when
	// katonic does not know).
	Service string
	// Katonic marks a HelmRelease katonic renders: its pods must land on
	// Pools, the service's pools (render.Release.Pools), sorted.
	Katonic bool
	Pools   []config.Role
	// Registries are the image name prefixes the chart's images must start
	// with (catalog.Chart.Registries); empty skips fit.image-registry.
	Registries []string
	Objects
}

// Input is one environment and what it installs.
type Input struct {
	Env       *config.Environment
	Workloads []Workload
	// LonghornReplicas is Longhorn's default replica count as rendered
	// (defaultSettings.defaultReplicaCount); 0 means 3.
	LonghornReplicas int
}

// Finding is one rule broken.
type Finding struct {
	// Workload is the index in Input.Workloads of what broke the rule, or
	// -1 for the environment as a whole (a pool's or the storage's totals).
	Workload int
	// Field is the object field the finding is about, relative to the
	// object ("" for the whole object), for objects positioned themselves.
	Field        string
	Rule, Source string
	Message      string
}

// PoolTotal is one node pool's resources: per node and requested, in
// millicores of CPU and bytes of memory.
type PoolTotal struct {
	Pool     config.Role `json:"pool"`
	MinNodes int         `json:"minNodes"`
	MaxNodes int         `json:"maxNodes"`
	// NodeCPU and NodeMemory are one node's allocatable (capacity less the
	// system reserve, SrcReserve).
	NodeCPU    int64 `json:"nodeCPUMillis"`
	NodeMemory int64 `json:"nodeMemoryBytes"`
	// DaemonSetCPU and DaemonSetMemory are the requests of the DaemonSet
	// pods every node of the pool runs.
	DaemonSetCPU    int64 `json:"daemonSetCPUMillis"`
	DaemonSetMemory int64 `json:"daemonSetMemoryBytes"`
	// RequestedCPU and RequestedMemory sum replicas × effective request of
	// the other pods placed on the pool.
	RequestedCPU    int64 `json:"requestedCPUMillis"`
	RequestedMemory int64 `json:"requestedMemoryBytes"`
	// The pool's allocatable for those pods (n × (node − DaemonSets)) at
	// minNodes and at maxNodes.
	MinCPU    int64 `json:"allocatableCPUMillisAtMinNodes"`
	MinMemory int64 `json:"allocatableMemoryBytesAtMinNodes"`
	MaxCPU    int64 `json:"allocatableCPUMillisAtMaxNodes"`
	MaxMemory int64 `json:"allocatableMemoryBytesAtMaxNodes"`
}

// Summary is one line for a person: requested against allocatable at
// minNodes and maxNodes.
func (p PoolTotal) Summary() string {
	return fmt.Sprintf("node pool %s: pods request %s, %s; allocatable %s, %s at minNodes %d, %s, %s at maxNodes %d",
		p.Pool, cpu(p.RequestedCPU), mem(p.RequestedMemory),
		cpu(p.MinCPU), mem(p.MinMemory), p.MinNodes, cpu(p.MaxCPU), mem(p.MaxMemory), p.MaxNodes)
}

// Result is what Check found: the findings, in the order of the rules and
// of the workloads, and every pool's totals in config.Roles order.
type Result struct {
	Findings []Finding
	Pools    []PoolTotal
}

func cpu(milli int64) string { return fmt.Sprintf("%.2f vCPU", float64(milli)/1000) }
func mem(b int64) string     { return fmt.Sprintf("%.2f GiB", float64(b)/float64(gib)) }

type checker struct {
	in    Input
	res   Result
	pools map[config.Role]*PoolTotal
	// contrib is each workload's request on each pool, for the capacity
	// finding's largest contributors.
	contrib map[config.Role]map[int][2]int64
}

func (c *checker) add(w int, field, rule, source, format string, args ...any) {
	c.res.Findings = append(c.res.Findings, Finding{Workload: w, Field: field, Rule: rule, Source: source,
		Message: fmt.Sprintf(format, args...)})
}

// Check applies every rule of the package to in and returns the findings
// and the pools' totals. in.Env must hold the environment's node pools.
func Check(in Input) Result {
	c := &checker{in: in, pools: map[config.Role]*PoolTotal{}, contrib: map[config.Role]map[int][2]int64{}}
	for _, r := range config.Roles {
		p, ok := in.Env.NodePools[r]
		if !ok {
			continue
		}
		ac, am := Allocatable(p)
		c.pools[r] = &PoolTotal{Pool: r, MinNodes: p.MinNodes, MaxNodes: p.MaxNodes, NodeCPU: ac, NodeMemory: am}
		c.contrib[r] = map[int][2]int64{}
	}
	for i, w := range in.Workloads {
		for _, p := range w.Pods {
			c.pod(i, w, p)
		}
	}
	c.capacity()
	c.storage()
	for i, w := range in.Workloads {
		for _, p := range w.Pods {
			c.images(i, w, p)
		}
	}
	for i, w := range in.Workloads {
		c.routes(i, w)
	}
	for _, r := range config.Roles {
		if p := c.pools[r]; p != nil {
			c.res.Pools = append(c.res.Pools, *p)
		}
	}
	return c.res
}

// EffectiveRequest returns a pod's effective request in millicores and
// bytes, the Kubernetes rule (SrcRequests): per resource, the larger of
// the sum of the app containers' (and native sidecars') requests and the
// largest init container's request, each init container counting the
// sidecars started before it. Containers without requests count as zero.
func EffectiveRequest(cs []Container) (cpuMilli, memBytes int64) {
	var appCPU, appMem, initCPU, initMem, sideCPU, sideMem int64
	for _, c := range cs {
		cc, cm := c.CPU.MilliValue(), c.Memory.Value()
		switch {
		case c.Sidecar:
			initCPU, initMem = max(initCPU, sideCPU+cc), max(initMem, sideMem+cm)
			sideCPU, sideMem = sideCPU+cc, sideMem+cm
		case c.Init:
			initCPU, initMem = max(initCPU, sideCPU+cc), max(initMem, sideMem+cm)
		default:
			appCPU, appMem = appCPU+cc, appMem+cm
		}
	}
	return max(appCPU+sideCPU, initCPU), max(appMem+sideMem, initMem)
}

// selects reports whether a pod with sel and tols can run on pool r of p,
// and the first taint it does not tolerate.
func selects(sel map[string]string, tols []corev1.Toleration, r config.Role, p config.NodePool) (bool, *config.Taint) {
	labels := p.Labels(r)
	for k, v := range sel {
		if labels[k] != v {
			return false, nil
		}
	}
	for _, t := range p.Taints(r) {
		taint := corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)}
		if !slices.ContainsFunc(tols, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(klog.Background(), &taint, false) }) {
			return false, &t
		}
	}
	return true, nil
}

func roleNames(rs []config.Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

func (c *checker) envRoles() []config.Role {
	var rs []config.Role
	for _, r := range config.Roles {
		if _, ok := c.in.Env.NodePools[r]; ok {
			rs = append(rs, r)
		}
	}
	return rs
}

// pod runs fit.placement and fit.pod-size on one pod and adds its requests
// to its pool's totals.
func (c *checker) pod(i int, w Workload, p Pod) {
	rc, rm := EffectiveRequest(p.Containers)
	if p.NodeAgent != "" {
		for _, r := range config.Roles {
			if pool, ok := c.in.Env.NodePools[r]; ok {
				if ok, _ := selects(p.NodeSelector, p.Tolerations, r, pool); ok {
					c.size(i, p, r, rc, rm)
				}
			}
		}
		return
	}
	if p.DaemonSet {
		// Node agents (node-exporter, Longhorn's manager and CSI plugin) run
		// on every node they tolerate: exempt from placement, counted once
		// per node of each pool they can run on.
		for _, r := range config.Roles {
			pool, ok := c.in.Env.NodePools[r]
			if !ok {
				continue
			}
			if ok, _ := selects(p.NodeSelector, p.Tolerations, r, pool); !ok {
				continue
			}
			c.size(i, p, r, rc, rm)
			t := c.pools[r]
			t.DaemonSetCPU += rc
			t.DaemonSetMemory += rm
		}
		return
	}
	role, ok := c.placement(i, w, p)
	if !ok {
		return
	}
	c.size(i, p, role, rc, rm)
	n := int64(max(p.Replicas, 0))
	t := c.pools[role]
	t.RequestedCPU += n * rc
	t.RequestedMemory += n * rm
	v := c.contrib[role][i]
	c.contrib[role][i] = [2]int64{v[0] + n*rc, v[1] + n*rm}
}

// placement checks fit.placement and returns the pool the pod runs on.
func (c *checker) placement(i int, w Workload, p Pod) (config.Role, bool) {
	bad := func(format string, args ...any) (config.Role, bool) {
		c.add(i, p.Field+".nodeSelector", RulePlacement, SrcPlacement, "%s: "+format, append([]any{p.What}, args...)...)
		return "", false
	}
	if w.Katonic && len(w.Pools) == 0 {
		return bad("the chart renders a pod but katonic places none of service %s's pods", w.Service)
	}
	sel := p.NodeSelector[config.PoolLabelKey]
	if sel == "" {
		if w.Katonic {
			return bad("pod is not placed: %s.nodeSelector has no %s; service %s belongs on node pool %s",
				p.Field, config.PoolLabelKey, w.Service, roleNames(w.Pools))
		}
		return bad("pod is not placed: %s.nodeSelector has no %s; it must select one of the node pools %s",
			p.Field, config.PoolLabelKey, roleNames(c.envRoles()))
	}
	role := config.Role(sel)
	if w.Katonic && !slices.Contains(w.Pools, role) {
		return bad("pod selects node pool %s; service %s belongs on node pool %s", sel, w.Service, roleNames(w.Pools))
	}
	pool, ok := c.in.Env.NodePools[role]
	if !ok {
		return bad("pod selects node pool %s, which environment %s does not have", sel, c.in.Env.Name)
	}
	if ok, t := selects(p.NodeSelector, p.Tolerations, role, pool); !ok {
		if t == nil {
			return bad("pod's nodeSelector matches no node of node pool %s (its nodes carry %v)", sel, pool.Labels(role))
		}
		c.add(i, p.Field+".tolerations", RulePlacement, SrcPlacement,
			"%s: pod does not tolerate taint %s=%s:%s of node pool %s, so it never schedules", p.What, t.Key, t.Value, t.Effect, sel)
		return "", false
	}
	return role, true
}

// size checks fit.pod-size: the pod's effective request fits one node of
// pool r.
func (c *checker) size(i int, p Pod, r config.Role, rc, rm int64) {
	t := c.pools[r]
	pool := c.in.Env.NodePools[r]
	over := func(res, got, have, largest string) {
		c.add(i, p.Field+".containers", RulePodSize, SrcRequests+"; "+SrcReserve,
			"%s: pod requests %s of %s (largest: %s), more than the %s allocatable on one node of node pool %s "+
				"(%d vCPU, %d GiB less the system reserve), so it never schedules",
			p.What, got, res, largest, have, r, pool.CPU, pool.MemoryGiB)
	}
	if rc > t.NodeCPU {
		over("CPU", cpu(rc), cpu(t.NodeCPU), largest(p.Containers, func(c Container) resource.Quantity { return c.CPU }))
	}
	if rm > t.NodeMemory {
		over("memory", mem(rm), mem(t.NodeMemory), largest(p.Containers, func(c Container) resource.Quantity { return c.Memory }))
	}
}

// largest names the container with the largest request of a resource.
func largest(cs []Container, q func(Container) resource.Quantity) string {
	best := -1
	for i, c := range cs {
		a, b := q(c), q(cs[max(best, 0)])
		if best < 0 || a.Cmp(b) > 0 {
			best = i
		}
	}
	if best < 0 {
		return "no container"
	}
	qq := q(cs[best])
	return fmt.Sprintf("container %s requests %s", cs[best].Name, qq.String())
}

// capacity checks fit.pool-capacity for every pool at maxNodes.
func (c *checker) capacity() {
	for _, r := range config.Roles {
		t := c.pools[r]
		if t == nil {
			continue
		}
		perCPU, perMem := max(t.NodeCPU-t.DaemonSetCPU, 0), max(t.NodeMemory-t.DaemonSetMemory, 0)
		t.MinCPU, t.MinMemory = int64(t.MinNodes)*perCPU, int64(t.MinNodes)*perMem
		t.MaxCPU, t.MaxMemory = int64(t.MaxNodes)*perCPU, int64(t.MaxNodes)*perMem
		over := func(res string, got, have, ds int64, f func(int64) string, idx int) {
			// The largest contributors, for the user to look at first.
			ws := make([]int, 0, len(c.contrib[r]))
			for w := range c.contrib[r] {
				ws = append(ws, w)
			}
			slices.SortFunc(ws, func(a, b int) int {
				return cmp.Or(cmp.Compare(c.contrib[r][b][idx], c.contrib[r][a][idx]), cmp.Compare(a, b))
			})
			var top []string
			for _, w := range ws[:min(3, len(ws))] {
				name := c.in.Workloads[w].Service
				if name == "" {
					name = "objects of the Flux Kustomizations"
				}
				top = append(top, fmt.Sprintf("%s %s", name, f(c.contrib[r][w][idx])))
			}
			c.add(-1, "", RulePoolCapacity, SrcRequests+"; "+SrcReserve,
				"environment %s, node pool %s: its pods request %s of %s, more than the %s allocatable at maxNodes %d "+
					"(%d × %s per node after the system reserve and %s of DaemonSets); largest: %s; raise maxNodes or the node size, or lower the requests",
				c.in.Env.Name, r, f(got), res, f(have), t.MaxNodes, t.MaxNodes, f(t.nodeOf(idx)), f(ds), strings.Join(top, ", "))
		}
		if t.RequestedCPU > t.MaxCPU {
			over("CPU", t.RequestedCPU, t.MaxCPU, t.DaemonSetCPU, cpu, 0)
		}
		if t.RequestedMemory > t.MaxMemory {
			over("memory", t.RequestedMemory, t.MaxMemory, t.DaemonSetMemory, mem, 1)
		}
	}
}

func (p *PoolTotal) nodeOf(idx int) int64 {
	if idx == 0 {
		return p.NodeCPU
	}
	return p.NodeMemory
}
