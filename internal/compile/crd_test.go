package compile_test

import (
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/katonic/katonic/internal/crdschema"
)

// TestFluxObjectsValidateAgainstCRDs validates every Flux object of the
// rendered examples against the Flux CRDs katonic embeds (generated from the
// pinned Flux API modules; internal/crdschema's tests prove them equal to
// the upstream CRDs) — OpenAPI schema, unknown fields and CEL rules — with
// the API server's own validation code.
func TestFluxObjectsValidateAgainstCRDs(t *testing.T) {
	v, err := crdschema.Flux()
	if err != nil {
		t.Fatal(err)
	}
	res := renderRepo(t)
	names := make([]string, 0, len(res.Files))
	for p := range res.Files {
		names = append(names, p)
	}
	sort.Strings(names)
	kinds := map[string]int{}
	for _, p := range names {
		for _, doc := range strings.Split(string(res.Files[p]), "\n---\n") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			api, _ := obj["apiVersion"].(string)
			if !strings.Contains(api, ".fluxcd.io/") {
				continue
			}
			kinds[obj["kind"].(string)]++
			for _, e := range v.Validate(obj) {
				t.Errorf("%s: %s %v: %v", p, obj["kind"], obj["metadata"].(map[string]any)["name"], e)
			}
		}
	}
	for _, k := range []string{"Kustomization", "HelmRelease", "HelmRepository", "OCIRepository", "GitRepository"} {
		if kinds[k] == 0 {
			t.Errorf("no %s validated: the examples should render every Flux kind", k)
		}
	}
	t.Logf("validated Flux objects: %v", kinds)
}
