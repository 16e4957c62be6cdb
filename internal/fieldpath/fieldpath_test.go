package fieldpath

import (
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"":                               nil,
		"spec":                           {"spec"},
		"spec.dependsOn[0].name":         {"spec", "dependsOn", "0", "name"},
		"spec.values[a.b]":               {"spec", "values", "a.b"},
		`metadata.labels["x"]`:           {"metadata", "labels", "x"},
		`metadata.labels["a]b.c"]`:       {"metadata", "labels", "a]b.c"},
		"spec.valuesFrom[2]":             {"spec", "valuesFrom", "2"},
		"spec.template.spec.containers[": {"spec", "template", "spec", "containers", ""},
	} {
		if got := Split(in); !slices.Equal(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJoinSplit(t *testing.T) {
	for _, segs := range [][]string{
		{"spec", "values", "hosts", "0"},
		{"metadata", "labels", "katonic.ai/node-pool"},
		{"a", "", "b[c]", `q"uote`},
	} {
		if got := Split(Join(segs)); !slices.Equal(got, segs) {
			t.Errorf("Split(Join(%q)) = %q", segs, got)
		}
	}
}

// FuzzSplit: field paths come from error messages; no input may panic,
// a path without brackets splits on its dots, and Join then Split gives the
// segments back.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"spec.a[0].b", "a[", "]]..[[", `x["y"]`, `m["a.b"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Split(s)
		if !strings.ContainsAny(s, "[]") {
			var want []string
			for _, p := range strings.Split(s, ".") {
				if p != "" {
					want = append(want, p)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("Split(%q) = %q, want %q", s, got, want)
			}
		}
		if back := Split(Join(got)); len(got) > 0 && !slices.Equal(back, got) {
			t.Errorf("Split(Join(%q)) = %q", got, back)
		}
	})
}
