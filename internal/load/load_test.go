package load

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/testrepo"
)

const goodEnv = `package environments

environments: good: {
	profile:           "cloud"
	platformVersion:   "4.5"
	kubernetesVersion: "1.27"
	domain:            "good.example"
	nodePools: {
		platform: {minNodes: 2, maxNodes: 2, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 1, maxNodes: 2, cpu: 8, memoryGiB: 32}
	}
}
`

// TestMaxFileSize: a file of exactly MaxFileSize bytes is read; one byte
// more is refused without being read.
func TestMaxFileSize(t *testing.T) {
	dir := t.TempDir()
	head := "package environments\n\n_x: 1\n// "
	for _, n := range []int{MaxFileSize, MaxFileSize + 1} {
		src := head + strings.Repeat("x", n-len(head)-1) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "big.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		found, diags, err := scanEnvironments(dir, parserOptions, nil)
		if err != nil {
			t.Fatal(err)
		}
		if over := n > MaxFileSize; over != (len(diags) == 1) || !over && len(found.sources[filepath.Join(dir, "big.cue")]) != n {
			t.Errorf("%d bytes: %v", n, diags)
		}
	}
}

// TestStandIns: an environment file that cannot be loaded still names an
// environment, without a Value, beside the ones that load; so does an
// entry rejected for its kind.
func TestStandIns(t *testing.T) {
	dir := testrepo.New(t, "../..", map[string]string{
		"environments/good.cue":     goodEnv,
		"environments/broken.cue":   "package environments\n\nenvironments: broken: {\n",
		"environments/notes.txt":    "notes",
		"environments/nested/x.cue": "package environments\n",
	})
	repo, diags, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 3 {
		t.Fatalf("want 3 diagnostics (syntax, not CUE, directory), got %v", diags)
	}
	var names []string
	for _, e := range repo.Envs {
		names = append(names, e.Name)
		if e.Value.Exists() != (e.Name == "good") {
			t.Errorf("%s: Value exists %v", e.Name, e.Value.Exists())
		}
	}
	if got := strings.Join(names, " "); got != "broken good nested notes" {
		t.Errorf("environments %q, want broken good nested notes", got)
	}
}

// TestUnparsed: a file the caller vouches for is not read (here it would
// not even parse), and its environment comes back in name order without
// Syntax or Value; when another file declares the same environment, the
// file is read after all, and the load reports what a load of every file
// reports.
func TestUnparsed(t *testing.T) {
	calm := strings.ReplaceAll(goodEnv, "good", "calm")
	dir := testrepo.New(t, "../..", map[string]string{
		"environments/good.cue": goodEnv,
		"environments/calm.cue": "package environments\n\nenvironments: calm: {\n", // would not parse
	})
	asked := map[string]string{}
	unparsed := func(name, file string) bool { asked[name] = file; return name == "calm" }
	repo, diags, err := LoadWith(dir, Options{Unparsed: unparsed})
	if err != nil || len(diags) != 0 {
		t.Fatalf("LoadWith: %v, %v", diags, err)
	}
	if len(repo.Envs) != 2 || repo.Envs[0].Name != "calm" || repo.Envs[1].Name != "good" {
		t.Fatalf("environments %+v, want calm and good", repo.Envs)
	}
	if e := repo.Envs[0]; e.Syntax != nil || e.Value.Exists() || e.File != filepath.Join(dir, "environments", "calm.cue") {
		t.Errorf("calm: %+v; want its file, without Syntax or Value", e)
	}
	if !repo.Envs[1].Value.Exists() || asked["good"] != filepath.Join(dir, "environments", "good.cue") {
		t.Errorf("good: not loaded, or not asked about (%v)", asked)
	}

	// zz.cue declares calm too: calm.cue is read, and the duplicate is
	// reported at zz.cue with calm.cue's position, as by Load.
	for name, src := range map[string]string{
		"environments/calm.cue": calm,
		"environments/zz.cue":   calm,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, want, err := Load(dir)
	if err != nil || len(want) == 0 {
		t.Fatalf("Load: %v, %v", want, err)
	}
	_, got, err := LoadWith(dir, Options{Unparsed: unparsed})
	if err != nil || !slices.EqualFunc(got, want, func(a, b diag.Diagnostic) bool { return a == b }) {
		t.Errorf("LoadWith with calm.cue unparsed:\n%v\nLoad:\n%v", got, want)
	}
}

// TestLinkedFromOutside: an environment file that is a symbolic link out of
// the repository is refused at its path, and not read; a link that stays in
// the repository is read, and so is every file when the repository itself
// is reached through a link.
func TestLinkedFromOutside(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	elsewhere, err := filepath.EvalSymlinks(t.TempDir()) // as the message gives it (/tmp is a link on macOS)
	must(err)
	must(os.WriteFile(filepath.Join(elsewhere, "other.cue"), []byte(strings.ReplaceAll(goodEnv, "good", "other")), 0o644))
	dir := testrepo.New(t, "../..", map[string]string{
		"environments/good.cue": goodEnv,
		"shared/twin.cue":       strings.ReplaceAll(goodEnv, "good", "twin"),
	})
	must(os.Symlink(filepath.Join(elsewhere, "other.cue"), filepath.Join(dir, "environments", "other.cue")))
	must(os.Symlink(filepath.Join("..", "shared", "twin.cue"), filepath.Join(dir, "environments", "twin.cue")))
	link := filepath.Join(t.TempDir(), "repo")
	must(os.Symlink(dir, link))

	for _, root := range []string{dir, link} {
		repo, diags, err := Load(root)
		if err != nil {
			t.Fatal(err)
		}
		if len(diags) != 1 || diags[0].Rule != "environments.layout" ||
			diags[0].Pos.Filename != filepath.Join(root, "environments", "other.cue") ||
			!strings.Contains(diags[0].Message, "other.cue is a symbolic link to "+filepath.Join(elsewhere, "other.cue")+", outside the repository") {
			t.Fatalf("root %s: want one diagnostic about other.cue, got %v", root, diags)
		}
		for _, e := range repo.Envs {
			if e.Value.Exists() != (e.Name != "other") {
				t.Errorf("root %s: %s: Value exists %v", root, e.Name, e.Value.Exists())
			}
		}
		if len(repo.Envs) != 3 {
			t.Errorf("root %s: %d environments, want good, other (a stand-in) and twin", root, len(repo.Envs))
		}
	}
}
