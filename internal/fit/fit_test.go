package fit

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/katonic/katonic/internal/config"
)

// The reserve tiers are config.NodePool.Allocatable's (tested there);
// Allocatable gives them in millicores and bytes.
func TestAllocatable(t *testing.T) {
	ac, am := Allocatable(config.NodePool{CPU: 4, MemoryGiB: 16})
	if ac != 3920 || am != 13621*mib {
		t.Errorf("Allocatable(4 vCPU, 16 GiB) = %dm, %d bytes; want 3920m, %d", ac, am, 13621*mib)
	}
}

func q(s string) resource.Quantity { return resource.MustParse(s) }

func TestEffectiveRequest(t *testing.T) {
	app := func(c, m string) Container { return Container{CPU: q(c), Memory: q(m)} }
	initc := func(c, m string) Container { return Container{Init: true, CPU: q(c), Memory: q(m)} }
	side := func(c, m string) Container { return Container{Init: true, Sidecar: true, CPU: q(c), Memory: q(m)} }
	cases := []struct {
		name   string
		cs     []Container
		cpu    int64
		memMiB int64
	}{
		{"sum of app containers", []Container{app("500m", "1Gi"), app("250m", "512Mi")}, 750, 1536},
		{"init larger than the sum", []Container{initc("2", "64Mi"), app("500m", "1Gi"), app("250m", "512Mi")}, 2000, 1536},
		{"largest init, not their sum", []Container{initc("1", "3Gi"), initc("1", "1Gi"), app("100m", "1Gi")}, 1000, 3072},
		{"no requests count as zero", []Container{{}, app("100m", "0")}, 100, 0},
		{"sidecar adds to the apps and to later inits", []Container{side("100m", "100Mi"), initc("1", "1Gi"), app("200m", "200Mi")}, 1100, 1124},
	}
	for _, c := range cases {
		gc, gm := EffectiveRequest(c.cs)
		if gc != c.cpu || gm != c.memMiB*mib {
			t.Errorf("%s: got %dm, %d MiB; want %dm, %d MiB", c.name, gc, gm/mib, c.cpu, c.memMiB)
		}
	}
}

// env has a tainted platform pool, an untainted compute pool and a gpu
// pool with two taints.
func env() *config.Environment {
	return &config.Environment{Name: "e", Profile: config.ProfileCloud, Domain: "k.example",
		NodePools: map[config.Role]config.NodePool{
			config.RolePlatform: {MinNodes: 2, MaxNodes: 3, CPU: 4, MemoryGiB: 16},
			config.RoleCompute:  {MinNodes: 1, MaxNodes: 2, CPU: 8, MemoryGiB: 32},
			config.RoleGPU:      {MinNodes: 1, MaxNodes: 1, CPU: 8, MemoryGiB: 32, GPUType: "a100", GPUCount: 1},
		},
		Services: map[string]config.Service{"superset": {Enabled: true}},
	}
}

func placed(role string, tols ...corev1.Toleration) Pod {
	return Pod{What: "chart c 1.0.0: Deployment/x", Kind: "Deployment", Field: "spec.template.spec", Replicas: 1,
		NodeSelector: map[string]string{config.PoolLabelKey: role}, Tolerations: tols,
		Containers: []Container{{Name: "app", Image: "docker.io/acme/app:1"}}}
}

var (
	tolPlatform = corev1.Toleration{Key: config.PoolLabelKey, Operator: "Equal", Value: "platform", Effect: "NoSchedule"}
	tolAll      = corev1.Toleration{Operator: "Exists"}
	tolNvidia   = corev1.Toleration{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}
)

// check runs Check over one workload and returns the messages of rule.
func check(t *testing.T, e *config.Environment, w Workload, rule string) []string {
	t.Helper()
	res := Check(Input{Env: e, Workloads: []Workload{w}})
	var out []string
	for _, f := range res.Findings {
		if f.Rule == rule {
			out = append(out, f.Message)
		}
	}
	return out
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("want %d findings %q, got %q", len(want), want, got)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("finding %q, want %q", got[i], w)
		}
	}
}

func TestPlacement(t *testing.T) {
	katonic := func(pools ...config.Role) Workload {
		return Workload{Service: "svc", Katonic: true, Pools: pools}
	}
	noSel := placed("")
	noSel.NodeSelector = nil
	ds := noSel
	ds.Kind, ds.DaemonSet = "DaemonSet", true
	cron := noSel
	cron.Kind, cron.Field = "CronJob", "spec.jobTemplate.spec.template.spec"
	cases := []struct {
		name string
		w    Workload
		p    Pod
		want []string
	}{
		{"placed", katonic(config.RolePlatform), placed("platform", tolPlatform), nil},
		{"Exists tolerates every taint", katonic(config.RolePlatform), placed("platform", tolAll), nil},
		{"DaemonSet exempt", katonic(config.RolePlatform), ds, nil},
		{"no selector", katonic(config.RolePlatform), noSel, []string{"chart c 1.0.0: Deployment/x: pod is not placed: spec.template.spec.nodeSelector has no katonic.ai/node-pool; service svc belongs on node pool platform"}},
		{"CronJob no selector", katonic(config.RolePlatform), cron, []string{"spec.jobTemplate.spec.template.spec.nodeSelector has no"}},
		{"taint not tolerated", katonic(config.RolePlatform), placed("platform"), []string{"does not tolerate taint katonic.ai/node-pool=platform:NoSchedule"}},
		{"wrong pool", katonic(config.RolePlatform), placed("compute"), []string{"selects node pool compute; service svc belongs on node pool platform"}},
		{"one of two pools, untainted", katonic(config.RoleCompute, config.RolePlatform), placed("compute"), nil},
		{"gpu, one taint of two tolerated", katonic(config.RoleGPU), placed("gpu", tolNvidia), []string{"does not tolerate taint katonic.ai/gpu-type=a100:NoSchedule"}},
		{"pool the environment lacks", katonic(config.RoleStorage), placed("storage"), []string{"selects node pool storage, which environment e does not have"}},
		{"pods where katonic places none", katonic(), placed("platform", tolPlatform), []string{"katonic places none"}},
		{"not katonic's: any pool", Workload{}, placed("compute"), nil},
		{"not katonic's: unplaced", Workload{}, noSel, []string{"it must select one of the node pools platform or compute or gpu"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.w.Pods = []Pod{c.p}
			expect(t, check(t, env(), c.w, RulePlacement), c.want...)
		})
	}
}

func TestPodSize(t *testing.T) {
	w := Workload{Service: "minio", Katonic: true, Pools: []config.Role{config.RolePlatform}}
	big := placed("platform", tolPlatform)
	big.Containers = []Container{{Name: "minio", Memory: q("16Gi"), CPU: q("500m")}}
	fits := placed("platform", tolPlatform)
	fits.Containers = []Container{{Name: "minio", Memory: q("13Gi"), CPU: q("3900m")}}
	cpu := placed("platform", tolPlatform)
	cpu.Containers = []Container{{Name: "a", CPU: q("2")}, {Name: "b", CPU: q("2")}}
	initBig := placed("platform", tolPlatform)
	initBig.Containers = []Container{{Name: "setup", Init: true, CPU: q("4")}, {Name: "a", CPU: q("100m")}}
	ds := placed("")
	ds.NodeSelector, ds.DaemonSet, ds.Tolerations = nil, true, []corev1.Toleration{tolAll}
	ds.Containers = []Container{{Name: "agent", Memory: q("20Gi")}}
	cases := []struct {
		name string
		p    Pod
		want []string
	}{
		{"16Gi on a 16 GiB node", big, []string{"pod requests 16.00 GiB of memory (largest: container minio requests 16Gi), more than the 13.30 GiB allocatable on one node of node pool platform (4 vCPU, 16 GiB less the system reserve)"}},
		{"fits", fits, nil},
		{"sum of containers over 3.92 vCPU", cpu, []string{"pod requests 4.00 vCPU of CPU"}},
		{"init container over 3.92 vCPU", initBig, []string{"pod requests 4.00 vCPU of CPU (largest: container setup requests 4)"}},
		// 20 GiB fits the 32 GiB compute and gpu nodes, not the platform's.
		{"DaemonSet on every pool it tolerates", ds, []string{"node pool platform"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.Pods = []Pod{c.p}
			expect(t, check(t, env(), w, RulePodSize), c.want...)
		})
	}
}

func TestPoolCapacity(t *testing.T) {
	p := placed("platform", tolPlatform)
	p.Containers = []Container{{Name: "app", CPU: q("3500m"), Memory: q("4Gi")}}
	ds := placed("")
	ds.NodeSelector, ds.DaemonSet, ds.Tolerations = nil, true, []corev1.Toleration{tolAll}
	ds.Containers = []Container{{Name: "agent", CPU: q("500m"), Memory: q("1Gi")}}
	for _, c := range []struct {
		name     string
		replicas int
		pods     []Pod
		want     []string
	}{
		// 3 nodes × 3.92 vCPU = 11.76 vCPU.
		{"three replicas fit", 3, []Pod{p}, nil},
		{"four do not", 4, []Pod{p}, []string{"environment e, node pool platform: its pods request 14.00 vCPU of CPU, more than the 11.76 vCPU allocatable at maxNodes 3 (3 × 3.92 vCPU per node after the system reserve and 0.00 vCPU of DaemonSets); largest: svc 14.00 vCPU"}},
		// A DaemonSet takes 0.5 vCPU of each node: 3 × 3.42 = 10.26.
		{"a DaemonSet takes its share of every node", 3, []Pod{p, ds}, []string{"more than the 10.26 vCPU allocatable at maxNodes 3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pods := append([]Pod(nil), c.pods...)
			pods[0].Replicas = c.replicas
			w := Workload{Service: "svc", Katonic: true, Pools: []config.Role{config.RolePlatform}, Objects: Objects{Pods: pods}}
			expect(t, check(t, env(), w, RulePoolCapacity), c.want...)
		})
	}
	res := Check(Input{Env: env(), Workloads: []Workload{{Service: "svc", Katonic: true, Pools: []config.Role{config.RolePlatform}, Objects: Objects{Pods: []Pod{p}}}}})
	if len(res.Pools) != 3 || res.Pools[0].Pool != config.RolePlatform || res.Pools[0].RequestedCPU != 3500 ||
		res.Pools[0].MinCPU != 2*3920 || res.Pools[0].MaxCPU != 3*3920 {
		t.Errorf("pools = %+v", res.Pools)
	}
	if s := res.Pools[0].Summary(); s != "node pool platform: pods request 3.50 vCPU, 4.00 GiB; allocatable 7.84 vCPU, 26.60 GiB at minNodes 2, 11.76 vCPU, 39.91 GiB at maxNodes 3" {
		t.Errorf("summary %q", s)
	}
}

func TestStorageClass(t *testing.T) {
	claim := func(class string) Claim {
		return Claim{What: "PersistentVolumeClaim/data", StorageClass: class, Size: q("10Gi"), Count: 1}
	}
	onprem := func(storage bool) *config.Environment {
		e := env()
		e.Profile = config.ProfileOnPrem
		e.Services = map[string]config.Service{"storage": {Enabled: storage}}
		e.NodePools[config.RoleStorage] = config.NodePool{MinNodes: 3, MaxNodes: 3, CPU: 8, MemoryGiB: 32, BootDiskGiB: 500}
		return e
	}
	azure := env()
	azure.Profile = config.ProfileAzurePrivate
	cases := []struct {
		name    string
		e       *config.Environment
		classes []string
		def     bool
		c       Claim
		want    []string
	}{
		{"cloud default", env(), nil, false, claim(""), nil},
		{"cloud named, not rendered", env(), nil, false, claim("gp3"), []string{`names StorageClass "gp3", which environment e does not have (classes: none)`}},
		{"rendered class", azure, []string{"kfs"}, true, claim("kfs"), nil},
		{"azure default kfs", azure, []string{"kfs"}, true, claim(""), nil},
		{"azure typo", azure, []string{"kfs"}, true, claim("kfs-shared"), []string{"(classes: kfs)"}},
		{"onprem longhorn", onprem(true), nil, false, claim("longhorn"), nil},
		{"onprem longhorn default", onprem(true), nil, false, claim(""), nil},
		{"onprem without storage, default", onprem(false), nil, false, claim(""), []string{"names no StorageClass and environment e has no default class"}},
		{"onprem without storage, longhorn", onprem(false), nil, false, claim("longhorn"), []string{`names StorageClass "longhorn"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := Workload{Objects: Objects{Claims: []Claim{c.c}, StorageClasses: c.classes, DefaultClass: c.def}}
			expect(t, check(t, c.e, w, RuleStorageClass), c.want...)
		})
	}
}

func TestStorageSize(t *testing.T) {
	e := env()
	e.Profile = config.ProfileOnPrem
	e.Services = map[string]config.Service{"storage": {Enabled: true}}
	e.NodePools[config.RoleStorage] = config.NodePool{MinNodes: 3, MaxNodes: 5, CPU: 8, MemoryGiB: 32, BootDiskGiB: 100}
	// 3 × 100 GiB × 0.7 ÷ 3 = 70 GiB.
	if got := StorageCapacity(e.NodePools[config.RoleStorage], 3); got != 70*gib {
		t.Errorf("StorageCapacity = %d, want 70 GiB", got)
	}
	for _, c := range []struct {
		name     string
		size     string
		count    int
		replicas int
		want     []string
	}{
		{"fits", "10Gi", 7, 0, nil},
		{"over", "10Gi", 8, 0, []string{"environment e: the volume claims request 80.00 GiB, more than the 70.00 GiB Longhorn can provision on the storage pool at minNodes (3 nodes × 100 GiB disk, less 30% reserved, ÷ 3 replicas)"}},
		{"two replicas", "10Gi", 8, 2, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := Workload{Objects: Objects{Claims: []Claim{{What: "c", StorageClass: "longhorn", Size: q(c.size), Count: c.count}}}}
			res := Check(Input{Env: e, Workloads: []Workload{w}, LonghornReplicas: c.replicas})
			var got []string
			for _, f := range res.Findings {
				if f.Rule == RuleStorageSize {
					got = append(got, f.Message)
				}
			}
			expect(t, got, c.want...)
		})
	}
}

func TestImages(t *testing.T) {
	pod := func(images ...string) Pod {
		p := placed("compute")
		p.Containers = nil
		for _, im := range images {
			p.Containers = append(p.Containers, Container{Name: "c", Image: im})
		}
		return p
	}
	mirrored := env()
	mirrored.Images.Mirror = "registry.acme.example/katonic"
	regs := []string{"quay.io/minio", "docker.io/library/busybox"}
	cases := []struct {
		name string
		e    *config.Environment
		p    Pod
		rule string
		want []string
	}{
		{"tag", env(), pod("quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z"), RuleImageTag, nil},
		{"digest", env(), pod("quay.io/minio/minio@sha256:" + strings.Repeat("a", 64)), RuleImageTag, nil},
		{"tag and digest", env(), pod("quay.io/minio/minio:x@sha256:" + strings.Repeat("a", 64)), RuleImageTag, nil},
		{"port is not a tag", env(), pod("registry.local:5000/minio"), RuleImageTag, []string{`image "registry.local:5000/minio" has no tag`}},
		{"untagged", env(), pod("busybox"), RuleImageTag, []string{`container c: image "busybox" has no tag, so it is pulled as latest`}},
		{"latest", env(), pod("quay.io/minio/minio:latest"), RuleImageTag, []string{"is tagged latest"}},
		{"no image", env(), pod(""), RuleImageTag, []string{"has no image"}},
		{"invalid", env(), pod("Quay.io/UPPER:1"), RuleImageTag, []string{"is not a valid image reference"}},
		{"registry ok", env(), pod("quay.io/minio/mc:1", "busybox:1.36", "index.docker.io/library/busybox:1", "docker.io/busybox:1"), RuleImageRegistry, nil},
		{"registry prefix is a path, not a string prefix", env(), pod("quay.io/minio-evil/x:1"), RuleImageRegistry, []string{`(quay.io/minio-evil/x) is not from the chart's registries (quay.io/minio, docker.io/library/busybox)`}},
		{"other registry", env(), pod("docker.io/bitnami/minio:1"), RuleImageRegistry, []string{"is not from the chart's registries"}},
		{"mirror ok", mirrored, pod("registry.acme.example/katonic/minio/minio:1"), RuleImageMirror, nil},
		{"mirror bypassed", mirrored, pod("quay.io/minio/minio:1"), RuleImageMirror, []string{"is not pulled from the image mirror registry.acme.example/katonic"}},
		{"mirror: registries not checked", mirrored, pod("registry.acme.example/katonic/x:1"), RuleImageRegistry, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := Workload{Registries: regs, Objects: Objects{Pods: []Pod{c.p}}}
			expect(t, check(t, c.e, w, c.rule), c.want...)
		})
	}
	// Operator-pinned images are not checked; Katonic's private charts
	// have no registries.
	op := pod("")
	op.Containers[0].OperatorImage = true
	expect(t, check(t, env(), Workload{Objects: Objects{Pods: []Pod{op, pod("x.example/a:1")}}}, RuleImageTag))
	expect(t, check(t, env(), Workload{Objects: Objects{Pods: []Pod{pod("x.example/a:1")}}}, RuleImageRegistry))
}

func TestIngressPath(t *testing.T) {
	cases := []struct {
		name string
		r    Route
		want []string
	}{
		{"Prefix", Route{What: "Ingress/i", Host: "k.example", Path: "/", Match: "Prefix"}, nil},
		{"Exact", Route{What: "Ingress/i", Host: "k.example", Path: "/", Match: "Exact"}, []string{`Ingress/i: path "/" for k.example has pathType Exact, which Istio matches exactly`}},
		{"ImplementationSpecific on dash-", Route{What: "Ingress/i", Host: "dash-k.example", Path: "/", Match: "ImplementationSpecific"}, []string{"pathType ImplementationSpecific"}},
		{"every host", Route{What: "Ingress/i", Path: "/", Match: "Exact"}, []string{"for every host"}},
		{"another host", Route{What: "Ingress/i", Host: "other.example", Path: "/", Match: "Exact"}, nil},
		{"VirtualService prefix", Route{What: "VirtualService/v", Host: "k.example", Path: "/api", Match: "prefix", Istio: true}, nil},
		{"VirtualService regex", Route{What: "VirtualService/v", Host: "k.example", Path: "/a.*", Match: "regex", Istio: true}, nil},
		{"VirtualService exact", Route{What: "VirtualService/v", Host: "k.example", Path: "/api", Match: "exact", Istio: true}, []string{`matches uri exact "/api"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, check(t, env(), Workload{Objects: Objects{Routes: []Route{c.r}}}, RuleIngressPath), c.want...)
		})
	}
}
