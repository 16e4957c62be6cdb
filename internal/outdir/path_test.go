package outdir

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	ok := []string{
		"a", "a.yaml", "clusters/acme/flux-system/gotk-sync.yaml", ".hidden", "a/.katonic-generated",
		"..a", "a..", "a/...", "ünïcode/ファイル.yaml", "with space.yaml", ".katonic-generated.bak",
		"C:/x", // a plain relative name on Unix; katonic does not target Windows paths
		"a/.katonic-lock", "a/.katonic-journal", ".katonic-staging.d/x", ".katonic-lockfile",
	}
	for _, p := range ok {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
	bad := map[string]string{
		"":                   "path is empty",
		"/etc/passwd":        "path is absolute",
		"/":                  "path is absolute",
		"a/":                 `path ends with "/"`,
		"a//b":               "empty segment",
		".":                  `"." segment`,
		"./a":                `"." segment`,
		"a/./b":              `"." segment`,
		"..":                 `".." segment`,
		"../a":               `".." segment`,
		"a/../../b":          `".." segment`,
		"a/..":               `".." segment`,
		`a\b`:                "backslash",
		`..\..\evil`:         "backslash",
		"a\x00b":             "NUL",
		"a\nb":               "control character",
		"a\rb":               "control character",
		"a\x7fb":             "control character",
		"\xff.yaml":          "UTF-8",
		ManifestName:         "ownership manifest",
		".katonic-journal":   "a name katonic reserves at the root",
		".katonic-staging/x": "path is under .katonic-staging, a name katonic reserves",
		".katonic-lock":      "a name katonic reserves at the root",
	}
	for p, want := range bad {
		err := CheckPath(p)
		var pe *PathError
		if !errors.As(err, &pe) || pe.Path != p || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckPath(%q) = %v, want a *PathError containing %q", p, err, want)
		}
	}
}

// FuzzCheckPath checks the promise of CheckPath: an accepted path has no ".."
// segment, is clean and relative, and joined to a root stays strictly inside it.
func FuzzCheckPath(f *testing.F) {
	for _, seed := range []string{
		"a.yaml", "clusters/acme/flux.yaml", "..", "../x", "a/../../x", "/abs", "a//b", "a/./b",
		`a\..\b`, "a\x00b", ManifestName, "", "...", "..a/b..", "a/", "\xff",
		".katonic-journal/x", ".katonic-staging", ".katonic-lock/a", "environments/e/addons/airbyte.yaml",
	} {
		f.Add(seed)
	}
	roots := []string{filepath.FromSlash("/srv/repo/out"), "out", filepath.FromSlash("rel/out")}
	f.Fuzz(func(t *testing.T, p string) {
		if plainPath(p) && checkPathRules(p) != nil {
			t.Fatalf("plainPath accepted %q, which CheckPath's rules refuse: %v", p, checkPathRules(p))
		}
		if CheckPath(p) != nil {
			return
		}
		if slices.Contains(strings.Split(p, "/"), "..") {
			t.Fatalf("CheckPath accepted %q, which has a \"..\" segment", p)
		}
		if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
			t.Fatalf("CheckPath accepted absolute path %q", p)
		}
		if p == ManifestName {
			t.Fatalf("CheckPath accepted the manifest name")
		}
		for _, root := range roots {
			joined := filepath.Join(root, p)
			rel, err := filepath.Rel(root, joined)
			if err != nil {
				t.Fatalf("CheckPath accepted %q: filepath.Rel(%q, %q): %v", p, root, joined, err)
			}
			if rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
				t.Fatalf("CheckPath accepted %q, but joined to %q it is %q, not strictly inside the root", p, root, joined)
			}
			if !strings.HasPrefix(joined, root+string(filepath.Separator)) {
				t.Fatalf("CheckPath accepted %q, but joined to %q it is %q", p, root, joined)
			}
			if filepath.ToSlash(rel) != p {
				t.Fatalf("CheckPath accepted %q, which is not clean: it resolves to %q", p, filepath.ToSlash(rel))
			}
		}
	})
}
