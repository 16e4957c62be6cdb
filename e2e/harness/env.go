package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diff"
	"github.com/katonic/katonic/internal/testrepo"
)

// How Run serves the environment's charts.
const (
	// MirrorHelm is a Helm repository (index.yaml and .tgz files) on
	// loopback, an http:// charts.mirror.
	MirrorHelm = "helm"
	// MirrorOCI is an OCI registry over TLS on loopback, an oci://
	// charts.mirror: each chart an OCIRepository of Flux.
	MirrorOCI = "oci"
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
	// Mirror is MirrorHelm (the default when empty) or MirrorOCI.
	Mirror string
	// Work is a directory of the run's own (repository copy, git and chart
	// servers' data, the cluster's data and logs).
	Work string
	// Timeout bounds each reconciliation.
	Timeout time.Duration
	// Upgrade, when set, changes the environment once it reconciled: the
	// harness edits its file, renders again, asks `katonic diff` what
	// changed, publishes the new out/ and waits until Flux applied it, and
	// the cluster shows every change katonic diff listed.
	Upgrade *Upgrade
	// Nodes, when set, changes the node pools the cluster's nodes are made
	// from, not the environment katonic renders: a cluster that drifted
	// from its description (nodes smaller than the file says).
	Nodes func(map[config.Role]config.NodePool)
	// EditOut, when set, changes the rendered out/ (the repository's out
	// directory) before it is published: an output katonic would not write.
	EditOut func(out string) error
	// Expect, when set, makes the run a negative one: it stops as soon as
	// a failure matching Expect is reported (Result.Expected), and a run
	// where everything became Ready is the failure.
	Expect *regexp.Regexp
	// Log receives progress lines, without the environment's name (nil:
	// none).
	Log func(format string, args ...any)
}

// Upgrade is a change of an environment's platform version (and the
// Kubernetes version the new one needs).
type Upgrade struct {
	PlatformVersion, KubernetesVersion string
}

// Result is what one environment's reconciliation showed.
type Result struct {
	// Name is the run's name in a report (set by the caller; Run leaves
	// it empty).
	Name string
	Env  string
	// Mirror is how the charts were served (MirrorHelm, MirrorOCI).
	Mirror string
	// Upgrade is "4.5 → 5.0.9" for an upgrade run.
	Upgrade string
	// Changes is how many objects katonic diff listed for the upgrade,
	// each checked in the cluster.
	Changes int
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
	// Negative is set for a run with Options.Expect; Expected is the
	// failure that matched it (empty when none did).
	Negative bool
	Expected string
	// Duration is from the bootstrap to the end of the last wait.
	Duration time.Duration
	// LogDir holds the components' logs (kept for a failed run).
	LogDir string
}

// OK reports whether the run went as it should: everything reconciled and
// every pod is on its pool, or, for a negative run, the expected failure
// was reported.
func (r *Result) OK() bool {
	if r.Negative {
		return r.Expected != ""
	}
	return len(r.Failures) == 0 && r.Kustomizations > 0 && r.KustomizationsReady == r.Kustomizations &&
		r.HelmReleasesReady == r.HelmReleases && r.PodsOnPool == r.Pods && r.PodsScheduled == r.Pods
}

var (
	kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	helmReleaseGVR   = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}
	gitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
)

// run is one Run's state.
type run struct {
	o        Options
	logf     func(format string, args ...any)
	res      *Result
	repo     string // the repository copy
	gitRoot  string
	gitURL   string
	chartURL string
}

// Run renders one environment with katonic against loopback chart and git
// servers, starts a cluster shaped like it, creates what Flux cannot (nodes,
// Secrets, storage), bootstraps Flux at out/clusters/<env> and waits until
// every Kustomization and HelmRelease is Ready or the timeout passes; with
// Options.Upgrade it then changes the environment and waits again. The
// cluster is stopped before Run returns. An error means the run itself
// failed (a binary, a server, the render); a reconciliation that does not
// finish is a Result with Failures.
func Run(ctx context.Context, bins Binaries, o Options) (*Result, error) {
	if o.Mirror == "" {
		o.Mirror = MirrorHelm
	}
	r := &run{o: o, logf: o.Log, res: &Result{Env: o.Env, Mirror: o.Mirror, Negative: o.Expect != nil},
		repo: filepath.Join(o.Work, "repo"), gitRoot: filepath.Join(o.Work, "git")}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	res := r.res
	if err := copyRepo(o.Repo, r.repo, o.Env); err != nil {
		return nil, err
	}
	// The environment as katonic sees it: its platform version, the
	// Secrets and releases of its render (a chart mirror changes neither).
	comp, err := r.compile()
	if err != nil {
		return nil, err
	}
	env := comp.Env
	platforms := []string{env.PlatformVersion}
	if o.Upgrade != nil {
		platforms = append(platforms, o.Upgrade.PlatformVersion)
		res.Upgrade = env.PlatformVersion + " → " + o.Upgrade.PlatformVersion
	}
	// The cluster's PKI first: the OCI registry serves with its certificate.
	clusterDir := filepath.Join(o.Work, "cluster")
	pki, err := NewPKI(filepath.Join(clusterDir, "pki"))
	if err != nil {
		return nil, err
	}
	// The chart mirror: the real charts, and stand-ins for the others.
	chartsDir := filepath.Join(o.Work, "charts")
	for _, pv := range platforms {
		standIns, err := mirrorCharts(o, chartsDir, pv)
		if err != nil {
			return nil, err
		}
		res.StandIns = append(res.StandIns, standIns...)
	}
	slices.Sort(res.StandIns)
	res.StandIns = slices.Compact(res.StandIns)
	var charts *Server
	switch o.Mirror {
	case MirrorHelm:
		charts, err = ServeCharts(chartsDir)
	case MirrorOCI:
		charts, err = ServeChartsOCI(chartsDir, pki)
	default:
		err = fmt.Errorf("chart mirror %q: want %s or %s", o.Mirror, MirrorHelm, MirrorOCI)
	}
	if err != nil {
		return nil, err
	}
	defer charts.Close()
	r.chartURL = charts.URL
	if err := addMirror(r.envFile(), charts.URL); err != nil {
		return nil, err
	}
	if err := r.render(); err != nil {
		return nil, err
	}

	// Git: the repository with out/, and Kubeflow Pipelines' stand-in.
	if err := os.MkdirAll(r.gitRoot, 0o755); err != nil {
		return nil, err
	}
	git, err := ServeGit(r.gitRoot)
	if err != nil {
		return nil, err
	}
	defer git.Close()
	r.gitURL = git.URL
	if err := r.pipelines(env); err != nil {
		return nil, err
	}
	if o.EditOut != nil {
		if err := o.EditOut(filepath.Join(r.repo, "out")); err != nil {
			return nil, err
		}
	}
	if err := Publish(r.repo, r.gitRoot, "fleet"); err != nil {
		return nil, err
	}

	r.logf("starting the control plane and the Flux controllers")
	cl, err := StartCluster(ctx, bins, clusterDir)
	if err != nil {
		return nil, err
	}
	defer cl.Stop()
	res.LogDir = cl.LogDir()
	pctx, stopProvisioner := context.WithCancel(ctx)
	defer stopProvisioner()
	go cl.Provision(pctx)
	go cl.LoadBalancers(pctx)
	shaped := *env
	if o.Nodes != nil {
		shaped.NodePools = maps.Clone(env.NodePools)
		o.Nodes(shaped.NodePools)
	}
	nodes, err := cl.CreateNodes(ctx, &shaped)
	if err != nil {
		return nil, err
	}
	r.logf("%d nodes (%s)", len(nodes), strings.Join(nodes, ", "))
	if err := cl.CreateSecrets(ctx, comp.Secrets); err != nil {
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
	defer func() { res.Duration = time.Since(start) }()
	if err := cl.Apply(ctx, []byte(bootstrap(git.URL+"/fleet.git", o.Env))); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	r.logf("Flux bootstrapped at ./out/clusters/%s", o.Env)
	if !r.wait(ctx, cl, want{releases: len(comp.Releases)}) || o.Upgrade == nil {
		return res, nil
	}

	// The upgrade: the new platform version, rendered, compared with the
	// reconciled out/ by katonic diff, published and reconciled.
	before := filepath.Join(o.Work, "out-"+env.PlatformVersion)
	if err := testrepo.CopyDir(filepath.Join(r.repo, "out"), before); err != nil {
		return nil, err
	}
	if err := setVersions(r.envFile(), *o.Upgrade); err != nil {
		return nil, err
	}
	next, err := r.compile()
	if err != nil {
		return nil, err
	}
	if err := r.render(); err != nil {
		return nil, err
	}
	if err := r.pipelines(next.Env); err != nil {
		return nil, err
	}
	changes, err := r.diff(before, filepath.Join(r.repo, "out"))
	if err != nil {
		return nil, err
	}
	for _, e := range changes.Envs {
		res.Changes += len(e.Objects)
	}
	if err := cl.CreateSecrets(ctx, next.Secrets); err != nil {
		return nil, err
	}
	if err := Publish(r.repo, r.gitRoot, "fleet"); err != nil {
		return nil, err
	}
	head, err := GitOutput(r.repo, "rev-parse", "HEAD")
	if err != nil {
		return nil, err
	}
	if err := cl.requestReconcile(ctx, gitRepositoryGVR, "flux-system", "flux-system"); err != nil {
		return nil, err
	}
	r.logf("%s published (%d objects changed), waiting for Flux to apply it", res.Upgrade, res.Changes)
	r.wait(ctx, cl, want{releases: len(next.Releases), revision: head, changes: changes})
	return res, nil
}

// wait observes the cluster every two seconds until it is as w wants, a
// negative run's expected failure shows, a dependsOn deadlock shows, or
// the timeout passes; it reports whether the cluster became as w wants.
func (r *run) wait(ctx context.Context, cl *Cluster, w want) bool {
	wctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	last := ""
	for {
		obs := cl.observe(ctx, r.res, w)
		res := r.res
		if now := fmt.Sprintf("Kustomizations %d/%d Ready, HelmReleases %d/%d, pods %d/%d scheduled", res.KustomizationsReady, res.Kustomizations,
			res.HelmReleasesReady, res.HelmReleases, res.PodsScheduled, res.Pods); now != last {
			r.logf("%s", now)
			last = now
		}
		if obs.ready {
			return true
		}
		if r.o.Expect != nil {
			for _, f := range r.res.Failures {
				if r.o.Expect.MatchString(f) {
					r.res.Expected = f
					return false
				}
			}
		}
		if obs.deadlock {
			return false
		}
		select {
		case <-wctx.Done():
			cl.observe(ctx, r.res, w)
			r.res.Failures = append(r.res.Failures, fmt.Sprintf("not Ready after %s", r.o.Timeout))
			return false
		case <-time.After(2 * time.Second):
		}
	}
}

func (r *run) envFile() string { return filepath.Join(r.repo, "environments", r.o.Env+".cue") }

// compile compiles the environment as katonic does, for what the harness
// must provide (Secrets) and expect (releases).
func (r *run) compile() (*compile.EnvResult, error) {
	comp, err := compile.Compile(compile.Options{Dir: r.repo, Envs: []string{r.o.Env}, Render: true})
	if err != nil || len(comp.Envs) != 1 {
		return nil, fmt.Errorf("compile %s: %v", r.o.Env, err)
	}
	return &comp.Envs[0], nil
}

// render runs `katonic render ENV` (the binary) in the repository copy.
func (r *run) render() error {
	r.logf("rendering %s with katonic", r.o.Env)
	cmd := exec.Command(r.o.Katonic, "render", r.o.Env)
	cmd.Dir = r.repo
	cmd.Env = append(os.Environ(), "KATONIC_RENDER_CACHE_DIR="+filepath.Join(r.o.Work, "render-cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("katonic render %s: %w\n%s", r.o.Env, err, out)
	}
	return nil
}

// diff runs `katonic diff --from before --to after -o json` and returns
// its report (exit status 3, changes, is its success).
func (r *run) diff(before, after string) (*diff.Report, error) {
	cmd := exec.Command(r.o.Katonic, "diff", "--from", before, "--to", after, "-o", "json")
	cmd.Dir = r.repo
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 3) {
		return nil, fmt.Errorf("katonic diff: %w\n%s", err, stderr.String())
	}
	var rep diff.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, fmt.Errorf("katonic diff -o json: %w", err)
	}
	return &rep, nil
}

// pipelines publishes Kubeflow Pipelines' stand-in at the environment's
// tag when it has pipelines, and lists it among the stand-ins.
func (r *run) pipelines(env *config.Environment) error {
	if !env.Enabled("pipelines") {
		return nil
	}
	sb, err := pipelinesStandIn(r.o.Work, r.gitRoot, env, r.repo, r.gitURL)
	if err != nil {
		return err
	}
	if !slices.Contains(r.res.StandIns, sb) {
		r.res.StandIns = append(r.res.StandIns, sb)
	}
	return nil
}

// requestReconcile asks a Flux object's controller to reconcile it now
// (the annotation `flux reconcile` sets), rather than at its interval.
func (c *Cluster) requestReconcile(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
	_, err := c.Dynamic.Resource(gvr).Namespace(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// setVersions sets platformVersion and kubernetesVersion in an
// environment file: each field's line is rewritten in place.
func setVersions(file string, u Upgrade) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	s := string(b)
	for field, v := range map[string]string{"platformVersion": u.PlatformVersion, "kubernetesVersion": u.KubernetesVersion} {
		if v == "" {
			continue
		}
		re := regexp.MustCompile(`(?m)^(\s*` + field + `:\s*)"[^"]*"`)
		if !re.MatchString(s) {
			return fmt.Errorf("%s: no %s field to change", file, field)
		}
		s = re.ReplaceAllString(s, `${1}"`+v+`"`)
	}
	return os.WriteFile(file, []byte(s), 0o644)
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
	standIns, err := testrepo.MirrorCharts(dir, o.RefCharts, o.Work, platform)
	for i, c := range standIns {
		standIns[i] = "chart " + c
	}
	return standIns, err
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
