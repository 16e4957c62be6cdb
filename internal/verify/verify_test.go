package verify

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/charts"
	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
)

// repoRoot is the katonic repository, whose environments/ are the examples.
const repoRoot = "../.."

// examples renders the example environments in memory, once per test.
func examples(t *testing.T) *compile.Result {
	t.Helper()
	res, err := compile.Compile(compile.Options{Dir: repoRoot, Render: true})
	if err != nil {
		t.Fatalf("compile: %v\n%v", err, res.Diags)
	}
	return res
}

// run verifies env of res with files (paths relative to out/) in memory.
func run(t *testing.T, res *compile.Result, env string, files map[string][]byte, layers ...string) EnvReport {
	t.Helper()
	opts := Options{Root: t.TempDir(), Out: "out", Files: files, Layers: layers}
	for _, e := range res.Envs {
		if e.Env.Name == env {
			opts.Envs = append(opts.Envs, Env{Env: e.Env, Releases: e.Releases, Secrets: e.Secrets})
		}
	}
	if len(opts.Envs) != 1 {
		t.Fatalf("no example environment %s", env)
	}
	rep, err := Run(opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Envs[0]
}

func TestExamplesVerifyClean(t *testing.T) {
	res := examples(t)
	for _, e := range res.Envs {
		t.Run(e.Env.Name, func(t *testing.T) {
			rep := run(t, res, e.Env.Name, res.Files, LayerBuild, LayerSchema, LayerRefs)
			for _, f := range rep.Findings {
				t.Errorf("%s: %s", f.Layer, f.Format(""))
			}
			if rep.Kustomizations < 2 || rep.Objects < 40 {
				t.Errorf("built %d Kustomizations, %d objects: the build layer did not reach the environment's paths", rep.Kustomizations, rep.Objects)
			}
			if len(rep.Remote) == 0 {
				t.Errorf("the Kubeflow Pipelines Kustomizations should be listed as remote")
			}
		})
	}
}

// TestRules breaks one rendered file per case and expects exactly one
// finding of the given rule, with a message containing want, at file.
func TestRules(t *testing.T) {
	res := examples(t)
	const env = "globex-cloud"
	const platform = "environments/globex-cloud/platform/"
	cases := []struct {
		name, file, old, new string
		layer, rule, want    string
		line                 bool // the finding has a line number
	}{
		{"missing resource", platform + "kustomization.yaml", "- istio.yaml", "- istio.yaml\n- nope.yaml",
			LayerBuild, "verify.build", "nope.yaml", true},
		{"path missing", "clusters/globex-cloud/platform.yaml", "path: ./out/environments/globex-cloud/platform", "path: ./out/environments/globex-cloud/gone",
			LayerBuild, "verify.build.path", `path "./out/environments/globex-cloud/gone" does not exist`, true},
		{"path escapes", "clusters/globex-cloud/platform.yaml", "path: ./out/environments/globex-cloud/platform", "path: ../../etc",
			LayerBuild, "verify.build.path", "leaves the source artifact", true},
		{"undefined variable", "clusters/globex-cloud/platform.yaml", "  prune: true\n", "  postBuild:\n    substitute:\n      A: a\n  prune: true\n",
			LayerBuild, "", "", false},
		{"enum", platform + "postgres.yaml", "  install:\n", "  install:\n    crds: Never\n",
			LayerSchema, "verify.schema.crd", `Unsupported value: supported values: "Skip", "Create", "CreateReplace"`, true},
		{"CEL", platform + "postgres.yaml", "spec:\n  chartRef:", "spec:\n  chart:\n    spec:\n      chart: x\n      sourceRef: {kind: HelmRepository, name: minio}\n  chartRef:",
			LayerSchema, "verify.schema.crd", "either chart or chartRef must be set", true},
		{"pattern", "clusters/globex-cloud/platform.yaml", "interval: 10m0s", "interval: often",
			LayerSchema, "verify.schema.crd", "spec.interval", true},
		{"core unknown field", "environments/globex-cloud/infrastructure/namespaces.yaml", "kind: Namespace\n", "kind: Namespace\nstatus: {colour: red}\n",
			LayerSchema, "verify.schema.strict", `unknown field "status.colour"`, true},
		{"dangling chartRef", platform + "postgres.yaml", "name: bitnami-postgresql", "name: bitnami-pg",
			LayerRefs, "verify.refs.dangling", "OCIRepository/flux-system/bitnami-pg is not rendered", true},
		{"dangling Kustomization dependsOn", "clusters/globex-cloud/platform.yaml", "- name: infrastructure", "- name: infra",
			LayerRefs, "verify.refs.dangling", "Kustomization/flux-system/infra is not rendered", true},
		{"undocumented Secret", platform + "redis.yaml", "name: redis-credentials", "name: redis-pw",
			LayerRefs, "verify.refs.dangling", "Secret/flux-system/redis-pw is neither rendered nor a documented", true},
		{"wrong source kind", platform + "postgres.yaml", "kind: OCIRepository", "kind: GitRepository",
			LayerRefs, "verify.refs", "cannot reference a GitRepository", true},
		{"namespace not created", platform + "postgres.yaml", "targetNamespace: application", "targetNamespace: apps",
			LayerRefs, "verify.refs.namespace", `namespace "apps" is not created`, true},
		{"HelmRelease cycle", platform + "postgres.yaml", "  install:\n", "  dependsOn:\n  - name: keycloak\n  install:\n",
			LayerRefs, "verify.refs.cycle", "dependsOn cycle: keycloak → postgres → keycloak", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := maps.Clone(res.Files)
			body := string(files[c.file])
			if !strings.Contains(body, c.old) {
				t.Fatalf("%s has no %q", c.file, c.old)
			}
			files[c.file] = []byte(strings.Replace(body, c.old, c.new, 1))
			rep := run(t, res, env, files, c.layer)
			if c.rule == "" {
				for _, f := range rep.Findings {
					t.Errorf("unexpected: %s", f.Format(""))
				}
				return
			}
			if len(rep.Findings) != 1 {
				for _, f := range rep.Findings {
					t.Logf("%s", f.Format(""))
				}
				t.Fatalf("want 1 finding, got %d", len(rep.Findings))
			}
			f := rep.Findings[0]
			if f.Rule != c.rule || !strings.Contains(f.Message, c.want) || f.Severity != diag.Error || f.Env != env || f.Layer != c.layer {
				t.Errorf("got %s %s: %s", f.Layer, f.Rule, f.Format(""))
			}
			at := c.file
			switch c.rule {
			case "verify.build": // reported on the Flux Kustomization
				at = "clusters/globex-cloud/platform.yaml"
			case "verify.refs.cycle": // reported on the cycle's first member
				at = platform + "keycloak.yaml"
			}
			if c.line && (f.Pos.Line == 0 || !strings.HasSuffix(filepath.ToSlash(f.Pos.Filename), "out/"+at)) {
				t.Errorf("position %+v, want a line in out/%s", f.Pos, at)
			}
		})
	}
}

// TestUndefinedVariable: a ${VAR} without a value fails strict substitution
// only when the Kustomization has spec.postBuild, as in kustomize-controller.
func TestUndefinedVariable(t *testing.T) {
	res := examples(t)
	files := maps.Clone(res.Files)
	redis := "environments/globex-cloud/platform/redis.yaml"
	files[redis] = []byte(strings.Replace(string(files[redis]), "  interval: 30m0s", "  interval: 30m0s\n  serviceAccountName: ${A}-${MISSING}", 1))
	if rep := run(t, res, "globex-cloud", files, LayerBuild); len(rep.Findings) != 0 {
		t.Errorf("without postBuild, no substitution happens: %v", rep.Findings)
	}
	ks := "clusters/globex-cloud/platform.yaml"
	files[ks] = []byte(strings.Replace(string(files[ks]), "  prune: true\n", "  postBuild:\n    substitute:\n      A: a\n  prune: true\n", 1))
	rep := run(t, res, "globex-cloud", files, LayerBuild)
	if len(rep.Findings) != 1 || !strings.Contains(rep.Findings[0].Message, `"MISSING"`) || strings.Contains(rep.Findings[0].Message, `"A"`) {
		t.Fatalf("want one finding naming MISSING, got %v", rep.Findings)
	}
	// With substituteFrom, values live in the cluster: not strict.
	files[ks] = []byte(strings.Replace(string(files[ks]), "      A: a\n", "      A: a\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n      optional: true\n", 1))
	if rep := run(t, res, "globex-cloud", files, LayerBuild); len(rep.Findings) != 0 {
		t.Errorf("with substituteFrom, substitution is not strict: %v", rep.Findings)
	}
}

func TestChartsWithoutLock(t *testing.T) {
	res := examples(t)
	rep := run(t, res, "globex-cloud", res.Files, LayerCharts)
	if len(rep.Findings) != 1 || rep.Findings[0].Severity != diag.Error || rep.Findings[0].Rule != "verify.charts.unlocked" ||
		!strings.Contains(rep.Findings[0].Message, "globex-cloud: charts.lock locks no chart") ||
		!strings.Contains(rep.Findings[0].Message, "katonic charts pull") {
		t.Fatalf("want one error naming the environment and the fix, got %v", rep.Findings)
	}
	if len(rep.NotChecked) == 0 || !slices.Contains(rep.NotChecked, "redis 21.1.0") {
		t.Errorf("not checked: %v", rep.NotChecked)
	}
}

func TestUnknownLayer(t *testing.T) {
	if _, err := Run(Options{Layers: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `unknown layer "nope"`) {
		t.Fatalf("got %v", err)
	}
}

// placementEnv is an environment with a tainted platform pool, an untainted
// compute pool and a gpu pool with two taints.
func placementEnv() *envVerifier {
	env := &config.Environment{Name: "e", Domain: "k.example", KubernetesVersion: "1.29",
		NodePools: map[config.Role]config.NodePool{
			config.RolePlatform: {MinNodes: 2},
			config.RoleCompute:  {MinNodes: 1},
			config.RoleGPU:      {MinNodes: 1, GPUType: "a100", GPUCount: 1},
		},
		Services: map[string]config.Service{"superset": {Enabled: true}},
	}
	tr := &tree{docs: map[string][]*doc{}}
	return &envVerifier{env: Env{Env: env}, tree: tr, index: tr.newIndex()}
}

// TestFitWithoutCharts: with only the fit layer and no chart locked, the
// Kustomizations' objects are checked (acme-azure's StorageClasses), the
// pools are summed, and one error names the HelmReleases whose pods were
// not checked.
func TestFitWithoutCharts(t *testing.T) {
	res := examples(t)
	rep := run(t, res, "acme-azure", res.Files, LayerFit)
	if len(rep.Findings) != 1 || rep.Findings[0].Rule != "fit.untemplated" || rep.Findings[0].Severity != diag.Error ||
		!strings.Contains(rep.Findings[0].Message, "acme-azure: 15 HelmReleases were not templated") ||
		!strings.Contains(rep.Findings[0].Message, "superset (chart superset 0.14.1)") {
		t.Fatalf("want one fit.untemplated error, got %v", rep.Findings)
	}
	if len(rep.Pools) == 0 || rep.Pools[0].NodeCPU == 0 {
		t.Errorf("pools = %+v", rep.Pools)
	}
}

func TestHosts(t *testing.T) {
	ingress := func(hosts ...string) charts.Manifest {
		var rules []any
		for _, h := range hosts {
			rules = append(rules, map[string]any{"host": h})
		}
		return charts.Manifest{Object: map[string]any{"kind": "Ingress", "metadata": map[string]any{"name": "i"},
			"spec": map[string]any{"rules": rules, "tls": []any{map[string]any{"hosts": []any{hosts[0]}}}}}}
	}
	cases := []struct {
		name  string
		hosts []string
		bad   int
	}{
		{"FQDN", []string{"k.example"}, 0},
		{"dash- with Superset on", []string{"dash-k.example"}, 0},
		{"connectors- with Airbyte off", []string{"connectors-k.example"}, 2}, // rule and tls
		{"other host", []string{"k.example", "grafana.k.example"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := placementEnv()
			v.checkHosts(nil, charts.Ref{Chart: "c"}, ingress(c.hosts...))
			if len(v.rep.Findings) != c.bad {
				t.Fatalf("want %d findings, got %v", c.bad, v.rep.Findings)
			}
			for _, f := range v.rep.Findings {
				if f.Rule != "verify.charts.host" || !strings.Contains(f.Message, "k.example, dash-k.example") {
					t.Errorf("finding %q", f.Message)
				}
			}
		})
	}
}

func TestReleaseValues(t *testing.T) {
	spec := map[string]any{
		"values": map[string]any{"auth": map[string]any{"enabled": true}},
		"valuesFrom": []any{
			map[string]any{"kind": "Secret", "name": "s", "valuesKey": "pw", "targetPath": "auth.password"},
			map[string]any{"kind": "Secret", "name": "s", "valuesKey": "values.yaml"},
			map[string]any{"kind": "Secret", "name": "s", "valuesKey": "k", "targetPath": "list[0].name"},
		},
	}
	vals, err := releaseValues(spec)
	if err != nil {
		t.Fatal(err)
	}
	auth := vals["auth"].(map[string]any)
	if auth["enabled"] != true || auth["password"] != valuesFromPlaceholder {
		t.Errorf("auth = %v", auth)
	}
	if l, ok := vals["list"].([]any); !ok || len(l) != 1 {
		t.Errorf("list = %v", vals["list"])
	}
	if spec["values"].(map[string]any)["auth"].(map[string]any)["password"] != nil {
		t.Error("releaseValues modified the HelmRelease")
	}
	if _, err := releaseValues(map[string]any{"valuesFrom": []any{map[string]any{"targetPath": "a[x]"}}}); err == nil {
		t.Error("a malformed targetPath should be an error")
	}
}

func TestFullVersion(t *testing.T) {
	for in, want := range map[string]string{"1.29": "v1.29.0", "1.29.5": "v1.29.5", "v1.30": "v1.30.0", "x": "x"} {
		if got := fullVersion(in); got != want {
			t.Errorf("fullVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProgressOncePerEnvironment(t *testing.T) {
	res := examples(t)
	calls := 0
	opts := Options{Root: t.TempDir(), Out: "out", Files: res.Files, Layers: []string{LayerRefs}, Progress: func() { calls++ }}
	for _, e := range res.Envs {
		opts.Envs = append(opts.Envs, Env{Env: e.Env, Releases: e.Releases, Secrets: e.Secrets})
	}
	if _, err := Run(opts); err != nil {
		t.Fatal(err)
	}
	if calls != len(res.Envs) || calls == 0 {
		t.Errorf("Progress called %d times for %d environments", calls, len(res.Envs))
	}
}
