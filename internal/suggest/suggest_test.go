package suggest

import "testing"

func TestClosest(t *testing.T) {
	for _, tc := range []struct {
		word       string
		candidates []string
		want       string
		ok         bool
	}{
		{"memoryGib", []string{"cpu", "memoryGiB", "minNodes"}, "memoryGiB", true},
		{"platfrom", []string{"compute", "deployment", "platform"}, "platform", true},
		{"clod", []string{"azure-private", "cloud", "onprem"}, "cloud", true},
		{"region", []string{"domain", "profile", "services"}, "", false},
		{"x", []string{"y"}, "", false},
		{"X", []string{"y", "x"}, "x", true},
		{"x", nil, "", false},
		{"ab", []string{"cd"}, "", false},
	} {
		got, ok := Closest(tc.word, tc.candidates)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Closest(%q, %v) = %q, %v; want %q, %v", tc.word, tc.candidates, got, ok, tc.want, tc.ok)
		}
	}
}
