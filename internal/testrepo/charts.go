package testrepo

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/chartrepo"
	"github.com/katonic/katonic/internal/render"
)

// MockCharts writes, under dir, one chart source directory per chart of
// katonic's catalog for platformVersion (dir/<chart name>/), with the
// catalog's chart name and version. Each chart is a stand-in written for the
// tests, not the real chart: for every placement key katonic sets on it
// (render.Placements) it renders a Deployment whose pod takes nodeSelector
// and tolerations from that values path, the way the real charts do, with
// a pinned image from the chart's registries (catalog.Chart.Registries), and
// Superset's chart renders an Ingress from ingress.hosts. Charts that share
// a name (MinIO) are written once. Serve dir with internal/chartrepo.
func MockCharts(dir, platformVersion string) error {
	rel, err := catalog.Lookup(platformVersion)
	if err != nil {
		return err
	}
	for _, id := range rel.ChartIDs() {
		c, _ := rel.Chart(id)
		cdir := filepath.Join(dir, c.Chart)
		if err := os.MkdirAll(filepath.Join(cdir, "templates"), 0o755); err != nil {
			return err
		}
		files := map[string]string{
			"Chart.yaml":          fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ndescription: stand-in for tests\n", c.Chart, c.Version),
			"values.yaml":         "{}\n",
			"templates/pods.yaml": mockPods(id, c.Registries),
		}
		if id == catalog.ChartSuperset {
			files["templates/ingress.yaml"] = mockIngress
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(cdir, filepath.FromSlash(name)), []byte(body), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// mockPods is a template with one Deployment per placement key of chart id,
// or a ConfigMap for charts without pods. Its images are pinned and come
// from the chart's first registry (registry.example for charts without).
func mockPods(id string, registries []string) string {
	registry := "registry.example"
	if len(registries) > 0 {
		registry = registries[0]
	}
	ps := render.Placements(id)
	if len(ps) == 0 {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata: {}\n"
	}
	var b strings.Builder
	for i, p := range ps {
		slug := "main"
		var keys string
		if p.Path != "" {
			slug = strings.ToLower(strings.NewReplacer(".", "-", "_", "-").Replace(p.Path))
			for _, k := range strings.Split(p.Path, ".") {
				keys += fmt.Sprintf("%q ", k)
			}
		}
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-%[1]s
spec:
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      {{- with (dig %[2]s"nodeSelector" (dict) .Values.AsMap) }}
      nodeSelector: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (dig %[2]s"tolerations" (list) .Values.AsMap) }}
      tolerations: {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
      - name: app
        image: %[4]s/mock:%[3]d
`, slug, keys, i, registry)
	}
	return b.String()
}

const mockIngress = `{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .Release.Name }}
spec:
  ingressClassName: {{ .Values.ingress.ingressClassName }}
  rules:
  {{- range .Values.ingress.hosts }}
  - host: {{ . }}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: {{ $.Release.Name }}, port: {number: 8088}}
  {{- end }}
{{- end }}
`

// MirrorCharts fills dir with a chart repository's packages for the
// platform versions given: every packaged chart (<name>-<version>.tgz) of
// refDir, the real upstream charts (../shared/reference/charts in tests; a
// missing refDir gives none), and a stand-in made by MockCharts, packaged
// under work, for every chart of those versions' catalogs that refDir
// lacks. It returns the stand-ins as "<chart> <version>", sorted, and
// writes no index: the caller indexes dir as `helm repo index` does.
func MirrorCharts(dir, refDir, work string, versions ...string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	refs, _ := filepath.Glob(filepath.Join(refDir, "*.tgz"))
	for _, f := range refs {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			return nil, err
		}
		have[strings.TrimSuffix(filepath.Base(f), ".tgz")] = true
	}
	var standIns []string
	for _, v := range versions {
		rel, err := catalog.Lookup(v)
		if err != nil {
			return nil, err
		}
		src := filepath.Join(work, "stand-ins", v)
		if err := MockCharts(src, v); err != nil {
			return nil, err
		}
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
			standIns = append(standIns, c.Chart+" "+c.Version)
		}
	}
	sort.Strings(standIns)
	return standIns, nil
}
