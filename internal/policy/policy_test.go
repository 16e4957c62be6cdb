package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/fieldpath"
	"github.com/katonic/katonic/internal/render"
	"github.com/katonic/katonic/internal/testrepo"
)

const repoRoot = "../.."

var (
	examplesOnce sync.Once
	examplesRes  *compile.Result
	examplesSet  *Set
	examplesErr  error
)

// examples renders the example environments and loads the repository's
// policy set, once per test binary.
func examples(t testing.TB) (*compile.Result, *Set) {
	t.Helper()
	examplesOnce.Do(func() {
		examplesRes, examplesErr = compile.Compile(compile.Options{Dir: repoRoot, Render: true})
		if examplesErr != nil {
			return
		}
		var d diag.List
		examplesSet, d, examplesErr = Load(repoRoot)
		if examplesErr != nil {
			examplesErr = fmt.Errorf("%v: %v", examplesErr, d)
		}
	})
	if examplesErr != nil {
		t.Fatal(examplesErr)
	}
	return examplesRes, examplesSet
}

// envOf returns a copy of the named example environment's result, with
// its own copy of the configuration.
func envOf(t testing.TB, res *compile.Result, name string) compile.EnvResult {
	t.Helper()
	for _, e := range res.Envs {
		if e.Env.Name == name {
			env := *e.Env
			e.Env = &env
			e.Releases = slices.Clone(e.Releases)
			e.Files = slices.Clone(e.Files)
			return e
		}
	}
	t.Fatalf("no example environment %s", name)
	return compile.EnvResult{}
}

func TestBuiltinPolicies(t *testing.T) {
	_, set := examples(t)
	var ids []string
	for _, p := range set.Policies() {
		ids = append(ids, p.ID)
		if p.Pos.Filename == "" || p.Pos.Line == 0 {
			t.Errorf("policy %s: no position: %+v", p.ID, p.Pos)
		}
		if p.Source == "" || p.Message == "" {
			t.Errorf("policy %s: no message or source", p.ID)
		}
	}
	want := []string{"charts-pinned", "default-deny", "gpu-tainted", "helmrelease-remediation", "ingress-hosts", "no-secrets", "platform-pool", "prune-timeout"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("policies = %v, want %v", ids, want)
	}
}

func TestExamplesPass(t *testing.T) {
	res, set := examples(t)
	if len(res.Envs) != 3 {
		t.Fatalf("%d example environments, want 3", len(res.Envs))
	}
	for _, e := range res.Envs {
		if len(e.Env.Waivers) > 0 {
			t.Errorf("%s: example waives %v; the examples must pass without waivers", e.Env.Name, e.Env.Waivers)
		}
		r, err := set.Evaluate(e, res.Files, "out")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteText(&b, []*EnvResult{r}); err != nil {
			t.Fatal(err)
		}
		if len(r.Violations) > 0 || len(r.Errors) > 0 {
			t.Errorf("%s:\n%s", e.Env.Name, b.String())
		}
	}
}

// mutation changes one example environment before evaluation: its files
// (a copy of the render, keyed by path under out/), its EnvResult, or the
// policy input itself.
type mutation struct {
	files func(t *testing.T, files map[string][]byte)
	env   func(env *compile.EnvResult)
	input func(in *input)
}

// replace replaces old by new in file p, which must contain old.
func replace(p, old, new string) func(t *testing.T, files map[string][]byte) {
	return func(t *testing.T, files map[string][]byte) {
		t.Helper()
		b, ok := files[p]
		if !ok || !bytes.Contains(b, []byte(old)) {
			t.Fatalf("%s does not contain %q", p, old)
		}
		files[p] = bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

// appendDoc adds a YAML document to the end of file p.
func appendDoc(p, doc string) func(t *testing.T, files map[string][]byte) {
	return func(t *testing.T, files map[string][]byte) {
		t.Helper()
		b, ok := files[p]
		if !ok {
			t.Fatalf("no file %s", p)
		}
		files[p] = append(append(slices.Clone(b), "---\n"...), doc...)
	}
}

func (m mutation) run(t *testing.T, res *compile.Result, set *Set, envName string) []Violation {
	t.Helper()
	env := envOf(t, res, envName)
	files := maps.Clone(res.Files)
	if m.files != nil {
		m.files(t, files)
	}
	if m.env != nil {
		m.env(&env)
	}
	r, err := set.evaluate(env, files, nil, "out", m.input)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %v", r.Errors)
	}
	return r.Violations
}

func TestPolicies(t *testing.T) {
	res, set := examples(t)
	const (
		acmeInfra   = "environments/acme-azure/infrastructure/"
		acmePlat    = "environments/acme-azure/platform/"
		acmeAddons  = "environments/acme-azure/addons/"
		teslaInfra  = "environments/tesla-onprem/infrastructure/"
		globexInfra = "environments/globex-cloud/infrastructure/"
	)
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pg\n  namespace: application\nstringData:\n  password: x\n"
	ingress := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: application
spec:
  rules:
  - host: %s
  tls:
  - hosts:
    - %s
`
	tests := []struct {
		name   string
		policy string
		env    string
		m      mutation
		// want are the offending objects, each with its path after a
		// space when the policy names one; nil means the policy passes.
		want []string
	}{
		// no-secrets
		{"secret object", "no-secrets", "acme-azure", mutation{files: appendDoc(acmePlat+"postgres.yaml", secret)},
			[]string{"Secret/application/pg", "Secret/application/pg stringData.password"}},
		{"literal password in values", "no-secrets", "acme-azure",
			mutation{files: replace(acmePlat+"postgres.yaml", "  values:\n", "  values:\n    auth:\n      postgresPassword: hunter2\n      api_token: 12345\n")},
			[]string{"HelmRelease/flux-system/postgres spec.values.auth.api_token", "HelmRelease/flux-system/postgres spec.values.auth.postgresPassword"}},
		{"PEM private key", "no-secrets", "acme-azure",
			mutation{files: replace(acmePlat+"postgres.yaml", "  values:\n", "  values:\n    tls:\n      cert: |\n        -----BEGIN RSA PRIVATE KEY-----\n        MIIB\n        -----END RSA PRIVATE KEY-----\n")},
			[]string{"HelmRelease/flux-system/postgres spec.values.tls.cert"}},
		{"AWS access key id", "no-secrets", "globex-cloud",
			mutation{files: replace("environments/globex-cloud/platform/mlflow.yaml", "    extraEnvVars:\n", "    extraEnvVars:\n      AWS_ID: AKIAIOSFODNN7EXAMPLE\n")},
			[]string{"HelmRelease/flux-system/mlflow spec.values.extraEnvVars.AWS_ID"}},
		{"URL with a password in a source", "no-secrets", "acme-azure",
			mutation{files: replace(acmeInfra+"sources.yaml", "url: oci://", "url: oci://robot:hunter2@")},
			[]string{"OCIRepository/flux-system/bitnami-mongodb spec.url"}},
		{"URL with a password in values", "no-secrets", "globex-cloud",
			mutation{files: replace("environments/globex-cloud/platform/mlflow.yaml", "    extraEnvVars:\n", "    extraEnvVars:\n      DB: postgresql://mlflow:hunter2@postgres:5432/mlflow\n")},
			[]string{"HelmRelease/flux-system/mlflow spec.values.extraEnvVars.DB"}},
		{"URL with a token in its query in a source", "no-secrets", "acme-azure",
			mutation{files: replace(acmeInfra+"sources.yaml", "url: oci://registry-1.docker.io/bitnamicharts/mongodb", "url: https://charts.example/mongodb?sv=2024-05-04&sig=abc%2Bdef")},
			[]string{"OCIRepository/flux-system/bitnami-mongodb spec.url"}},
		{"URLs with a token in a query or fragment in values", "no-secrets", "globex-cloud",
			mutation{files: replace("environments/globex-cloud/platform/mlflow.yaml", "    extraEnvVars:\n", "    extraEnvVars:\n      A: https://api.example/v1?page=2&access_token=ghp_abc\n      B: https://bucket.s3.amazonaws.com/x?X-Amz-Signature=0a1b\n      C: https://app.example/cb#token=abc\n")},
			[]string{"HelmRelease/flux-system/mlflow spec.values.extraEnvVars.A", "HelmRelease/flux-system/mlflow spec.values.extraEnvVars.B", "HelmRelease/flux-system/mlflow spec.values.extraEnvVars.C"}},
		{"URLs with other query parameters or a substituted token are not secrets", "no-secrets", "globex-cloud",
			mutation{files: replace("environments/globex-cloud/platform/mlflow.yaml", "    extraEnvVars:\n", "    extraEnvVars:\n      A: https://api.example/v1?page=2&monkey=1\n      B: https://api.example/v1?token=${API_TOKEN}\n      C: https://api.example/v1/token=abc\n      D: not a url?token=abc\n")},
			nil},
		{"URLs with a user or a substituted password are not secrets", "no-secrets", "globex-cloud",
			mutation{files: replace("environments/globex-cloud/platform/mlflow.yaml", "    extraEnvVars:\n", "    extraEnvVars:\n      A: oci://robot@registry.example/charts\n      B: postgresql://mlflow:${PG_PASSWORD}@postgres:5432/mlflow\n")},
			nil},
		{"references are not secrets", "no-secrets", "acme-azure",
			mutation{files: replace(acmePlat+"postgres.yaml", "  values:\n", "  values:\n    auth:\n      existingSecret: postgres-credentials\n      secretKeys:\n        adminPasswordKey: postgres-password\n      password: ${PG_PASSWORD}\n      usePasswordFiles: true\n      password2: \"\"\n    tlsSecret: postgres-tls\n")},
			nil},

		// charts-pinned
		{"HelmRelease version range", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeAddons+"superset.yaml", "version: 0.14.1", "version: '>=0.14.0'")},
			[]string{"HelmRelease/flux-system/superset spec.chart.spec.version"}},
		{"HelmRelease version *", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeAddons+"superset.yaml", "version: 0.14.1", "version: '*'")},
			[]string{"HelmRelease/flux-system/superset spec.chart.spec.version"}},
		{"HelmRelease without version", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeAddons+"superset.yaml", "      version: 0.14.1\n", "")},
			[]string{"HelmRelease/flux-system/superset spec.chart.spec.version"}},
		{"HelmRelease prerelease version", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeAddons+"superset.yaml", "version: 0.14.1", "version: 0.14.1-rc.1+build.5")},
			nil},
		{"OCIRepository semver", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeInfra+"sources.yaml", "tag: 16.7.0", "semver: '>=16.0.0'")},
			[]string{"OCIRepository/flux-system/bitnami-postgresql spec.ref.semver"}},
		{"OCIRepository latest", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeInfra+"sources.yaml", "tag: 16.7.0", "tag: latest")},
			[]string{"OCIRepository/flux-system/bitnami-postgresql spec.ref"}},
		{"OCIRepository without ref", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeInfra+"sources.yaml", "  ref:\n    tag: 16.7.0\n", "")},
			[]string{"OCIRepository/flux-system/bitnami-postgresql spec.ref"}},
		{"OCIRepository digest", "charts-pinned", "acme-azure",
			mutation{files: replace(acmeInfra+"sources.yaml", "tag: 16.7.0", "digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")},
			nil},
		{"GitRepository branch", "charts-pinned", "tesla-onprem",
			mutation{files: replace(teslaInfra+"sources.yaml", "tag: 1.8.5", "branch: master")},
			[]string{"GitRepository/flux-system/kubeflow-pipelines spec.ref"}},
		{"GitRepository semver", "charts-pinned", "tesla-onprem",
			mutation{files: replace(teslaInfra+"sources.yaml", "tag: 1.8.5", "semver: 1.8.x")},
			[]string{"GitRepository/flux-system/kubeflow-pipelines spec.ref.semver"}},
		{"GitRepository commit", "charts-pinned", "tesla-onprem",
			mutation{files: replace(teslaInfra+"sources.yaml", "tag: 1.8.5", "commit: 5f1d2e3c")},
			nil},
		{"GitRepository tag ref name", "charts-pinned", "tesla-onprem",
			mutation{files: replace(teslaInfra+"sources.yaml", "tag: 1.8.5", "name: refs/tags/1.8.5")},
			nil},

		// platform-pool
		{"release of no service on platform", "platform-pool", "globex-cloud",
			mutation{env: func(e *compile.EnvResult) {
				e.Releases = append(e.Releases, render.Release{Name: "jupyter", Pools: []config.Role{config.RolePlatform}})
			}},
			[]string{"HelmRelease/flux-system/jupyter"}},
		{"release of an unknown service on platform", "platform-pool", "globex-cloud",
			mutation{env: func(e *compile.EnvResult) {
				e.Releases = append(e.Releases, render.Release{Name: "team-app", Service: "team-app", Pools: []config.Role{config.RoleCompute, config.RolePlatform}})
			}},
			[]string{"HelmRelease/flux-system/team-app"}},
		{"release of an unknown service on compute", "platform-pool", "globex-cloud",
			mutation{env: func(e *compile.EnvResult) {
				e.Releases = append(e.Releases, render.Release{Name: "team-app", Service: "team-app", Pools: []config.Role{config.RoleCompute}})
			}},
			nil},

		// gpu-tainted
		{"gpu pool without taints", "gpu-tainted", "globex-cloud",
			mutation{input: func(in *input) {
				p := in.Environment.NodePools["gpu"]
				p.Taints = []taintIn{}
				in.Environment.NodePools["gpu"] = p
			}},
			[]string{"Environment/globex-cloud nodePools.gpu"}},
		{"gpu pool with a PreferNoSchedule taint only", "gpu-tainted", "globex-cloud",
			mutation{input: func(in *input) {
				p := in.Environment.NodePools["gpu"]
				p.Taints = []taintIn{{Key: "nvidia.com/gpu", Value: "true", Effect: "PreferNoSchedule"}}
				in.Environment.NodePools["gpu"] = p
			}},
			[]string{"Environment/globex-cloud nodePools.gpu"}},
		{"compute pool without taints", "gpu-tainted", "globex-cloud", mutation{}, nil},

		// helmrelease-remediation
		{"install retries 0", "helmrelease-remediation", "acme-azure",
			mutation{files: replace(acmePlat+"postgres.yaml", "  install:\n    remediation:\n      retries: 3\n", "  install:\n    remediation:\n      retries: 0\n")},
			[]string{"HelmRelease/flux-system/postgres spec.install.remediation.retries"}},
		{"no upgrade remediation", "helmrelease-remediation", "acme-azure",
			mutation{files: replace(acmePlat+"postgres.yaml", "    remediation:\n      remediateLastFailure: true\n      retries: 3\n", "")},
			[]string{"HelmRelease/flux-system/postgres spec.upgrade.remediation.retries"}},
		{"more retries", "helmrelease-remediation", "acme-azure",
			mutation{files: replace(acmePlat+"postgres.yaml", "  install:\n    remediation:\n      retries: 3\n", "  install:\n    remediation:\n      retries: 10\n")},
			nil},

		// default-deny
		{"deny policy selects some pods", "default-deny", "globex-cloud",
			mutation{files: replace(globexInfra+"network-policies.yaml", "  name: default-deny-ingress\n  namespace: application\nspec:\n  podSelector: {}\n",
				"  name: default-deny-ingress\n  namespace: application\nspec:\n  podSelector:\n    matchLabels:\n      app: x\n")},
			[]string{"Namespace/application"}},
		{"deny policy admits traffic", "default-deny", "globex-cloud",
			mutation{files: replace(globexInfra+"network-policies.yaml", "  name: default-deny-ingress\n  namespace: mlflow\nspec:\n  podSelector: {}\n",
				"  name: default-deny-ingress\n  namespace: mlflow\nspec:\n  ingress:\n  - {}\n  podSelector: {}\n")},
			[]string{"Namespace/mlflow"}},
		{"deny policy for egress only", "default-deny", "globex-cloud",
			mutation{files: replace(globexInfra+"network-policies.yaml", "  name: default-deny-ingress\n  namespace: mlflow\nspec:\n  podSelector: {}\n  policyTypes:\n  - Ingress\n",
				"  name: default-deny-ingress\n  namespace: mlflow\nspec:\n  podSelector: {}\n  policyTypes:\n  - Egress\n")},
			[]string{"Namespace/mlflow"}},
		{"release into an unguarded namespace", "default-deny", "globex-cloud",
			mutation{files: replace("environments/globex-cloud/platform/mlflow.yaml", "targetNamespace: mlflow", "targetNamespace: scratch")},
			[]string{"HelmRelease/flux-system/mlflow spec.targetNamespace"}},
		{"deny ingress and egress", "default-deny", "globex-cloud",
			mutation{files: replace(globexInfra+"network-policies.yaml", "  name: default-deny-ingress\n  namespace: mlflow\nspec:\n  podSelector: {}\n  policyTypes:\n  - Ingress\n",
				"  name: default-deny-ingress\n  namespace: mlflow\nspec:\n  podSelector: {}\n  policyTypes:\n  - Ingress\n  - Egress\n")},
			nil},

		// ingress-hosts
		{"chart ingress host of another domain", "ingress-hosts", "acme-azure",
			mutation{files: func(t *testing.T, files map[string][]byte) {
				p := acmeAddons + "superset.yaml"
				files[p] = bytes.ReplaceAll(files[p], []byte("dash-katonic.acme.example"), []byte("dash.other.example"))
			}},
			[]string{"HelmRelease/flux-system/superset spec.values.ingress.hosts[0]", "HelmRelease/flux-system/superset spec.values.ingress.tls[0].hosts[0]"}},
		{"nested chart ingress host", "ingress-hosts", "acme-azure",
			mutation{files: replace(acmeAddons+"airbyte.yaml", "- host: connectors-katonic.acme.example", "- host: airbyte.acme.example")},
			[]string{"HelmRelease/flux-system/airbyte spec.values.webapp.ingress.hosts[0].host"}},
		{"Ingress object", "ingress-hosts", "acme-azure",
			mutation{files: appendDoc(acmeAddons+"superset.yaml", fmt.Sprintf(ingress, "evil.example", "katonic.acme.example"))},
			[]string{"Ingress/application/web spec.rules[0].host"}},
		{"Ingress object on the platform hosts", "ingress-hosts", "acme-azure",
			mutation{files: appendDoc(acmeAddons+"superset.yaml", fmt.Sprintf(ingress, "katonic.acme.example", "connectors-katonic.acme.example"))},
			nil},
		{"dash host without Superset", "ingress-hosts", "acme-azure",
			mutation{env: func(e *compile.EnvResult) {
				svcs := maps.Clone(e.Env.Services)
				svcs["superset"] = config.Service{Enabled: false, Namespace: "superset"}
				e.Env.Services = svcs
			}},
			[]string{"HelmRelease/flux-system/superset spec.values.ingress.hosts[0]", "HelmRelease/flux-system/superset spec.values.ingress.tls[0].hosts[0]"}},

		// prune-timeout
		{"pruning Kustomization without timeout", "prune-timeout", "acme-azure",
			mutation{files: replace("clusters/acme-azure/platform.yaml", "  timeout: 15m0s\n", "")},
			[]string{"Kustomization/flux-system/platform spec.timeout"}},
		{"Kustomization without prune or timeout", "prune-timeout", "acme-azure",
			mutation{files: replace("clusters/acme-azure/platform.yaml", "  prune: true\n", "  prune: false\n")},
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := set.Policy(tc.policy); !ok {
				t.Fatalf("no policy %s", tc.policy)
			}
			var got []string
			for _, v := range tc.m.run(t, res, set, tc.env) {
				if v.Policy != tc.policy {
					t.Errorf("unexpected violation of %s: %+v", v.Policy, v)
					continue
				}
				s := v.Object
				if v.Path != "" {
					s += " " + v.Path
				}
				got = append(got, s)
				if v.Detail == "" {
					t.Errorf("violation without detail: %+v", v)
				}
				// An object that was not rendered (a release added to
				// EnvResult only) is placed in the environment's file.
				if v.File == "" || strings.HasPrefix(v.File, "out/") && v.Line == 0 {
					t.Errorf("violation without file and line: %+v", v)
				}
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("violations = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLines checks that a violation points at the offending field's line.
func TestLines(t *testing.T) {
	res, set := examples(t)
	env := envOf(t, res, "acme-azure")
	files := maps.Clone(res.Files)
	p := "environments/acme-azure/platform/postgres.yaml"
	replace(p, "  install:\n    remediation:\n      retries: 3\n", "  install:\n    remediation:\n      retries: 0\n")(t, files)
	r, err := set.Evaluate(env, files, "out")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Violations) != 1 {
		t.Fatalf("violations: %+v", r.Violations)
	}
	v := r.Violations[0]
	lines := strings.Split(string(files[p]), "\n")
	if v.File != "out/"+p || v.Line < 1 || v.Line > len(lines) || strings.TrimSpace(lines[v.Line-1]) != "retries: 0" {
		t.Errorf("violation at %s:%d, want the line of retries: 0 in out/%s", v.File, v.Line, p)
	}
	if v.Severity != SeverityError || v.Source == "" || v.Message == "" {
		t.Errorf("violation without the policy's severity, message or source: %+v", v)
	}
}

// TestEnvironmentLine checks that a violation of the environment points at
// the environment's file.
func TestEnvironmentLine(t *testing.T) {
	dir := testrepo.New(t, repoRoot, map[string]string{
		"environments/globex-cloud.cue": readFile(t, filepath.Join(repoRoot, "environments/globex-cloud.cue")),
		"policy/pools.cue": `package policy

policies: "gpu-small": {
	severity: "warning"
	message:  "a gpu pool has at most 2 nodes"
	source:   "team rule"
	violations: [for role, p in input.environment.nodePools if role == "gpu" && p.maxNodes > 2 {
		object: "Environment/\(input.environment.name)"
		path:   "nodePools.gpu.maxNodes"
		detail: "maxNodes is \(p.maxNodes)"
	}]
}
`,
	})
	r := evaluateRepo(t, dir, "globex-cloud")
	if len(r.Violations) != 1 {
		t.Fatalf("violations: %+v", r.Violations)
	}
	v := r.Violations[0]
	want := "environments/globex-cloud.cue"
	lines := strings.Split(readFile(t, filepath.Join(dir, want)), "\n")
	if v.File != want || v.Line < 1 || !strings.Contains(lines[v.Line-1], "gpu:") {
		t.Errorf("violation at %s:%d, want the gpu pool's line in %s", v.File, v.Line, want)
	}
	if v.Severity != SeverityWarning {
		t.Errorf("severity %s, want warning", v.Severity)
	}
	errs, warns, waived := Count([]*EnvResult{r})
	if errs != 0 || warns != 1 || waived != 0 {
		t.Errorf("Count = %d, %d, %d; want 0, 1, 0", errs, warns, waived)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// evaluateRepo renders environment env of the repository at dir and
// evaluates its policy set over it.
func evaluateRepo(t *testing.T, dir, env string) *EnvResult {
	t.Helper()
	res, err := compile.Compile(compile.Options{Dir: dir, Envs: []string{env}, Render: true})
	if err != nil {
		t.Fatalf("compile: %v: %v", err, res.Diags)
	}
	set, d, err := Load(dir)
	if err != nil {
		t.Fatalf("load: %v: %v", err, d)
	}
	r, err := set.Evaluate(res.Envs[0], res.Files, "out")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUserPolicy(t *testing.T) {
	acme := readFile(t, filepath.Join(repoRoot, "environments/acme-azure.cue"))
	user := `package policy

import "katonic.dev/katonic/schema"

// Releases go to the namespaces of the platform's services.
policies: "known-namespaces": {
	severity: "warning"
	message:  "HelmReleases target the namespace of a Katonic service"
	source:   "schema/services.cue, #Services"
	let known = {for _, s in schema.#Services {(s.namespace): true}}
	violations: [for o in input.objects if o.kind == "HelmRelease" && known[o.object.spec.targetNamespace] == _|_ {
		object: o.id
		path:   "spec.targetNamespace"
		detail: "namespace \(o.object.spec.targetNamespace) is no service's"
	}]
}
`
	dir := testrepo.New(t, repoRoot, map[string]string{
		"environments/acme-azure.cue": acme,
		"policy/team.cue":             user,
	})
	set, d, err := Load(dir)
	if err != nil {
		t.Fatalf("%v: %v", err, d)
	}
	if _, ok := set.Policy("known-namespaces"); !ok {
		t.Fatalf("user policy not loaded: %v", set.Policies())
	}
	if n := len(set.Policies()); n != 9 {
		t.Errorf("%d policies, want the 8 built-in ones and the user's", n)
	}
	r := evaluateRepo(t, dir, "acme-azure")
	if len(r.Violations) != 0 {
		t.Errorf("the example violates: %+v", r.Violations)
	}

	res, err := compile.Compile(compile.Options{Dir: dir, Render: true})
	if err != nil {
		t.Fatal(err)
	}
	files := maps.Clone(res.Files)
	replace("environments/acme-azure/platform/mlflow.yaml", "targetNamespace: mlflow", "targetNamespace: team-ml")(t, files)
	r, err = set.Evaluate(res.Envs[0], files, "out")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range r.Violations {
		got = append(got, v.Policy+" "+v.Object)
	}
	want := []string{"default-deny HelmRelease/flux-system/mlflow", "known-namespaces HelmRelease/flux-system/mlflow"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("violations = %q, want %q", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		// want is the start of the first diagnostic, formatted relative
		// to the repository.
		want string
	}{
		{"syntax error", "package policy\n\npolicies: \"x\": {\n\tseverity: \"error\"\n\tmessage: \n}\n",
			"policy/user.cue:6:1: error: expected operand"},
		{"not kebab-case", "package policy\n\npolicies: Bad_ID: {\n\tseverity: \"error\"\n\tmessage: \"m\"\n\tsource: \"s\"\n\tviolations: []\n}\n",
			"policy/user.cue:3:11: error: policies.Bad_ID: policy id \"Bad_ID\" is not kebab-case"},
		{"message depends on input", "package policy\n\npolicies: \"x\": {\n\tseverity: \"error\"\n\tmessage: input.environment.name\n\tsource: \"s\"\n\tviolations: []\n}\n",
			"policy/user.cue:3:11: error: policies.x.message: policy x: message must be a concrete string"},
		{"unknown severity", "package policy\n\npolicies: \"x\": {\n\tseverity: \"fatal\"\n\tmessage: \"m\"\n\tsource: \"s\"\n\tviolations: []\n}\n",
			"policy/user.cue:4:12: error: policies.x.severity: conflicting values"},
		{"violation field of the wrong type", "package policy\n\npolicies: \"x\": {\n\tseverity: \"error\"\n\tmessage: \"m\"\n\tsource: \"s\"\n\tviolations: [{object: 1, detail: \"d\"}]\n}\n",
			"policy/user.cue:7:2: error: policies.x.violations"},
		{"a policy that embeds a file", "@extern(embed)\n\npackage policy\n\nleak: _ @embed(file=/etc/hostname, type=text)\n",
			"policy/user.cue:1:1: error: user.cue uses @extern, which reads other files into the policies"},
		{"an @embed without @extern", "package policy\n\npolicies: \"x\": {\n\tseverity: \"error\"\n\tmessage: \"m\"\n\tsource: _ @embed(file=/etc/hostname, type=text)\n\tviolations: []\n}\n",
			"policy/user.cue:6:12: error: user.cue uses @embed, which reads other files into the policies"},
		{"a file over 1 MiB", "package policy\n\n// " + strings.Repeat("x", 1<<20) + "\n",
			"policy/user.cue:1:1: error: user.cue has 1048596 bytes; a policy file may have at most 1048576 (1 MiB)"},
		{"unknown import", "package policy\n\nimport \"nope.dev/x\"\n\nx: x.y\n",
			"policy/user.cue:3:8: error: \"katonic.dev/katonic/policy@v0\": import failed: cannot find package \"nope.dev/x\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := testrepo.New(t, repoRoot, map[string]string{"policy/user.cue": tc.file})
			set, d, err := Load(dir)
			if err == nil || set != nil {
				t.Fatalf("Load = %v, %v; want an error", set, err)
			}
			if len(d) == 0 {
				t.Fatal("no diagnostics")
			}
			got := d[0].Format(dir)
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("diagnostic %q, want prefix %q (all: %v)", got, tc.want, d)
			}
			if d[0].Pos.Line == 0 || d[0].Pos.Column == 0 {
				t.Errorf("diagnostic without line and column: %q", got)
			}
		})
	}
}

// TestLinkedFromOutside: a policy file that is a symbolic link out of the
// repository makes the set invalid, with a diagnostic at the link; one that
// stays in the repository is loaded.
func TestLinkedFromOutside(t *testing.T) {
	const policy = "package policy\n\npolicies: \"linked\": {\n\tseverity: \"warning\"\n\tmessage: \"m\"\n\tsource: \"s\"\n\tviolations: []\n}\n"
	tmp, err := filepath.EvalSymlinks(t.TempDir()) // as the message gives it (/tmp is a link on macOS)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(tmp, "linked.cue")
	if err := os.WriteFile(elsewhere, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := testrepo.New(t, repoRoot, map[string]string{"shared/linked.cue": policy})
	link := filepath.Join(dir, "policy", "linked.cue")
	if err := os.Symlink(filepath.Join("..", "shared", "linked.cue"), link); err != nil {
		t.Fatal(err)
	}
	if set, d, err := Load(dir); err != nil {
		t.Fatalf("a link inside the repository: %v %v", err, d)
	} else if _, ok := set.Policy("linked"); !ok {
		t.Fatal("a link inside the repository: the policy is not loaded")
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}
	set, d, err := Load(dir)
	if err == nil || set != nil || len(d) != 1 {
		t.Fatalf("a link out of the repository: Load = %v, %v, %v; want one diagnostic and an error", set, d, err)
	}
	want := "policy/linked.cue: error: linked.cue is a symbolic link to " + elsewhere + ", outside the repository"
	if got := d[0].Format(dir); !strings.HasPrefix(got, want) || d[0].Rule != "policy.layout" {
		t.Errorf("diagnostic %q, want prefix %q and rule policy.layout", got, want)
	}
}

// TestEvaluationError checks that a policy that fails over the input is
// reported once, in its own file, and the others still run.
func TestEvaluationError(t *testing.T) {
	dir := testrepo.New(t, repoRoot, map[string]string{"policy/user.cue": `package policy

policies: "broken": {
	severity: "error"
	message:  "m"
	source:   "s"
	violations: [for o in input.objects {object: o.id, detail: o.object.spec.nothere}]
}
`})
	set, d, err := Load(dir)
	if err != nil {
		t.Fatal(err, d)
	}
	res, _ := examples(t)
	env := envOf(t, res, "acme-azure")
	files := maps.Clone(res.Files)
	replace("clusters/acme-azure/platform.yaml", "  timeout: 15m0s\n", "")(t, files)
	r, err := set.Evaluate(env, files, "out")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) != 1 || len(r.Violations) != 1 || r.Violations[0].Policy != "prune-timeout" {
		t.Fatalf("result: %+v", r)
	}
	got := r.Errors[0].Format(dir)
	if want := "policy/user.cue:7:"; !strings.HasPrefix(got, want) || !strings.Contains(got, "policy broken does not evaluate") {
		t.Errorf("error %q, want %q... policy broken does not evaluate", got, want)
	}
}

func TestLoadEmpty(t *testing.T) {
	for _, files := range []map[string]string{nil, {"policy/README.md": "no policies yet\n"}} {
		dir := t.TempDir()
		if err := testrepo.CopyDir(filepath.Join(repoRoot, "cue.mod"), filepath.Join(dir, "cue.mod")); err != nil {
			t.Fatal(err)
		}
		for name, body := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		set, d, err := Load(dir)
		if err != nil || len(d) > 0 {
			t.Fatalf("Load: %v %v", err, d)
		}
		if len(set.Policies()) != 0 {
			t.Errorf("policies: %v", set.Policies())
		}
		res, _ := examples(t)
		env := envOf(t, res, "acme-azure")
		r, err := set.Evaluate(env, res.Files, "out")
		if err != nil || len(r.Violations) > 0 || len(r.Errors) > 0 {
			t.Errorf("Evaluate: %v %+v", err, r)
		}
		env.Env.Waivers = map[string]string{"no-secrets": "x"}
		if r, err = set.Evaluate(env, res.Files, "out"); err != nil || r.Errors.Errors() != 1 {
			t.Errorf("a waiver with no policies: %v %+v", err, r)
		}
	}
}

func TestWaivers(t *testing.T) {
	acme := readFile(t, filepath.Join(repoRoot, "environments/acme-azure.cue"))
	i := strings.LastIndex(acme, "}")
	withWaivers := func(w string) string { return acme[:i] + "\twaivers: {\n" + w + "\t}\n" + acme[i:] }

	t.Run("waived", func(t *testing.T) {
		dir := testrepo.New(t, repoRoot, map[string]string{
			"environments/acme-azure.cue": withWaivers("\t\t\"prune-timeout\": \"the platform layer may take as long as its interval (OPS-42)\"\n"),
		})
		res, err := compile.Compile(compile.Options{Dir: dir, Render: true})
		if err != nil {
			t.Fatalf("%v: %v", err, res.Diags)
		}
		set, _, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		files := maps.Clone(res.Files)
		replace("clusters/acme-azure/platform.yaml", "  timeout: 15m0s\n", "")(t, files)
		r, err := set.Evaluate(res.Envs[0], files, "out")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Errors) > 0 || len(r.Violations) != 1 {
			t.Fatalf("result: %+v", r)
		}
		v := r.Violations[0]
		if !v.Waived || v.Reason != "the platform layer may take as long as its interval (OPS-42)" || v.Policy != "prune-timeout" {
			t.Errorf("violation not waived with its reason: %+v", v)
		}
		errs, warns, waived := Count([]*EnvResult{r})
		if errs != 0 || warns != 0 || waived != 1 {
			t.Errorf("Count = %d, %d, %d; want 0, 0, 1", errs, warns, waived)
		}
		var b bytes.Buffer
		if err := WriteText(&b, []*EnvResult{r}); err != nil {
			t.Fatal(err)
		}
		want := "out/clusters/acme-azure/platform.yaml:7: waived (the platform layer may take as long as its interval (OPS-42)): [prune-timeout] Kustomization/flux-system/platform: " + v.Message + ": " + v.Detail + " [" + v.Source + "]\n"
		if b.String() != want {
			t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
		}
	})

	t.Run("unknown policy", func(t *testing.T) {
		dir := testrepo.New(t, repoRoot, map[string]string{
			"environments/acme-azure.cue": withWaivers("\t\t\"no-such-policy\": \"because\"\n"),
		})
		r := evaluateRepo(t, dir, "acme-azure")
		if len(r.Errors) != 1 {
			t.Fatalf("errors: %v", r.Errors)
		}
		got := r.Errors[0].Format(dir)
		lines := strings.Split(withWaivers("\t\t\"no-such-policy\": \"because\"\n"), "\n")
		line := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "no-such-policy") }) + 1
		want := fmt.Sprintf("environments/acme-azure.cue:%d:3: error: environments.\"acme-azure\".waivers.\"no-such-policy\": waiver of unknown policy \"no-such-policy\"", line)
		if !strings.HasPrefix(got, want) {
			t.Errorf("error %q, want prefix %q", got, want)
		}
		if errs, _, _ := Count([]*EnvResult{r}); errs != 1 {
			t.Errorf("Count errors = %d, want 1", errs)
		}
	})
}

// failing returns results of the examples with violations: acme-azure
// without a timeout (waived) and with a version range, and globex-cloud
// with a literal password.
func failing(t *testing.T) (*Set, []*EnvResult) {
	res, set := examples(t)
	files := maps.Clone(res.Files)
	replace("clusters/acme-azure/platform.yaml", "  timeout: 15m0s\n", "")(t, files)
	replace("environments/acme-azure/addons/superset.yaml", "version: 0.14.1", "version: ~0.14")(t, files)
	replace("environments/globex-cloud/platform/postgres.yaml", "  values:\n", "  values:\n    auth:\n      password: hunter2\n")(t, files)
	var rs []*EnvResult
	for _, e := range res.Envs {
		env := envOf(t, res, e.Env.Name)
		if env.Env.Name == "acme-azure" {
			env.Env.Waivers = map[string]string{"prune-timeout": "OPS-42"}
		}
		r, err := set.Evaluate(env, files, "out")
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return set, rs
}

func TestWriteText(t *testing.T) {
	_, rs := failing(t)
	var b bytes.Buffer
	if err := WriteText(&b, rs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		"out/environments/acme-azure/addons/superset.yaml:15: error: [charts-pinned] HelmRelease/flux-system/superset: ",
		"out/clusters/acme-azure/platform.yaml:7: waived (OPS-42): [prune-timeout] Kustomization/flux-system/platform: ",
		"out/environments/globex-cloud/platform/postgres.yaml:",
	}
	if len(lines) != len(want) {
		t.Fatalf("text:\n%s", b.String())
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]) {
			t.Errorf("line %d: %q, want prefix %q", i+1, l, want[i])
		}
		if strings.Contains(l, "hunter2") {
			t.Errorf("line %d repeats the secret: %q", i+1, l)
		}
	}
	if errs, warns, waived := Count(rs); errs != 2 || warns != 0 || waived != 1 {
		t.Errorf("Count = %d, %d, %d; want 2, 0, 1", errs, warns, waived)
	}
}

func TestWriteJSON(t *testing.T) {
	_, rs := failing(t)
	var b bytes.Buffer
	if err := WriteJSON(&b, rs); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int `json:"schemaVersion"`
		Environments  []struct {
			Name       string           `json:"name"`
			Violations []map[string]any `json:"violations"`
			Errors     []map[string]any `json:"errors"`
		} `json:"environments"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || len(doc.Environments) != 3 {
		t.Fatalf("document: %s", b.String())
	}
	acme := doc.Environments[0]
	if acme.Name != "acme-azure" || len(acme.Violations) != 2 || acme.Errors == nil {
		t.Fatalf("acme-azure: %+v", acme)
	}
	v := acme.Violations[1]
	for k, want := range map[string]any{"policy": "prune-timeout", "severity": "error", "object": "Kustomization/flux-system/platform",
		"file": "out/clusters/acme-azure/platform.yaml", "line": 7.0, "path": "spec.timeout", "waived": true, "reason": "OPS-42"} {
		if v[k] != want {
			t.Errorf("%s = %v, want %v", k, v[k], want)
		}
	}
	if !strings.Contains(b.String(), `"violations": []`) {
		t.Errorf("an environment without violations has no empty list:\n%s", b.String())
	}
}

func TestWriteSARIF(t *testing.T) {
	set, rs := failing(t)
	rs[2].Errors = diag.List{{Severity: diag.Error, Pos: diag.Pos{Filename: "environments/tesla-onprem.cue", Line: 3, Column: 2}, Message: "waiver of unknown policy \"x\"", Rule: "policy.waiver"}}
	var b bytes.Buffer
	if err := WriteSARIF(&b, set, rs, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["version"] != "2.1.0" || !strings.Contains(fmt.Sprint(doc["$schema"]), "sarif-schema-2.1.0") {
		t.Errorf("version %v, $schema %v", doc["version"], doc["$schema"])
	}
	rep, err := sarif.FromBytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Errorf("SARIF schema: %v", err)
	}
	if len(rep.Runs) != 1 {
		t.Fatalf("%d runs", len(rep.Runs))
	}
	run := rep.Runs[0]
	d := run.Tool.Driver
	if d.Name == nil || *d.Name != "katonic" || d.Version == nil || *d.Version != "v1.2.3" || len(d.Rules) != len(set.Policies()) {
		t.Errorf("driver: %+v", d)
	}
	for i, r := range d.Rules {
		p := set.Policies()[i]
		if *r.ID != p.ID || *r.ShortDescription.Text != p.Message || *r.FullDescription.Text != p.Source || r.DefaultConfiguration.Level != p.Severity {
			t.Errorf("rule %d: %+v, want policy %+v", i, r, p)
		}
	}
	if len(run.Results) != 3 {
		t.Fatalf("%d results, want 3", len(run.Results))
	}
	suppressed := 0
	for _, r := range run.Results {
		if r.RuleID == nil || *r.RuleID == "" || r.Message == nil || r.Message.Text == nil || *r.Message.Text == "" || (r.Level != "error" && r.Level != "warning") {
			t.Errorf("result without ruleId, message or level: %+v", r)
		}
		if r.RuleIndex < 0 || *d.Rules[r.RuleIndex].ID != *r.RuleID {
			t.Errorf("result %s: ruleIndex %d", *r.RuleID, r.RuleIndex)
		}
		loc := r.Locations[0].PhysicalLocation
		if !strings.HasPrefix(*loc.ArtifactLocation.URI, "out/") || loc.Region == nil || loc.Region.StartLine == nil || *loc.Region.StartLine < 1 {
			t.Errorf("result %s: location %+v", *r.RuleID, loc)
		}
		if len(r.Suppressions) > 0 {
			suppressed++
			s := r.Suppressions[0]
			if *r.RuleID != "prune-timeout" || *s.Kind != "external" || *s.Justification != "OPS-42" {
				t.Errorf("suppression of %s: %+v", *r.RuleID, s)
			}
		}
	}
	if suppressed != 1 {
		t.Errorf("%d suppressed results, want 1", suppressed)
	}
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful == nil || *inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 1 {
		t.Errorf("invocation: %+v", inv)
	}
}

// TestConcurrentEvaluate evaluates every example at once (run with -race)
// and checks the results do not depend on it.
func TestConcurrentEvaluate(t *testing.T) {
	res, set := examples(t)
	_, rs := failing(t)
	got := make([]*EnvResult, len(res.Envs))
	files := maps.Clone(res.Files)
	replace("clusters/acme-azure/platform.yaml", "  timeout: 15m0s\n", "")(t, files)
	replace("environments/acme-azure/addons/superset.yaml", "version: 0.14.1", "version: ~0.14")(t, files)
	replace("environments/globex-cloud/platform/postgres.yaml", "  values:\n", "  values:\n    auth:\n      password: hunter2\n")(t, files)
	envs := make([]compile.EnvResult, len(res.Envs))
	for i, e := range res.Envs {
		envs[i] = envOf(t, res, e.Env.Name)
		if e.Env.Name == "acme-azure" {
			envs[i].Env.Waivers = map[string]string{"prune-timeout": "OPS-42"}
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(envs))
	for i := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = set.Evaluate(envs[i], files, "out")
		}()
	}
	wg.Wait()
	for i := range envs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !reflect.DeepEqual(got[i], rs[i]) {
			t.Errorf("%s: concurrent result differs:\n%+v\n%+v", envs[i].Env.Name, got[i], rs[i])
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	res, set := examples(t)
	env := envOf(t, res, "acme-azure")
	if _, err := set.Evaluate(compile.EnvResult{}, res.Files, "out"); err == nil {
		t.Error("nil environment: no error")
	}
	if _, err := set.Evaluate(env, map[string][]byte{}, "out"); err == nil || !strings.Contains(err.Error(), "not among the rendered files") {
		t.Errorf("missing file: %v", err)
	}
	files := maps.Clone(res.Files)
	files["environments/acme-azure/platform/postgres.yaml"] = []byte("kind: [\n")
	r, err := set.Evaluate(env, files, "out")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) != 1 || r.Errors[0].Pos.Filename != "out/environments/acme-azure/platform/postgres.yaml" {
		t.Errorf("a file that is not YAML: %v", r.Errors)
	}
}

func TestPaths(t *testing.T) {
	tests := []struct {
		segs []string
		path string
	}{
		{[]string{"spec", "values", "hosts", "0"}, "spec.values.hosts[0]"},
		{[]string{"metadata", "labels", "katonic.ai/node-pool"}, `metadata.labels["katonic.ai/node-pool"]`},
		{[]string{"a", "b[c]", "d"}, `a["b[c]"].d`},
		{[]string{"0", "x"}, "[0].x"},
		{[]string{"a", `q"`, "1", "2"}, `a["q\""][1][2]`},
		{[]string{"kind"}, "kind"},
	}
	for _, tc := range tests {
		if got := fieldpath.Join(tc.segs); got != tc.path {
			t.Errorf("fieldpath.Join(%q) = %q, want %q", tc.segs, got, tc.path)
		}
		if got := fieldpath.Split(tc.path); !reflect.DeepEqual(got, tc.segs) {
			t.Errorf("fieldpath.Split(%q) = %q, want %q", tc.path, got, tc.segs)
		}
	}
}

// TestInput checks the input katonic fills for an example against the
// contract of policy/policy.cue.
func TestInput(t *testing.T) {
	res, _ := examples(t)
	env := envOf(t, res, "acme-azure")
	in, objs, errs, err := buildInput(env, res.Files, nil, "out")
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	if want := []string{"katonic.acme.example", "dash-katonic.acme.example", "connectors-katonic.acme.example"}; !reflect.DeepEqual(in.Environment.Hosts, want) {
		t.Errorf("hosts = %q, want %q", in.Environment.Hosts, want)
	}
	gpu := in.Environment.NodePools["gpu"]
	if gpu.Labels["katonic.ai/gpu-type"] != "v100" || len(gpu.Taints) != 2 {
		t.Errorf("gpu pool: %+v", gpu)
	}
	if len(in.Objects) != len(objs) || len(in.Releases) != len(env.Releases) {
		t.Errorf("%d objects (%d ids), %d releases", len(in.Objects), len(objs), len(in.Releases))
	}
	var leaf *leafIn
	for i, l := range in.Leaves {
		if l.ID == "HelmRelease/flux-system/superset" && l.Path == "spec.values.ingress.hosts[0]" {
			leaf = &in.Leaves[i]
		}
	}
	want := leafIn{ID: "HelmRelease/flux-system/superset", Kind: "HelmRelease", File: "out/environments/acme-azure/addons/superset.yaml",
		Path: "spec.values.ingress.hosts[0]", Key: "hosts", Value: "dash-katonic.acme.example", Type: "string"}
	if leaf == nil || *leaf != want {
		t.Errorf("leaf = %+v, want %+v", leaf, want)
	}
	for _, o := range in.Objects {
		if o.Kind == "Kustomization" && o.Name == "" && !strings.HasPrefix(o.ID, "Kustomization/out/") {
			t.Errorf("unnamed document id %q", o.ID)
		}
	}
}
