package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gonvenience/ytbx"
)

const (
	acmeSuperset = "environments/acme-azure/addons/superset.yaml"
	acmeAirbyte  = "environments/acme-azure/addons/airbyte.yaml"
	acmeIstio    = "environments/acme-azure/platform/istio.yaml"
	acmePostgres = "environments/acme-azure/platform/postgres.yaml"
	acmeSources  = "environments/acme-azure/infrastructure/sources.yaml"
	acmeNS       = "environments/acme-azure/infrastructure/namespaces.yaml"
	acmeUI       = "environments/acme-azure/platform/katonic-ui.yaml"
	acmeMLflow   = "environments/acme-azure/platform/mlflow.yaml"
	teslaSuper   = "environments/tesla-onprem/addons/superset.yaml"
	acmeInternal = "      annotations:\n        service.beta.kubernetes.io/azure-load-balancer-internal: \"true\"\n"
)

// risks lists every risk of rep as "env ref class level" (ref "-" for
// environment-level risks), sorted.
func risks(rep *Report) []string {
	var out []string
	for _, e := range rep.Envs {
		for _, r := range e.Risks {
			out = append(out, strings.Join([]string{e.Name, "-", r.Class, r.Level}, " "))
		}
		for _, o := range e.Objects {
			for _, r := range o.Risks {
				out = append(out, strings.Join([]string{e.Name, o.Ref(), r.Class, r.Level}, " "))
			}
		}
	}
	sort.Strings(out)
	return out
}

// findObject returns the ObjectDiff ref of env in rep, or nil.
func findObject(rep *Report, env, ref string) *ObjectDiff {
	for _, e := range rep.Envs {
		for i, o := range e.Objects {
			if e.Name == env && o.Ref() == ref {
				return &e.Objects[i]
			}
		}
	}
	return nil
}

// outputs renders rep in the three formats.
func outputs(t *testing.T, rep *Report) (text, md, js string) {
	t.Helper()
	var a, b, c bytes.Buffer
	if err := rep.WriteText(&a, false); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&b, 0); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&c); err != nil {
		t.Fatal(err)
	}
	return a.String(), b.String(), c.String()
}

// wantField is a FieldChange expected on object ref of environment env.
type wantField struct {
	env, ref string
	fc       FieldChange
}

func TestRiskClasses(t *testing.T) {
	var airbyteFC, postgresFC FieldChange
	tests := []struct {
		name   string
		mutate func(t *testing.T, from, to Side)
		want   []string // every risk, as risks() writes them
		// field, when set, must be among the object's FieldChanges.
		field *wantField
		// message, when set, must be part of the first risk's message.
		message string
		// hidden must appear in no output.
		hidden []string
		// dyn, when set, replaces field.fc once mutate ran (versions
		// read from the render).
		dyn *FieldChange
	}{
		{
			name: "deleted: HelmRelease file removed",
			mutate: func(t *testing.T, from, to Side) {
				delete(to.Files, acmeAirbyte)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/airbyte deleted high"},
			message: "Kustomization/flux-system/addons has prune: true, so Flux deletes it from the cluster",
		},
		{
			name: "deleted: Namespace removed under prune",
			mutate: func(t *testing.T, from, to Side) {
				dropDoc(t, to, acmeNS, func(d string) bool { return strings.Contains(d+"\n", "  name: airbyte\n") })
			},
			want:    []string{"acme-azure Namespace/airbyte deleted high"},
			message: "Kustomization/flux-system/infrastructure has prune: true, so Flux deletes the namespace and everything in it",
		},
		{
			name: "prune: Flux Kustomization prune true → false",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, "clusters/acme-azure/platform.yaml", "prune: true", "prune: false", 1)
			},
			want: []string{"acme-azure Kustomization/flux-system/platform prune high"},
			field: &wantField{"acme-azure", "Kustomization/flux-system/platform",
				FieldChange{Path: "spec.prune", Change: FieldModified, Old: "true", New: "false"}},
		},
		{
			name: "chart-major: HelmRelease chart version",
			mutate: func(t *testing.T, from, to Side) {
				old, cur := bumpVersion(t, to, acmeAirbyte, "kind: HelmRelease", "version", false)
				airbyteFC = FieldChange{Path: "spec.chart.spec.version", Change: FieldModified, Old: old, New: cur}
			},
			want:  []string{"acme-azure HelmRelease/flux-system/airbyte chart-major high"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/airbyte", FieldChange{}},
			dyn:   &airbyteFC,
		},
		{
			name: "chart-major: OCIRepository tag",
			mutate: func(t *testing.T, from, to Side) {
				bumpVersion(t, to, acmeSources, "name: bitnami-postgresql", "tag", false)
			},
			want: []string{"acme-azure OCIRepository/flux-system/bitnami-postgresql chart-major high"},
		},
		{
			name: "chart minor version: a change, no risk",
			mutate: func(t *testing.T, from, to Side) {
				old, cur := bumpVersion(t, to, acmeSources, "name: bitnami-postgresql", "tag", true)
				postgresFC = FieldChange{Path: "spec.ref.tag", Change: FieldModified, Old: old, New: cur}
			},
			want:  nil,
			field: &wantField{"acme-azure", "OCIRepository/flux-system/bitnami-postgresql", FieldChange{}},
			dyn:   &postgresFC,
		},
		{
			name: "node-pool: pool removed, capacity reduced",
			mutate: func(t *testing.T, from, to Side) {
				e := to.Envs["acme-azure"]
				delete(e.NodePools, "gpu")
				p := e.NodePools["compute"]
				p.MaxNodes, p.CPU = 5, 4
				e.NodePools["compute"] = p
			},
			want:    []string{"acme-azure - node-pool high", "acme-azure - node-pool high"},
			message: "node pool compute capacity reduced: maxNodes 10 → 5, cpu 8 → 4",
		},
		{
			name: "node-pool: capacity raised, no risk and no change",
			mutate: func(t *testing.T, from, to Side) {
				e := to.Envs["acme-azure"]
				p := e.NodePools["compute"]
				p.MaxNodes = 20
				e.NodePools["compute"] = p
			},
			want: nil,
		},
		{
			name: "exposure: load balancer internal → external (environment rule wins)",
			mutate: func(t *testing.T, from, to Side) {
				to.Envs["acme-azure"].LoadBalancer = "external"
				replace(t, to, acmeIstio, acmeInternal, "", 1)
			},
			want:    []string{"acme-azure - exposure high"},
			message: "load balancer internal → external",
		},
		{
			name: "exposure: load balancer external → internal, no object changed",
			mutate: func(t *testing.T, from, to Side) {
				to.Envs["globex-cloud"].LoadBalancer = "internal"
			},
			want:    []string{"globex-cloud - exposure high"},
			message: "load balancer external → internal",
		},
		{
			name: "exposure: gateway loses its internal annotation, no environments given",
			mutate: func(t *testing.T, from, to Side) {
				clear(from.Envs)
				clear(to.Envs)
				replace(t, to, acmeIstio, acmeInternal, "", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/istio-gateway exposure high"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/istio-gateway",
				FieldChange{Path: "spec.values.service.annotations", Change: FieldRemoved,
					Old: `{service.beta.kubernetes.io/azure-load-balancer-internal: "true"}`}},
		},
		{
			name: "exposure: new public host on an external load balancer",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, teslaSuper, "      - dash-katonic.tesla.com\n      ingressClassName", "      - dash-katonic.tesla.com\n      - extra.tesla.com\n      ingressClassName", 1)
			},
			want:    []string{"tesla-onprem HelmRelease/flux-system/superset exposure medium"},
			message: "new public host extra.tesla.com",
		},
		{
			name: "exposure: new host behind an internal load balancer, no risk",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "      - dash-katonic.acme.example\n      ingressClassName", "      - dash-katonic.acme.example\n      - extra.acme.example\n      ingressClassName", 1)
			},
			want: nil,
		},
		{
			name: "dns: host replaced",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "dash-katonic.acme.example", "dash.katonic.acme.example", -1)
			},
			want:    []string{"acme-azure HelmRelease/flux-system/superset dns high"},
			message: "host dash-katonic.acme.example replaced (new: dash.katonic.acme.example)",
			field: &wantField{"acme-azure", "HelmRelease/flux-system/superset",
				FieldChange{Path: "spec.values.ingress.hosts[0]", Change: FieldModified, Old: "dash-katonic.acme.example", New: "dash.katonic.acme.example"}},
		},
		{
			name: "dns: platform domain of Katonic's chart changed",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeUI, "domain: katonic.acme.example", "domain: platform.acme.example", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/katonic-ui dns high"},
		},
		{
			name: "dns: in-cluster Service host changed, no risk",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeMLflow, "host: postgres-postgresql.application.svc.cluster.local", "host: pg.application.svc.cluster.local", 1)
			},
			want: nil,
		},
		{
			name: "tls: ingress TLS entry removed",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeAirbyte, "        tls:\n        - hosts:\n          - connectors-katonic.acme.example\n          secretName: airbyte-tls\n", "", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/airbyte tls high"},
		},
		{
			name: "tls and dns: whole ingress block removed",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "    ingress:\n      enabled: true\n      hosts:\n      - dash-katonic.acme.example\n      ingressClassName: istio\n      path: /\n      pathType: Prefix\n      tls:\n      - hosts:\n        - dash-katonic.acme.example\n        secretName: superset-tls\n", "", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/superset dns high", "acme-azure HelmRelease/flux-system/superset tls high"},
		},
		{
			name: "tls: ingress TLS list emptied",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeSuperset, "      tls:\n      - hosts:\n        - dash-katonic.acme.example\n        secretName: superset-tls\n", "      tls: []\n", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/superset tls high"},
		},
		{
			name: "secret-ref: valuesFrom name changed, value hidden",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmePostgres, "name: postgres-credentials", "name: pg-shadow-creds", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/postgres secret-ref medium"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/postgres",
				FieldChange{Path: "spec.valuesFrom", Change: FieldModified, Redacted: true}},
			hidden: []string{"pg-shadow-creds", "postgres-credentials"},
		},
		{
			name: "secret-ref: one key of a multi-entry valuesFrom changed, entry name hidden",
			mutate: func(t *testing.T, from, to Side) {
				replace(t, to, acmeAirbyte, "valuesKey: minio-secret-key", "valuesKey: minio-shadow-key", 1)
			},
			want: []string{"acme-azure HelmRelease/flux-system/airbyte secret-ref medium"},
			field: &wantField{"acme-azure", "HelmRelease/flux-system/airbyte",
				FieldChange{Path: "spec.valuesFrom", Change: FieldModified, Redacted: true}},
			hidden: []string{"minio-shadow-key", "minio-secret-key", "airbyte-credentials"},
		},
		{
			name: "Secret data changed: value hidden, no reference risk",
			mutate: func(t *testing.T, from, to Side) {
				const s = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n  namespace: application\ndata:\n  password: %s\nstringData:\n  token: %s\n"
				from.Files["environments/acme-azure/infrastructure/secrets.yaml"] = fmt.Appendf(nil, s, "b2xkLXNlY3JldA==", "old-token-value")
				to.Files["environments/acme-azure/infrastructure/secrets.yaml"] = fmt.Appendf(nil, s, "bmV3LXNlY3JldA==", "new-token-value")
			},
			want: nil,
			field: &wantField{"acme-azure", "Secret/application/extra",
				FieldChange{Path: "data.password", Change: FieldModified, Redacted: true}},
			hidden: []string{"b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==", "old-token-value", "new-token-value"},
		},
		{
			name: "object moved to another file: (file) field",
			mutate: func(t *testing.T, from, to Side) {
				to.Files["environments/acme-azure/platform/database.yaml"] = to.Files[acmePostgres]
				delete(to.Files, acmePostgres)
			},
			want: nil,
			field: &wantField{"acme-azure", "HelmRelease/flux-system/postgres",
				FieldChange{Path: "(file)", Change: FieldModified, Old: acmePostgres, New: "environments/acme-azure/platform/database.yaml"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from, to := base(t), base(t)
			tc.mutate(t, from, to)
			rep, err := Compare(from, to, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := risks(rep)
			sort.Strings(tc.want)
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("risks:\n got %q\nwant %q", got, tc.want)
			}
			if tc.message != "" {
				found := false
				for _, e := range rep.Envs {
					for _, r := range e.Risks {
						found = found || strings.Contains(r.Message, tc.message)
					}
					for _, o := range e.Objects {
						for _, r := range o.Risks {
							found = found || strings.Contains(r.Message, tc.message)
						}
					}
				}
				if !found {
					t.Errorf("no risk message contains %q", tc.message)
				}
			}
			if tc.field != nil {
				if tc.dyn != nil {
					tc.field.fc = *tc.dyn
				}
				o := findObject(rep, tc.field.env, tc.field.ref)
				if o == nil {
					t.Fatalf("no object %s in %s", tc.field.ref, tc.field.env)
				}
				found := false
				for _, f := range o.Fields {
					found = found || f == tc.field.fc
				}
				if !found {
					t.Errorf("fields of %s: %+v, want among them %+v", tc.field.ref, o.Fields, tc.field.fc)
				}
			}
			text, md, js := outputs(t, rep)
			for _, h := range tc.hidden {
				for name, out := range map[string]string{"text": text, "markdown": md, "json": js} {
					if strings.Contains(out, h) {
						t.Errorf("%s output shows %q:\n%s", name, h, out)
					}
				}
			}
			// Every risk reaches every format.
			for _, r := range got {
				class := strings.Fields(r)[2]
				if !strings.Contains(text, " "+class+"]") || !strings.Contains(md, "`"+class+"`") || !strings.Contains(js, `"class": "`+class+`"`) {
					t.Errorf("risk class %s missing from an output", class)
				}
			}
		})
	}
}

func TestUnchanged(t *testing.T) {
	rep, err := Compare(base(t), base(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Envs) != 0 || rep.SchemaVersion != SchemaVersion {
		t.Fatalf("report of identical trees: %+v", rep)
	}
	if e, o, h, m := rep.Counts(); e+o+h+m != 0 {
		t.Errorf("Counts() = %d, %d, %d, %d", e, o, h, m)
	}
	text, md, js := outputs(t, rep)
	if text != "no changes\n" {
		t.Errorf("text = %q", text)
	}
	if !strings.Contains(md, "No changes.") {
		t.Errorf("markdown = %q", md)
	}
	if !strings.Contains(js, `"environments": []`) {
		t.Errorf("json = %q", js)
	}
}

func TestEnvironmentAddedRemoved(t *testing.T) {
	from, to := base(t), base(t)
	removeEnv(to, "globex-cloud")
	renameEnv(to, "tesla-onprem", "tesla-two")
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range rep.Envs {
		names = append(names, e.Name+":"+e.Change)
		for _, o := range e.Objects {
			if o.Change != e.Change {
				t.Errorf("%s: object %s is %s in a %s environment", e.Name, o.Ref(), o.Change, e.Change)
			}
			deleted := len(o.Risks) == 1 && o.Risks[0].Class == ClassDeleted && o.Risks[0].Level == LevelHigh
			kustomize := strings.HasPrefix(o.APIVersion, kustomizeAPIPrefix)
			if e.Change == ChangeRemoved && deleted == kustomize {
				t.Errorf("%s: removed object %s (%s) has risks %+v", e.Name, o.Ref(), o.APIVersion, o.Risks)
			}
		}
	}
	if want := []string{"globex-cloud:removed", "tesla-two:added"}; !reflect.DeepEqual(names, want) {
		t.Errorf("environments = %v, want %v", names, want)
	}
	// tesla-onprem is external: its public hosts are new in tesla-two.
	if got := risks(rep); !strings.Contains(strings.Join(got, "\n"), "tesla-two HelmRelease/flux-system/superset exposure medium") {
		t.Errorf("no new-host risk for the added environment: %q", got)
	}
}

// mutateAll applies several changes at once (for the format tests) and
// returns the old and new chart versions of airbyte.
func mutateAll(t *testing.T, from, to Side) (old, cur string) {
	old, cur = bumpVersion(t, to, acmeAirbyte, "kind: HelmRelease", "version", false)
	replace(t, to, acmePostgres, "name: postgres-credentials", "name: pg-shadow-creds", 1)
	replace(t, to, acmeSuperset, "dash-katonic.acme.example", "dash.katonic.acme.example", -1)
	replace(t, to, "clusters/acme-azure/platform.yaml", "  - name: infrastructure\n", "  - name: infrastructure\n  - name: extra\n", 1)
	dropDoc(t, to, acmeNS, func(d string) bool { return strings.Contains(d+"\n", "  name: airbyte\n") })
	p := to.Envs["acme-azure"].NodePools["compute"]
	p.MaxNodes = 5
	to.Envs["acme-azure"].NodePools["compute"] = p
	removeEnv(to, "globex-cloud")
	return old, cur
}

func TestDeterministic(t *testing.T) {
	var first [3]string
	for i := range 3 {
		from, to := base(t), base(t)
		mutateAll(t, from, to)
		rep, err := Compare(from, to, Options{})
		if err != nil {
			t.Fatal(err)
		}
		text, md, js := outputs(t, rep)
		got := [3]string{text, md, js}
		if i == 0 {
			first = got
			continue
		}
		for j, name := range []string{"text", "markdown", "json"} {
			if got[j] != first[j] {
				t.Errorf("run %d: %s output differs from the first run", i, name)
			}
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	from, to := base(t), base(t)
	mutateAll(t, from, to)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("JSON round trip differs:\n%s", buf.String())
	}
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["schemaVersion"] != float64(SchemaVersion) {
		t.Errorf("schemaVersion = %v, want %d", raw["schemaVersion"], SchemaVersion)
	}
	if _, ok := raw["environments"].([]any); !ok {
		t.Errorf("environments is %T, want a list", raw["environments"])
	}
}

func TestTextColor(t *testing.T) {
	from, to := base(t), base(t)
	old, cur := mutateAll(t, from, to)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := rep.WriteText(&buf, color); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if has := strings.Contains(out, "\x1b["); has != color {
			t.Errorf("color=%v: ANSI codes present = %v", color, has)
		}
		if !color {
			for _, want := range []string{
				"~ HelmRelease/flux-system/airbyte (addons/airbyte)\n  spec.chart.spec.version: " + old + " → " + cur + "\n  [HIGH chart-major] ",
				"  spec.dependsOn: + {name: extra}\n",
				"  spec.valuesFrom: changed\n",
				"[HIGH node-pool] node pool compute capacity reduced: maxNodes 10 → 5",
				"- Namespace/airbyte (infrastructure/namespaces)\n  [HIGH deleted] ",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("text output lacks %q:\n%s", want, out)
				}
			}
		}
	}
}

func TestMarkdown(t *testing.T) {
	// A small change fits whole.
	from, to := base(t), base(t)
	old, cur := mutateAll(t, from, to)
	rep, err := Compare(from, to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var small bytes.Buffer
	if err := rep.WriteMarkdown(&small, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `acme-azure` ⚠ |",
		"| `globex-cloud` (removed) |",
		"- ⚠ **high** `chart-major` `acme-azure` `HelmRelease/flux-system/airbyte`: ",
		"<details><summary>acme-azure ~ <code>HelmRelease/flux-system/airbyte</code> (addons/airbyte) ⚠ chart-major</summary>",
		"```diff\n- spec.chart.spec.version: " + old + "\n+ spec.chart.spec.version: " + cur + "\n```",
	} {
		if !strings.Contains(small.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(small.String(), "summarised") {
		t.Errorf("a small report was summarised")
	}

	// 300 removed environments do not fit.
	huge := base(t)
	for i := range 300 {
		renameEnv(huge, "acme-azure", fmt.Sprintf("site-%03d", i))
	}
	rep, err = Compare(huge, base(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, objects, _, _ := rep.Counts()
	if objects < 300*50 {
		t.Fatalf("only %d objects in the synthetic change", objects)
	}
	tests := []struct {
		limit, max int
		note       string
	}{
		{0, GitHubCommentLimit, "65,536"},
		{-1, GitHubCommentLimit, "65,536"},
		{GitHubCommentLimit, GitHubCommentLimit, "65,536"},
		{10000, 10000, "10,000"},
		{400, 400, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			var buf bytes.Buffer
			if err := rep.WriteMarkdown(&buf, tc.limit); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if len(out) > tc.max {
				t.Fatalf("%d bytes, limit %d", len(out), tc.max)
			}
			if tc.note == "" {
				return
			}
			for _, want := range []string{
				"not shown: the comment is limited to " + tc.note + " characters; run `katonic diff` locally",
				"it is summarised below",
				"more objects in ",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("summarised markdown lacks %q:\n%s", want, out[max(0, len(out)-600):])
				}
			}
			if o, c := strings.Count(out, "<details>"), strings.Count(out, "</details>"); o != c {
				t.Errorf("%d <details> but %d </details>", o, c)
			}
			if strings.Count(out, "```")%2 != 0 {
				t.Errorf("unbalanced code fences")
			}
		})
	}
}

func TestCompareErrors(t *testing.T) {
	tests := []struct {
		name, file, content, want string
	}{
		{"invalid YAML", "environments/acme-azure/platform/bad.yaml", "a: [", "bad.yaml"},
		{"not a mapping", "environments/acme-azure/platform/bad.yaml", "- a\n- b\n", "not a mapping"},
		{"no kind", "environments/acme-azure/platform/bad.yaml", "apiVersion: v1\nmetadata:\n  name: x\n", "no apiVersion or kind"},
		{"no name", "environments/acme-azure/platform/bad.yaml", "apiVersion: v1\nkind: ConfigMap\n", "no metadata.name"},
		{"defined twice", "environments/acme-azure/platform/again.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: airbyte\n", "defined twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := base(t)
			to.Files[tc.file] = []byte(tc.content)
			_, err := Compare(base(t), to, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSkippedFiles(t *testing.T) {
	to := base(t)
	to.Files[".katonic-generated"] = []byte("# changed manifest\n")
	to.Files["README.md"] = []byte("not yaml: [")
	to.Files["environments/acme-azure/notes.txt"] = []byte("a: [")
	to.Files["environments/acme-azure/platform/empty.yaml"] = []byte("# nothing\n---\n")
	rep, err := Compare(base(t), to, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Envs) != 0 {
		t.Errorf("skipped files produced changes: %+v", rep.Envs)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		path, env, where, service string
		ok                        bool
	}{
		{"clusters/acme/platform.yaml", "acme", "clusters/platform", "flux", true},
		{"clusters/acme/kustomization.yaml", "acme", "clusters/kustomization", "flux", true},
		{"clusters/acme/flux-system/gotk-sync.yaml", "acme", "clusters/gotk-sync", "flux", true},
		{"environments/acme/platform/postgres.yaml", "acme", "platform/postgres", "postgres", true},
		{"environments/acme/platform/kustomization.yaml", "acme", "platform/kustomization", "flux", true},
		{"environments/acme/infrastructure/storage.yaml", "acme", "infrastructure/storage", "infrastructure", true},
		{"environments/acme/addons/superset.yml", "acme", "addons/superset", "superset", true},
		{".katonic-generated", "", "", "", false},
		{"environments/acme/README.md", "", "", "", false},
		{"other/acme/x.yaml", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			env, layer, stem, ok := classify(tc.path)
			if ok != tc.ok || env != tc.env {
				t.Fatalf("classify = %q, %v; want %q, %v", env, ok, tc.env, tc.ok)
			}
			if !ok {
				return
			}
			if w := (ObjectDiff{File: tc.path}).Where(); w != tc.where {
				t.Errorf("Where() = %q, want %q", w, tc.where)
			}
			if s := serviceOf(layer, stem); s != tc.service {
				t.Errorf("service = %q, want %q", s, tc.service)
			}
		})
	}
}

func TestFormatPath(t *testing.T) {
	key := func(n string) ytbx.PathElement { return ytbx.PathElement{Idx: -1, Name: n} }
	tests := []struct {
		path []ytbx.PathElement
		want string
	}{
		{nil, "(root)"},
		{[]ytbx.PathElement{key("spec"), key("values"), key("primary"), key("nodeSelector")}, "spec.values.primary.nodeSelector"},
		{[]ytbx.PathElement{key("spec"), key("dependsOn"), {Idx: -1, Key: "name", Name: "platform"}}, "spec.dependsOn[name=platform]"},
		{[]ytbx.PathElement{key("hosts"), {Idx: 0}}, "hosts[0]"},
		{[]ytbx.PathElement{key("annotations"), key("service.beta.kubernetes.io/x")}, `annotations["service.beta.kubernetes.io/x"]`},
		{[]ytbx.PathElement{key("")}, `[""]`},
	}
	for _, tc := range tests {
		if got := formatPath(tc.path); got != tc.want {
			t.Errorf("formatPath(%+v) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"a: 1", "{a: 1}"},
		{"a: [x, 'y']", "{a: [x, y]}"},
		{"a: 'true'", `{a: "true"}`},
		{"a: '1.0'", `{a: "1.0"}`},
		{"a: ''", `{a: ""}`},
		{"a: |\n  two\n  lines\n", `{a: "two\nlines\n"}`},
		{"a: null", "{a: null}"},
		{"a: {b: c}", "{a: {b: c}}"},
		{"a: 'x: y'", `{a: "x: y"}`},
	}
	for _, tc := range tests {
		docs, err := ytbx.LoadYAMLDocuments([]byte(tc.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if got := oneLine(docs[0]); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.yaml, got, tc.want)
		}
	}
}
