package catalog

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var (
	exact   = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?$`)
	dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

func TestVersions(t *testing.T) {
	if got := Versions(); !reflect.DeepEqual(got, []string{"4.5", "5.0.9"}) {
		t.Errorf("Versions() = %v", got)
	}
	if _, err := Lookup("9.9"); err == nil || !strings.Contains(err.Error(), "4.5, 5.0.9") {
		t.Errorf("Lookup(9.9) err = %v", err)
	}
}

func TestPins(t *testing.T) {
	ids := []string{ChartIstioBase, ChartIstiod, ChartIstioGateway, ChartKeycloakx, ChartMLflow, ChartMinIO,
		ChartMongoDB, ChartPostgreSQL, ChartRedis, ChartKubePrometheusStack, ChartSuperset, ChartAirbyte,
		ChartLonghorn, ChartKatonicUI, ChartKatonicAPI}
	for _, v := range Versions() {
		r, err := Lookup(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Charts) != len(ids) {
			t.Errorf("%s: %d charts, want %d", v, len(r.Charts), len(ids))
		}
		sources := map[string]Chart{}
		for _, id := range ids {
			c, ok := r.Chart(id)
			if !ok {
				t.Fatalf("%s: no chart %s", v, id)
			}
			if !exact.MatchString(c.Version) {
				t.Errorf("%s %s: version %q is not exact", v, id, c.Version)
			}
			if !dns1123.MatchString(c.Source) || len(c.Source) > 63 {
				t.Errorf("%s %s: source name %q", v, id, c.Source)
			}
			switch c.Kind {
			case OCIRepository:
				if !strings.HasPrefix(c.URL, "oci://") || !strings.HasSuffix(c.URL, "/"+c.Chart) {
					t.Errorf("%s %s: OCI URL %q", v, id, c.URL)
				}
				if prev, dup := sources[c.Source]; dup {
					t.Errorf("%s: OCIRepository %s serves %s and %s", v, c.Source, prev.Chart, c.Chart)
				}
			case HelmRepository:
				if !strings.HasPrefix(c.URL, "https://") {
					t.Errorf("%s %s: URL %q", v, id, c.URL)
				}
				if prev, dup := sources[c.Source]; dup && prev.URL != c.URL {
					t.Errorf("%s: HelmRepository %s has two URLs", v, c.Source)
				}
			default:
				t.Errorf("%s %s: kind %q", v, id, c.Kind)
			}
			sources[c.Source] = c
		}
		if r.Pipelines.URL != "https://github.com/kubeflow/pipelines" || r.Pipelines.Path != "./manifests/kustomize/env/platform-agnostic" || !exact.MatchString(r.Pipelines.Tag) {
			t.Errorf("%s: pipelines %+v", v, r.Pipelines)
		}
		for _, id := range []string{ChartKatonicUI, ChartKatonicAPI} {
			if c := r.Charts[id]; !c.Private || c.Version != chartVersion(v) || !exact.MatchString(c.Version) {
				t.Errorf("%s %s: %+v", v, id, c)
			}
		}
		if got := r.ChartIDs(); len(got) != len(ids) {
			t.Errorf("ChartIDs = %v", got)
		}
	}
}

func TestLookupReturnsCopies(t *testing.T) {
	a, _ := Lookup("5.0.9")
	a.Charts[ChartRedis] = Chart{Version: "x"}
	b, _ := Lookup("5.0.9")
	if b.Charts[ChartRedis].Version == "x" {
		t.Error("Lookup shares state between callers")
	}
}

func TestKubernetesRange(t *testing.T) {
	for cons, want := range map[string]string{
		"":                     "any",
		">=1.25.0-0":           "1.25 and later",
		">=1.25.0-0 <1.30.0-0": "1.25 to 1.29",
		"<1.34.0-0":            "up to 1.33",
		"~1.2":                 "~1.2",
	} {
		if got := (Chart{KubeVersion: cons}).KubernetesRange(); got != want {
			t.Errorf("KubernetesRange(%q) = %q, want %q", cons, got, want)
		}
	}
}

// Every pin supports every Kubernetes version its platform version allows
// at the bottom (the profiles' and the platform's minimums), so that no
// profile's minimum is refused by a pin; and every pin has its facts.
func TestPinsCoverTheMinimums(t *testing.T) {
	profileMins := map[string][]string{"4.5": {"1.25", "1.27"}, "5.0.9": {"1.29"}}
	for _, v := range Versions() {
		r, _ := Lookup(v)
		for _, id := range r.ChartIDs() {
			c := r.Charts[id]
			if c.AppVersion == "" || c.PinSource == "" {
				t.Errorf("%s %s: no appVersion or source: %+v", v, id, c)
			}
			if !c.Private && len(c.Registries) == 0 {
				t.Errorf("%s %s: no image registries", v, id)
			}
			for _, k := range profileMins[v] {
				min, _ := MinKubernetes(v, k, "")
				if ok, err := c.SupportsKubernetes(min); err != nil || !ok {
					t.Errorf("%s %s %s does not support Kubernetes %s (%v)", v, id, c.Version, min, err)
				}
			}
		}
		if r.Pipelines.PinSource == "" || len(r.Pipelines.Images) == 0 {
			t.Errorf("%s: pipelines pin has no source or images", v)
		}
	}
}

// The README's chart table lists every pin with its version, application
// version and Kubernetes range (the README says a test keeps it in step).
func TestREADMEChartTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skipf("README.md not found: %v", err)
	}
	rows := strings.Split(string(b), "\n")
	for _, v := range Versions() {
		r, _ := Lookup(v)
		for _, id := range r.ChartIDs() {
			c := r.Charts[id]
			version, app := c.Version, c.AppVersion
			if c.Private {
				version, app = "= platform version", "= platform version"
			}
			want := "| " + version + " | " + app + " | " + c.KubernetesRange() + " |"
			found := false
			for _, row := range rows {
				if strings.Contains(row, "`"+c.Chart+"`") && strings.Contains(row, want) {
					found = true
				}
			}
			if !found {
				t.Errorf("README's chart table has no row for %s %s with %q", c.Chart, c.Version, want)
			}
		}
	}
}
