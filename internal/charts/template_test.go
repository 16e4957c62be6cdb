package charts

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// webChart is a chart exercising what Template must handle: values and
// their schema, a kubeVersion constraint, capabilities, hooks and test
// hooks, NOTES.txt, a CRD and a conditional subchart.
var webChart = map[string]string{
	"Chart.yaml": `apiVersion: v2
name: web
version: 1.0.0
kubeVersion: ">=1.25.0-0"
dependencies:
  - name: sub
    version: 0.1.0
    condition: sub.enabled
`,
	"values.yaml": `replicaCount: 1
image: nginx:1.0
sub:
  enabled: false
`,
	"values.schema.json": `{
  "$schema": "https://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "replicaCount": {"type": "integer", "minimum": 1},
    "image": {"type": "string"}
  },
  "required": ["replicaCount", "image"]
}`,
	"templates/_helpers.tpl": `{{- define "web.name" -}}{{ .Release.Name }}-web{{- end -}}`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.name" . }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
`,
	"templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ include "web.name" . }}
spec:
  ports:
    - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: b-{{ include "web.name" . }}
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a-{{ include "web.name" . }}
`,
	"templates/servicemonitor.yaml": `{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "web.name" . }}
{{- end }}
`,
	"templates/hooks.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "web.name" . }}-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-weight": "-5"
`,
	"templates/tests/test.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ include "web.name" . }}-test
  annotations:
    helm.sh/hook: test
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "web.name" . }}-test-legacy
  annotations:
    helm.sh/hook: test-success
`,
	"templates/NOTES.txt": "Thanks for installing {{ .Chart.Name }}.\n",
	"crds/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
`,
	"charts/sub/Chart.yaml":               "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
	"charts/sub/values.yaml":              "color: blue\n",
	"charts/sub/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-sub\ndata:\n  color: {{ .Values.color }}\n",
}

// summary renders manifests as "template kind/name [hook]" lines.
func summary(ms []Manifest) string {
	var b strings.Builder
	for _, m := range ms {
		md, _ := m.Object["metadata"].(map[string]any)
		fmt.Fprintf(&b, "%s %s/%s", m.Template, m.Object["kind"], md["name"])
		if m.Hook != "" {
			fmt.Fprintf(&b, " [%s]", m.Hook)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestTemplate(t *testing.T) {
	ch := loadChart(t, webChart) // shared: Template must not modify it
	const base = `web/templates/deployment.yaml Deployment/rel-web
web/templates/hooks.yaml Job/rel-web-migrate [pre-install,pre-upgrade]
web/templates/service.yaml ConfigMap/a-rel-web
web/templates/service.yaml ConfigMap/b-rel-web
web/templates/service.yaml Service/rel-web
`
	tests := []struct {
		name    string
		opts    TemplateOptions
		want    string
		check   func(t *testing.T, ms []Manifest)
		wantErr []string
	}{
		{
			name: "defaults",
			opts: TemplateOptions{ReleaseName: "rel", Namespace: "apps", KubeVersion: "1.29"},
			want: base,
			check: func(t *testing.T, ms []Manifest) {
				dep := ms[0].Object
				if got := dep["metadata"].(map[string]any)["namespace"]; got != "apps" {
					t.Errorf("namespace = %v", got)
				}
				if got := dep["spec"].(map[string]any)["replicas"]; got != int64(1) {
					t.Errorf("replicas = %#v", got)
				}
				// As `helm template --kube-version 1.29`: Helm keeps the
				// components given.
				if got := ms[3].Object["data"].(map[string]any)["kube"]; got != "v1.29" {
					t.Errorf("kube version = %v", got)
				}
			},
		},
		{
			name: "values",
			opts: TemplateOptions{ReleaseName: "rel", Namespace: "apps", KubeVersion: "v1.30.2",
				Values: map[string]any{"replicaCount": 3, "image": "nginx:2.0"}},
			want: base,
			check: func(t *testing.T, ms []Manifest) {
				spec := ms[0].Object["spec"].(map[string]any)
				if got := spec["replicas"]; got != int64(3) {
					t.Errorf("replicas = %#v", got)
				}
				c := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
				if c["image"] != "nginx:2.0" {
					t.Errorf("image = %v", c["image"])
				}
				if got := ms[3].Object["data"].(map[string]any)["kube"]; got != "v1.30.2" {
					t.Errorf("kube version = %v", got)
				}
			},
		},
		{
			name: "api versions",
			opts: TemplateOptions{ReleaseName: "rel", KubeVersion: "1.29",
				APIVersions: []string{"monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"}},
			want: base + "web/templates/servicemonitor.yaml ServiceMonitor/rel-web\n",
		},
		{
			name: "subchart enabled",
			opts: TemplateOptions{ReleaseName: "rel", KubeVersion: "1.29",
				Values: map[string]any{"sub": map[string]any{"enabled": true, "color": "red"}}},
			want: "web/charts/sub/templates/configmap.yaml ConfigMap/rel-sub\n" + base,
			check: func(t *testing.T, ms []Manifest) {
				if got := ms[0].Object["data"].(map[string]any)["color"]; got != "red" {
					t.Errorf("subchart color = %v", got)
				}
			},
		},
		{
			name: "default namespace",
			opts: TemplateOptions{ReleaseName: "rel", KubeVersion: "1.29"},
			want: base,
			check: func(t *testing.T, ms []Manifest) {
				if got := ms[0].Object["metadata"].(map[string]any)["namespace"]; got != "default" {
					t.Errorf("namespace = %v", got)
				}
			},
		},
		{
			name:    "schema violation",
			opts:    TemplateOptions{ReleaseName: "rel", KubeVersion: "1.29", Values: map[string]any{"replicaCount": 0}},
			wantErr: []string{"template chart web 1.0.0: ", "values don't meet the specifications of the schema", "replicaCount"},
		},
		{
			name:    "schema type violation",
			opts:    TemplateOptions{ReleaseName: "rel", KubeVersion: "1.29", Values: map[string]any{"image": 5}},
			wantErr: []string{"template chart web 1.0.0: ", "image"},
		},
		{
			name:    "kube version too old",
			opts:    TemplateOptions{ReleaseName: "rel", KubeVersion: "1.24"},
			wantErr: []string{"template chart web 1.0.0: ", "chart requires kubeVersion: >=1.25.0-0 which is incompatible with Kubernetes v1.24"},
		},
		{
			name:    "kube version defaults to Helm's",
			opts:    TemplateOptions{ReleaseName: "rel"},
			wantErr: []string{"incompatible with Kubernetes v1.20.0"},
		},
		{
			name:    "invalid kube version",
			opts:    TemplateOptions{ReleaseName: "rel", KubeVersion: "banana"},
			wantErr: []string{`template chart web 1.0.0: invalid Kubernetes version "banana"`},
		},
		{
			name:    "invalid release name",
			opts:    TemplateOptions{ReleaseName: "Not_Valid", KubeVersion: "1.29"},
			wantErr: []string{"template chart web 1.0.0: ", `release name "Not_Valid"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var valuesBefore string
			if tt.opts.Values != nil {
				valuesBefore = fmt.Sprint(tt.opts.Values)
			}
			ms, err := Template(ch, tt.opts)
			if tt.opts.Values != nil && fmt.Sprint(tt.opts.Values) != valuesBefore {
				t.Errorf("Template modified the values: %v", tt.opts.Values)
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Template succeeded:\n%s", summary(ms))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("error = %v\nwant containing %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(ms); got != tt.want {
				t.Fatalf("manifests:\n%s\nwant:\n%s", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, ms)
			}
			again, err := Template(ch, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, ms) {
				t.Fatal("a second render differs")
			}
		})
	}
	if n := len(ch.Dependencies()); n != 1 || ch.Values["sub"].(map[string]any)["enabled"] != false {
		t.Fatalf("Template modified the chart: %d dependencies, values %v", n, ch.Values)
	}
}

func TestTemplateNoMetadata(t *testing.T) {
	if _, err := Template(nil, TemplateOptions{ReleaseName: "rel"}); err == nil {
		t.Fatal("Template(nil) succeeded")
	}
}

// TestTemplateConcurrent renders one chart from several goroutines (run
// with -race): Template shares no mutable state, not even Helm's default
// capabilities, which it extends with APIVersions.
func TestTemplateConcurrent(t *testing.T) {
	ch := loadChart(t, webChart)
	opts := []TemplateOptions{
		{ReleaseName: "a", KubeVersion: "1.29", APIVersions: []string{"monitoring.coreos.com/v1/ServiceMonitor"}},
		{ReleaseName: "b", KubeVersion: "1.30", Values: map[string]any{"sub": map[string]any{"enabled": true}}},
		{ReleaseName: "c", KubeVersion: "1.31"},
	}
	want := []int{6, 6, 5}
	errs := make(chan error, len(opts))
	for i, o := range opts {
		go func() {
			ms, err := Template(ch, o)
			if err == nil && len(ms) != want[i] {
				err = fmt.Errorf("%s: %d manifests, want %d:\n%s", o.ReleaseName, len(ms), want[i], summary(ms))
			}
			errs <- err
		}()
	}
	for range opts {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
