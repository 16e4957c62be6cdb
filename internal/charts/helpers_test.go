package charts

import (
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// writeFiles writes files (slash paths relative to root) under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// simpleChart returns the files of a chart with one ConfigMap whose data
// holds note.
func simpleChart(name, version, note string) map[string]string {
	return map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"values.yaml":              "note: " + note + "\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + name + "\ndata:\n  note: {{ .Values.note | quote }}\n",
	}
}

// loadChart writes files as a chart directory and loads it with Helm.
func loadChart(t *testing.T, files map[string]string) *chart.Chart {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
