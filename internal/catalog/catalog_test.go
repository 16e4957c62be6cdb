package catalog

import (
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
