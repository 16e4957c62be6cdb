package render

import (
	"testing"

	"sigs.k8s.io/yaml"
)

// TestEncodeMatchesSigsYAML: encode writes exactly what sigs.k8s.io/yaml
// (the Kubernetes convention) writes for the same object, numbers, quoting
// and key order included, without its JSON round trip.
func TestEncodeMatchesSigsYAML(t *testing.T) {
	obj := map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "x", "labels": map[string]any{"a10": "1", "a9": "true", "b": "4.5"}},
		"data": map[string]any{
			"int": 3, "big": 1000000000, "neg": -7, "float": 0.5, "exp": 1.5e-7, "huge": 1e21,
			"list": []any{1, "2", 3.25, true, nil, map[string]any{"k": "v: x"}},
			"str":  "multi\nline", "empty": "", "null": nil, "yes": "yes", "star": "*", "colon": "a: b",
		},
	}
	want, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encode(obj)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("encode:\n%s\nsigs.k8s.io/yaml:\n%s", got, want)
	}
}
