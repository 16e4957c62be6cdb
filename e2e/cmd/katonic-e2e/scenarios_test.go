package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/config"
)

func TestPlan(t *testing.T) {
	runs, err := plan([]string{"acme-azure", "globex-cloud", "tesla-onprem"}, []string{"acme-azure"}, []string{"globex-cloud"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.name+" ("+r.options.Mirror+")")
	}
	want := []string{
		"acme-azure (oci)",
		"globex-cloud, upgraded to 5.0.9 (helm)",
		"tesla-onprem (helm)",
		"acme-azure, platform nodes too small (helm)",
		"acme-azure, dependsOn deadlock (helm)",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if u := runs[1].options.Upgrade; u == nil || u.KubernetesVersion != "1.29.0" {
		t.Errorf("upgrade = %+v, want 5.0.9 at its Kubernetes minimum 1.29", u)
	}
	for _, r := range runs[3:] {
		if r.options.Expect == nil {
			t.Errorf("%s: a negative run expects no failure", r.name)
		}
	}
	if _, err := plan([]string{"acme-azure"}, []string{"nope"}, nil, false); err == nil {
		t.Error("an OCI run of an environment not run was planned")
	}
	runs, _ = plan([]string{"a"}, nil, nil, false)
	if len(runs) != 1 || runs[0].slug() != "a" {
		t.Errorf("one environment, no negatives: %+v", runs)
	}
	if s := (scenario{name: "acme-azure, upgraded to 5.0.9"}).slug(); s != "acme-azure-upgraded-to-5.0.9" {
		t.Errorf("slug = %q", s)
	}
}

// The expected failures match the harness's reports of them, and nothing
// else.
func TestExpectations(t *testing.T) {
	for _, tc := range []struct {
		failure string
		memory  bool
		cycle   bool
	}{
		{"Pod/keycloak/keycloak-0: Unschedulable: 0/5 nodes are available: 2 Insufficient memory, 3 node(s) had untolerated taint {katonic.ai/node-pool: compute}.", true, false},
		{"Pod/application/mongodb-0: Unschedulable: 0/5 nodes are available: 2 Insufficient cpu.", true, false},
		{"Pod/application/mongodb-0: Unschedulable: 0/5 nodes are available: pod has unbound immediate PersistentVolumeClaims.", false, false},
		{"HelmRelease/keycloak/keycloak: InstallFailed: Insufficient memory", false, false},
		{"dependsOn cycle among Kustomization/flux-system/infrastructure, Kustomization/flux-system/platform: none of them ever becomes Ready [Flux dependsOn]", false, true},
		{"Kustomization/flux-system/platform: DependencyNotReady: dependency 'flux-system/infrastructure' is not ready", false, false},
	} {
		if got := insufficient.MatchString(tc.failure); got != tc.memory {
			t.Errorf("insufficient matches %q: %v", tc.failure, got)
		}
		if got := cycle.MatchString(tc.failure); got != tc.cycle {
			t.Errorf("cycle matches %q: %v", tc.failure, got)
		}
	}
}

func TestShrinkPlatform(t *testing.T) {
	pools := map[config.Role]config.NodePool{
		config.RolePlatform: {MinNodes: 2, MaxNodes: 2, CPU: 4, MemoryGiB: 16},
		config.RoleCompute:  {MinNodes: 1, MaxNodes: 3, CPU: 8, MemoryGiB: 32},
	}
	shrinkPlatform(pools)
	if p := pools[config.RolePlatform]; p.CPU != 2 || p.MemoryGiB != 4 || p.MinNodes != 2 {
		t.Errorf("platform = %+v", p)
	}
	if c := pools[config.RoleCompute]; c.CPU != 8 || c.MemoryGiB != 32 {
		t.Errorf("compute changed: %+v", c)
	}
}

// The deadlock edit adds the dependsOn that closes a cycle, on the
// repository's own rendered out/ (skipped where it was not rendered).
func TestDeadlock(t *testing.T) {
	src := filepath.Join("..", "..", "..", "out", "clusters", "globex-cloud", "infrastructure.yaml")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("no rendered out/: %v", err)
	}
	out := t.TempDir()
	dst := filepath.Join(out, "clusters", "globex-cloud", "infrastructure.yaml")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := deadlock("globex-cloud")(out); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if !strings.Contains(string(got), "spec:\n  dependsOn:\n  - name: platform\n") {
		t.Errorf("no dependsOn on platform:\n%s", got)
	}
	if err := deadlock("nope")(out); err == nil {
		t.Error("an environment without out/ was edited")
	}
}

func TestOnly(t *testing.T) {
	if got := only([]string{"acme-azure", "globex-cloud"}, []string{"tesla-onprem", "globex-cloud"}); len(got) != 1 || got[0] != "globex-cloud" {
		t.Errorf("only = %v", got)
	}
	if got := only([]string{"acme-azure"}, []string{"tesla-onprem"}); len(got) != 0 {
		t.Errorf("only = %v", got)
	}
}
