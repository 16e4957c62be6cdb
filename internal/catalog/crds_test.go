package catalog_test

import (
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/charts"
)

// refCharts is the Helm repository of the real upstream charts
// (../shared/reference/charts from the repository root).
const refCharts = "../../../shared/reference/charts"

// Every pin's CRD layout is what its real chart ships: CRDs in a crds/
// directory (the chart's or a subchart's, Helm's chart.CRDObjects), else
// CustomResourceDefinitions among the templates rendered with the chart's
// default values, else none. Pins whose chart is not in the reference
// mirror must say so with CRDsUnknown, or carry a source.
func TestCRDLayoutsMatchTheCharts(t *testing.T) {
	if _, err := os.Stat(refCharts); err != nil {
		t.Skipf("no %s: the real charts are not available here", refCharts)
	}
	seen := map[string]bool{}
	for _, v := range catalog.Versions() {
		r, _ := catalog.Lookup(v)
		for _, id := range r.ChartIDs() {
			c := r.Charts[id]
			name := c.Chart + "-" + c.Version
			if seen[name] {
				continue
			}
			seen[name] = true
			archive := filepath.Join(refCharts, name+".tgz")
			if _, err := os.Stat(archive); err != nil {
				if c.CRDs != catalog.CRDsUnknown && c.CRDSource == "" {
					t.Errorf("%s: layout %q without a source", name, c.CRDs)
				}
				continue
			}
			ch, err := loader.Load(archive)
			if err != nil {
				t.Fatal(err)
			}
			want := catalog.CRDsNone
			if len(ch.CRDObjects()) > 0 {
				want = catalog.CRDsDir
			} else {
				ms, err := charts.Template(ch, charts.TemplateOptions{ReleaseName: "crds", KubeVersion: "1.29.0"})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, m := range ms {
					if m.Object["kind"] == "CustomResourceDefinition" {
						want = catalog.CRDsTemplates
						break
					}
				}
			}
			if c.CRDs != want || c.CRDSource == "" {
				t.Errorf("%s: CRDs %q (source %q), the chart ships %q", name, c.CRDs, c.CRDSource, want)
			}
		}
	}
}

func TestChartCRDs(t *testing.T) {
	tests := []struct {
		chart, version string
		layout         catalog.CRDLayout
		pinned         string
	}{
		{"base", "1.20.8", catalog.CRDsDir, "1.20.8"},
		{"base", "1.26.8", catalog.CRDsTemplates, "1.26.8"},
		{"base", "1.30.0", catalog.CRDsTemplates, "1.26.8"}, // not pinned: the newest pin says
		{"kube-prometheus-stack", "89.0.0", catalog.CRDsDir, "88.0.0"},
		{"longhorn", "1.9.0", catalog.CRDsTemplates, "1.9.0"},
		{"postgresql", "16.7.0", catalog.CRDsNone, "16.7.0"},
		{"katonic-ui", "5.0.9", catalog.CRDsUnknown, ""},
		{"no-such-chart", "1.0.0", catalog.CRDsUnknown, ""},
	}
	for _, tc := range tests {
		layout, source, pinned := catalog.ChartCRDs(tc.chart, tc.version)
		if layout != tc.layout || pinned != tc.pinned || (layout != catalog.CRDsUnknown) != (source != "") {
			t.Errorf("ChartCRDs(%s, %s) = %q, %q, %q; want %q, pinned %q", tc.chart, tc.version, layout, source, pinned, tc.layout, tc.pinned)
		}
	}
}
