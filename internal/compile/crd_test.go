package compile_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/katonic/katonic/internal/crdschema"
)

// fluxCRDs is the upstream Flux CRDs, byte for byte (shared reference
// material next to the repository; absent on a user's machine).
const fluxCRDs = "../../../shared/reference/flux-crds"

// TestFluxObjectsValidateAgainstCRDs validates every Flux object of the
// rendered examples against the upstream Flux CRDs — OpenAPI schema,
// unknown fields and CEL rules — with the API server's own validation code.
func TestFluxObjectsValidateAgainstCRDs(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(fluxCRDs, "*.yaml"))
	if len(paths) == 0 {
		t.Skipf("no Flux CRDs at %s: they are shared reference material beside the repository, not part of it", fluxCRDs)
	}
	var crds [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, b)
	}
	v, err := crdschema.New(crds...)
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
