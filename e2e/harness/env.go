package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/chartrepo"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/testrepo"
)

// Options configure one environment's run.
type Options struct {
	// Repo is the katonic repository whose environments/<Env>.cue is run
	// (with its cue.mod/, schema/, profiles/ and policy/).
	Repo, Env string
	// Katonic is the katonic binary that renders the environment.
	Katonic string
	// RefCharts is a directory of packaged real charts
	// (../shared/reference/charts); charts it lacks get stand-ins.
	RefCharts string
	// Work is a directory of the run's own (repository copy, git and chart
	// servers' data, the cluster's data and logs).
	Work string
	// Timeout bounds the reconciliation.
	Timeout time.Duration
	// Log receives progress lines (nil: none).
	Log func(format string, args ...any)
}

// Result is what one environment's reconciliation showed.
type Result struct {
	Env string
	// Kustomizations and HelmReleases: how many Flux reconciled, and how
	// many are Ready.
	Kustomizations, KustomizationsReady int
	HelmReleases, HelmReleasesReady     int
	// Pods: how many exist, how many the scheduler placed, and how many on
	// the node pool their nodeSelector names.
	Pods, PodsScheduled, PodsOnPool int
	// StandIns are the charts and sources the mirror lacked, replaced by
	// stand-ins of the same name and version ("chart katonic-ui 5.0.9").
	StandIns []string
	// Failures say what is not Ready and why: the object and its
	// controller's message, or a pod and the scheduler's reason.
	Failures []string
	// Duration is from the bootstrap to the end of the wait.
	Duration time.Duration
	// LogDir holds the components' logs (kept for a failed run).
	LogDir string
}

// OK reports whether everything reconciled and every pod is on its pool.
func (r *Result) OK() bool {
	return len(r.Failures) == 0 && r.Kustomizations > 0 && r.KustomizationsReady == r.Kustomizations &&
		r.HelmReleasesReady == r.HelmReleases && r.PodsOnPool == r.Pods && r.PodsScheduled == r.Pods
}

var (
	kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	helmReleaseGVR   = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}
)

// Run renders one environment with katonic against loopback chart and git
// servers, starts a cluster shaped like it, creates what Flux cannot (nodes,
// Secrets, storage), bootstraps Flux at out/clusters/<env> and waits until
// every Kustomization and HelmRelease is Ready or the timeout passes. The
// cluster is stopped before Run returns. An error means the run itself
// failed (a binary, a server, the render); a reconciliation that does not
// finish is a Result with Failures.
func Run(ctx context.Context, bins Binaries, o Options) (*Result, error) {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	res := &Result{Env: o.Env}
	repo := filepath.Join(o.Work, "repo")
	if err := copyRepo(o.Repo, repo, o.Env); err != nil {
		return nil, err
	}
	// The environment as katonic sees it: its platform version, the
	// Secrets and releases of its render (a chart mirror changes neither).
	comp, err := compile.Compile(compile.Options{Dir: repo, Envs: []string{o.Env}, Render: true})
	if err != nil || len(comp.Envs) != 1 {
		return nil, fmt.Errorf("compile %s: %v", o.Env, err)
	}
	env := comp.Envs[0].Env
	// The chart mirror: the real charts, and stand-ins for the others.
	chartsDir := filepath.Join(o.Work, "charts")
	standIns, err := mirrorCharts(o, chartsDir, env.PlatformVersion)
	if err != nil {
		return nil, err
	}
	res.StandIns = standIns
	charts, err := ServeCharts(chartsDir)
	if err != nil {
		return nil, err
	}
	defer charts.Close()
	envFile := filepath.Join(repo, "environments", o.Env+".cue")
	if err := addMirror(envFile, charts.URL); err != nil {
		return nil, err
	}
	logf("%s: rendering with katonic", o.Env)
	render := exec.Command(o.Katonic, "render", o.Env)
	render.Dir = repo
	render.Env = append(os.Environ(), "KATONIC_RENDER_CACHE_DIR="+filepath.Join(o.Work, "render-cache"))
	if out, err := render.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("katonic render %s: %w\n%s", o.Env, err, out)
	}

	// Git: the repository with out/, and Kubeflow Pipelines' stand-in.
	gitRoot := filepath.Join(o.Work, "git")
	if err := os.MkdirAll(gitRoot, 0o755); err != nil {
		return nil, err
	}
	git, err := ServeGit(gitRoot)
	if err != nil {
		return nil, err
	}
	defer git.Close()
	if env.Enabled("pipelines") {
		sb, err := pipelinesStandIn(o.Work, gitRoot, env, repo, git.URL)
		if err != nil {
			return nil, err
		}
		res.StandIns = append(res.StandIns, sb)
	}
	if err := Publish(repo, gitRoot, "fleet"); err != nil {
		return nil, err
	}

	logf("%s: starting the control plane and the Flux controllers", o.Env)
	cl, err := StartCluster(ctx, bins, filepath.Join(o.Work, "cluster"))
	if err != nil {
		return nil, err
	}
	defer cl.Stop()
	res.LogDir = cl.LogDir()
	pctx, stopProvisioner := context.WithCancel(ctx)
	defer stopProvisioner()
	go cl.Provision(pctx)
	go cl.LoadBalancers(pctx)
	nodes, err := cl.CreateNodes(ctx, env)
	if err != nil {
		return nil, err
	}
	logf("%s: %d nodes (%s)", o.Env, len(nodes), strings.Join(nodes, ", "))
	if err := cl.CreateSecrets(ctx, comp.Envs[0].Secrets); err != nil {
		return nil, err
	}
	switch {
	case env.Profile == config.ProfileCloud:
		err = cl.CreateStorageClass(ctx, "standard", true)
	case env.Profile == config.ProfileOnPrem && env.Enabled("storage"):
		err = cl.CreateStorageClass(ctx, "longhorn", true)
	}
	if err != nil {
		return nil, err
	}

	start := time.Now()
	if err := cl.Apply(ctx, []byte(bootstrap(git.URL+"/fleet.git", o.Env))); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	logf("%s: Flux bootstrapped at ./out/clusters/%s", o.Env, o.Env)
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	wantReleases := len(comp.Envs[0].Releases)
	for {
		done := cl.observe(ctx, res, wantReleases)
		if done {
			break
		}
		select {
		case <-wctx.Done():
			res.Failures = append(res.Failures, fmt.Sprintf("not Ready after %s", o.Timeout))
			cl.observe(ctx, res, wantReleases)
			res.Duration = time.Since(start)
			return res, nil
		case <-time.After(2 * time.Second):
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// observe fills res from the cluster and reports whether everything is
// Ready: Kustomizations, wantReleases HelmReleases, and every pod
// scheduled on its pool.
func (c *Cluster) observe(ctx context.Context, res *Result, wantReleases int) bool {
	res.Failures = res.Failures[:0]
	res.Kustomizations, res.KustomizationsReady = c.readyCount(ctx, kustomizationGVR, "Kustomization", &res.Failures)
	res.HelmReleases, res.HelmReleasesReady = c.readyCount(ctx, helmReleaseGVR, "HelmRelease", &res.Failures)
	res.Pods, res.PodsScheduled, res.PodsOnPool = 0, 0, 0
	nodes, _ := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	pool := map[string]string{}
	for _, n := range nodes.Items {
		pool[n.Name] = n.Labels[config.PoolLabelKey]
	}
	pods, _ := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		res.Pods++
		if p.Spec.NodeName == "" {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
					res.Failures = append(res.Failures, fmt.Sprintf("Pod/%s/%s: %s: %s", p.Namespace, p.Name, cond.Reason, cond.Message))
				}
			}
			continue
		}
		res.PodsScheduled++
		want := p.Spec.NodeSelector[config.PoolLabelKey]
		if want == "" || want == pool[p.Spec.NodeName] {
			res.PodsOnPool++
		} else {
			res.Failures = append(res.Failures, fmt.Sprintf("Pod/%s/%s: on node %s of pool %s, not %s", p.Namespace, p.Name, p.Spec.NodeName, pool[p.Spec.NodeName], want))
		}
	}
	sort.Strings(res.Failures)
	return len(res.Failures) == 0 && res.Kustomizations > 0 && res.KustomizationsReady == res.Kustomizations &&
		res.HelmReleases >= wantReleases && res.HelmReleasesReady == res.HelmReleases && res.PodsScheduled == res.Pods
}

// readyCount counts the objects of gvr and the Ready ones; the others are
// failures with their Ready condition's reason and message.
func (c *Cluster) readyCount(ctx context.Context, gvr schema.GroupVersionResource, kind string, failures *[]string) (int, int) {
	list, err := c.Dynamic.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		*failures = append(*failures, fmt.Sprintf("list %s: %v", kind, err))
		return 0, 0
	}
	ready := 0
	for _, o := range list.Items {
		status, reason, msg := readyCondition(&o)
		if status == "True" {
			ready++
			continue
		}
		*failures = append(*failures, fmt.Sprintf("%s/%s/%s: %s: %s", kind, o.GetNamespace(), o.GetName(), reason, msg))
	}
	return len(list.Items), ready
}

func readyCondition(o *unstructured.Unstructured) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg
		}
	}
	return "Unknown", "NoStatus", "not reconciled yet"
}

// bootstrap is what `flux bootstrap --path=out/clusters/<env>` leaves in
// the cluster: the GitRepository flux-system and the Kustomization
// flux-system that applies the cluster's entry point.
func bootstrap(url, env string) string {
	return fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 1m
  url: %s
  ref: {branch: main}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  path: ./out/clusters/%s
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`, url, env)
}

// copyRepo copies what katonic reads (cue.mod, schema, profiles, policy
// and the one environment's file) from src to dst.
func copyRepo(src, dst, env string) error {
	for _, d := range []string{"cue.mod", "schema", "profiles", "policy"} {
		if err := testrepo.CopyDir(filepath.Join(src, d), filepath.Join(dst, d)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(dst, "environments"), 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(src, "environments", env+".cue"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dst, "environments", env+".cue"), b, 0o644)
}

// addMirror sets charts.mirror in an environment file: a field before the
// closing brace of its environments."<name>" block (the file's last "}").
func addMirror(file, url string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(b)
	i := strings.LastIndex(s, "}")
	if i < 0 || strings.Contains(s, "charts:") {
		return fmt.Errorf("%s: cannot add charts.mirror", file)
	}
	s = s[:i] + "\tcharts: mirror: \"" + url + "\"\n" + s[i:]
	return os.WriteFile(file, []byte(s), 0o644)
}

// mirrorCharts fills dir with the packaged real charts of o.RefCharts
// and a stand-in (testrepo.MockCharts) of the same name and version for
// every chart of the environment's platform version that they lack.
func mirrorCharts(o Options, dir, platform string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	ref, _ := filepath.Glob(filepath.Join(o.RefCharts, "*.tgz"))
	for _, f := range ref {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			return nil, err
		}
		have[strings.TrimSuffix(filepath.Base(f), ".tgz")] = true
	}
	rel, err := catalog.Lookup(platform)
	if err != nil {
		return nil, err
	}
	src := filepath.Join(o.Work, "stand-ins")
	if err := testrepo.MockCharts(src, platform); err != nil {
		return nil, err
	}
	var standIns []string
	for _, id := range rel.ChartIDs() {
		c, _ := rel.Chart(id)
		key := c.Chart + "-" + c.Version
		if have[key] {
			continue
		}
		have[key] = true
		data, err := chartrepo.Package(filepath.Join(src, c.Chart))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, key+".tgz"), data, 0o644); err != nil {
			return nil, err
		}
		standIns = append(standIns, "chart "+c.Chart+" "+c.Version)
	}
	slices.Sort(standIns)
	return standIns, nil
}

// pipelinesStandIn publishes a stand-in of the Kubeflow Pipelines
// repository at the catalog's tag (its two overlays: one CRD for the
// cluster-scoped resources, and a Deployment of the API server) as
// pipelines.git, and points the rendered kubeflow-pipelines GitRepository
// at it: the real repository is not reachable here.
func pipelinesStandIn(work, gitRoot string, env *config.Environment, repo, gitURL string) (string, error) {
	rel, err := catalog.Lookup(env.PlatformVersion)
	if err != nil {
		return "", err
	}
	g := rel.Pipelines
	src := filepath.Join(work, "pipelines")
	files := map[string]string{
		filepath.Join(g.ClusterPath, "kustomization.yaml"): "resources: [crd.yaml]\n",
		filepath.Join(g.ClusterPath, "crd.yaml"): `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: viewers.kubeflow.org}
spec:
  group: kubeflow.org
  names: {kind: Viewer, plural: viewers, singular: viewer}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`,
		filepath.Join(g.Path, "kustomization.yaml"): "resources: [namespace.yaml, api-server.yaml]\n",
		filepath.Join(g.Path, "namespace.yaml"):     "apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n",
		filepath.Join(g.Path, "api-server.yaml"): `apiVersion: apps/v1
kind: Deployment
metadata: {name: ml-pipeline}
spec:
  selector: {matchLabels: {app: ml-pipeline}}
  template:
    metadata: {labels: {app: ml-pipeline}}
    spec:
      containers:
      - name: ml-pipeline-api-server
        image: gcr.io/ml-pipeline/api-server:` + g.Tag + `
        resources: {requests: {cpu: 250m, memory: 500Mi}}
`,
	}
	for name, body := range files {
		p := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	if err := Publish(src, gitRoot, "pipelines", g.Tag); err != nil {
		return "", err
	}
	sources := filepath.Join(repo, "out", "environments", env.Name, "infrastructure", "sources.yaml")
	b, err := os.ReadFile(sources)
	if err != nil {
		return "", err
	}
	s := strings.Replace(string(b), g.URL, gitURL+"/pipelines.git", 1)
	if s == string(b) {
		return "", fmt.Errorf("%s: no GitRepository with %s", sources, g.URL)
	}
	if err := os.WriteFile(sources, []byte(s), 0o644); err != nil {
		return "", err
	}
	return "git " + g.URL + " tag " + g.Tag, nil
}
