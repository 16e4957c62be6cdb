package render

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
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
	got, _, err := encode(obj)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("encode:\n%s\nsigs.k8s.io/yaml:\n%s", got, want)
	}
}

// TestObjectsMatchFiles: Result.Objects holds, for every file katonic
// encodes, exactly the documents its YAML decodes to, in order and with
// the same types (int64 for integers, float64 for other numbers), so the
// policies may read them instead of parsing the YAML.
func TestObjectsMatchFiles(t *testing.T) {
	for _, p := range profiles {
		res := mustRender(t, testEnv("acme", p), Options{})
		if len(res.Objects) != len(res.Files) {
			t.Errorf("%s: objects for %d files, want all %d", p, len(res.Objects), len(res.Files))
		}
		for name, b := range res.Files {
			var want []any
			dec := yamlv3.NewDecoder(bytes.NewReader(b))
			for {
				var doc any
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("%s %s: %v", p, name, err)
				}
				want = append(want, int64s(doc))
			}
			var got []any
			for _, m := range res.Objects[name] {
				got = append(got, m)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: objects differ from the YAML:\n got %v\nwant %v", p, name, got, want)
			}
		}
	}
}

// int64s turns the ints yaml.v3 decodes into int64, recursively.
func int64s(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = int64s(e)
		}
	case []any:
		for i, e := range x {
			x[i] = int64s(e)
		}
	case int:
		return int64(x)
	}
	return v
}
