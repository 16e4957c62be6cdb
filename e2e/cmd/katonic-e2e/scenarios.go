package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/katonic/katonic/e2e/harness"
	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
)

// scenario is one run of the harness: an environment and how it is run.
type scenario struct {
	// name is the run's name in the report.
	name    string
	options harness.Options
}

// slug is the run's name as a directory name.
func (s scenario) slug() string {
	return strings.Trim(regexp.MustCompile(`[^a-z0-9.]+`).ReplaceAllString(strings.ToLower(s.name), "-"), "-")
}

// plan returns the runs, in order: each environment of envs (its charts
// from an OCI registry when it is in oci, from a Helm repository
// otherwise; upgraded to the newest platform version when it is in
// upgrade), then, with negative, the two runs that must fail. The negative
// runs use the first environment of envs. Every name of oci and upgrade
// must be in envs.
func plan(envs, oci, upgrade []string, negative bool) ([]scenario, error) {
	for _, l := range [][]string{oci, upgrade} {
		for _, n := range l {
			if !slices.Contains(envs, n) {
				return nil, fmt.Errorf("%s is not one of the environments run (%s)", n, strings.Join(envs, ", "))
			}
		}
	}
	var runs []scenario
	for _, env := range envs {
		s := scenario{name: env, options: harness.Options{Env: env, Mirror: harness.MirrorHelm}}
		if slices.Contains(oci, env) {
			s.options.Mirror = harness.MirrorOCI
		}
		if slices.Contains(upgrade, env) {
			u, err := newestPlatform()
			if err != nil {
				return nil, err
			}
			s.options.Upgrade = u
			s.name += ", upgraded to " + u.PlatformVersion
		}
		runs = append(runs, s)
	}
	if negative {
		env := envs[0]
		runs = append(runs,
			scenario{name: env + ", platform nodes too small", options: harness.Options{
				Env: env, Mirror: harness.MirrorHelm, Nodes: shrinkPlatform, Expect: insufficient}},
			scenario{name: env + ", dependsOn deadlock", options: harness.Options{
				Env: env, Mirror: harness.MirrorHelm, EditOut: deadlock(env), Expect: cycle}},
		)
	}
	return runs, nil
}

// only returns the names of list that are in envs, in list's order: a
// flag's default names examples that a run of other environments leaves
// out.
func only(list, envs []string) []string {
	var out []string
	for _, n := range list {
		if slices.Contains(envs, n) {
			out = append(out, n)
		}
	}
	return out
}

// newestPlatform is the upgrade to the catalog's newest platform version,
// with its own Kubernetes minimum (catalog.Release.MinKubernetesVersion)
// as the environment's kubernetesVersion.
func newestPlatform() (*harness.Upgrade, error) {
	vs := catalog.Versions()
	slices.SortFunc(vs, func(a, b string) int {
		return semver.MustParse(a).Compare(semver.MustParse(b))
	})
	r, err := catalog.Lookup(vs[len(vs)-1])
	if err != nil {
		return nil, err
	}
	u := &harness.Upgrade{PlatformVersion: r.PlatformVersion}
	if r.MinKubernetesVersion != "" {
		u.KubernetesVersion = r.MinKubernetesVersion + ".0"
	}
	return u, nil
}

// insufficient is what the scheduler says of a pod that no node has room
// for ("0/5 nodes are available: 2 Insufficient memory, …").
var insufficient = regexp.MustCompile(`^Pod/\S+: Unschedulable: .*Insufficient (cpu|memory)`)

// shrinkPlatform makes the cluster's platform nodes 2 vCPU and 4 GiB: a
// cluster smaller than its environment says (katonic vet refuses a
// platform pool below 4 vCPU and 16 GiB, seed 000, so only a drifted
// cluster can be this small).
func shrinkPlatform(pools map[config.Role]config.NodePool) {
	p := pools[config.RolePlatform]
	p.CPU, p.MemoryGiB = 2, 4
	pools[config.RolePlatform] = p
}

// cycle is the harness's report of a dependsOn cycle among the live
// Kustomizations and HelmReleases (katonic's graph package's words).
var cycle = regexp.MustCompile(`^dependsOn cycle`)

// deadlock returns an edit of env's rendered out/ that makes its
// infrastructure Kustomization depend on platform, which depends on
// infrastructure: a cycle Flux waits on for ever. katonic never writes one (render and verify's refs layer refuse
// it); a hand edit of out/ can.
func deadlock(env string) func(out string) error {
	return func(out string) error {
		f := filepath.Join(out, "clusters", env, "infrastructure.yaml")
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		s := strings.Replace(string(b), "\nspec:\n", "\nspec:\n  dependsOn:\n  - name: platform\n", 1)
		if s == string(b) {
			return fmt.Errorf("%s: no spec to add a dependsOn to", f)
		}
		return os.WriteFile(f, []byte(s), 0o644)
	}
}
