package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/scaffold"
)

func newEnvsCmd(stdout, stderr io.Writer) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "envs",
		Short: "List the environments: profile, versions, domain, node pools, services",
		Long: `envs loads and validates every environment of environments/ and lists the
valid ones, one row each: name, profile, Katonic platform version, Kubernetes
version, domain, node pools with their node counts (min-max, in the order
master, platform, compute, deployment, storage, gpu) and the number of
services enabled, with those switched from the profile's default named
(+on, -off).

-o json prints, under "schemaVersion": 1, every environment with its file,
profile, provider, versions, domain, load balancer, node pools (nodes, vCPU,
GiB) and enabled services (sorted).

An environment with errors is left out: its diagnostics go to stderr and envs
exits 1 after listing the others. With no environments, the table has its
header only (json: an empty list) and envs exits 0.`,
		Example: `  katonic envs
  katonic envs -o json | jq -r '.environments[].domain'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnvs(stdout, stderr, format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output `format`: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "json"))
	return cmd
}

// envRow is one environment of `katonic envs -o json`.
type envRow struct {
	Name              string    `json:"name"`
	File              string    `json:"file"`
	Profile           string    `json:"profile"`
	Provider          string    `json:"provider,omitempty"`
	PlatformVersion   string    `json:"platformVersion"`
	KubernetesVersion string    `json:"kubernetesVersion"`
	Domain            string    `json:"domain"`
	LoadBalancer      string    `json:"loadBalancer"`
	NodePools         []poolRow `json:"nodePools"`
	Services          []string  `json:"services"`
	// changes are the services switched away from the profile's default:
	// "+name" on, "-name" off (text only).
	changes []string
}

// poolRow is one node pool of envRow: node counts, and per node vCPU and GiB.
type poolRow struct {
	Name        string `json:"name"`
	MinNodes    int    `json:"minNodes"`
	MaxNodes    int    `json:"maxNodes"`
	CPU         int    `json:"cpu"`
	MemoryGiB   int    `json:"memoryGiB"`
	BootDiskGiB int    `json:"bootDiskGiB"`
	VMSize      string `json:"vmSize,omitempty"`
	GPUType     string `json:"gpuType,omitempty"`
	GPUCount    int    `json:"gpuCount,omitempty"`
}

func runEnvs(stdout, stderr io.Writer, format string) error {
	switch format {
	case "text", "json":
	default:
		return exitf(ExitUsage, "-o %s: want text or json", format)
	}
	cwd, _ := os.Getwd()
	// With ErrInvalid, res.Envs still holds the environments that
	// validated: envs lists them and reports the others.
	res, err := compile.Compile(compile.Options{})
	if err != nil && !errors.Is(err, compile.ErrInvalid) {
		return exitFor(res, err)
	}
	var rows []envRow
	var defaults map[config.Profile]*scaffold.Defaults
	if format == "text" && len(res.Envs) > 0 {
		var profiles []config.Profile
		for _, e := range res.Envs {
			profiles = append(profiles, e.Env.Profile)
		}
		if defaults, err = scaffold.ReadAllDefaults(res.Dir, profiles); err != nil {
			return exitf(ExitInvalid, "%v", err)
		}
	}
	for _, e := range res.Envs {
		env := e.Env
		r := row(env)
		if defs := defaults[env.Profile]; defs != nil {
			for _, s := range defs.Services {
				if on := env.Enabled(s.Name); on != s.Enabled {
					r.changes = append(r.changes, map[bool]string{true: "+", false: "-"}[on]+s.Name)
				}
			}
			sort.Strings(r.changes)
		}
		rows = append(rows, r)
	}
	// Only errors: warnings are vet's to report.
	var errs diag.List
	for _, d := range res.Diags {
		if d.Severity == diag.Error {
			errs = append(errs, d)
		}
	}
	switch format {
	case "json":
		if rows == nil {
			rows = []envRow{}
		}
		if err := writeJSON(stdout, struct {
			SchemaVersion int      `json:"schemaVersion"`
			Environments  []envRow `json:"environments"`
		}{1, rows}); err != nil {
			return exitf(ExitOutput, "%v", err)
		}
	default:
		if err := writeEnvsTable(stdout, rows); err != nil {
			return exitf(ExitOutput, "%v", err)
		}
	}
	if len(errs) > 0 {
		errs.Sort().Print(stderr, cwd)
		return exitf(ExitInvalid, "%d %s: the environments with errors are not listed (katonic vet)", len(errs), plural(len(errs), "error"))
	}
	return nil
}

func row(env *config.Environment) envRow {
	r := envRow{
		Name: env.Name, File: env.File, Profile: string(env.Profile), Provider: env.Provider,
		PlatformVersion: env.PlatformVersion, KubernetesVersion: env.KubernetesVersion,
		Domain: env.Domain, LoadBalancer: env.LoadBalancer, Services: []string{},
	}
	for _, role := range config.Roles {
		p, ok := env.NodePools[role]
		if !ok {
			continue
		}
		r.NodePools = append(r.NodePools, poolRow{
			Name: string(role), MinNodes: p.MinNodes, MaxNodes: p.MaxNodes, CPU: p.CPU, MemoryGiB: p.MemoryGiB,
			BootDiskGiB: p.BootDiskGiB, VMSize: p.VMSize, GPUType: p.GPUType, GPUCount: p.GPUCount,
		})
	}
	for name, s := range env.Services {
		if s.Enabled {
			r.Services = append(r.Services, name)
		}
	}
	sort.Strings(r.Services)
	return r
}

// writeEnvsTable writes rows as aligned columns (text/tabwriter). The
// services column is the count of enabled services and, in parentheses,
// the ones switched away from the profile's default (+on, -off); the full
// list is in -o json.
func writeEnvsTable(w io.Writer, rows []envRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPROFILE\tPLATFORM\tKUBERNETES\tDOMAIN\tNODE POOLS\tSERVICES")
	for _, r := range rows {
		var pools []string
		for _, p := range r.NodePools {
			n := fmt.Sprint(p.MinNodes)
			if p.MaxNodes != p.MinNodes {
				n = fmt.Sprintf("%d-%d", p.MinNodes, p.MaxNodes)
			}
			pools = append(pools, p.Name+" "+n)
		}
		profile := r.Profile
		if r.Provider != "" {
			profile += "/" + r.Provider
		}
		services := fmt.Sprint(len(r.Services))
		if len(r.changes) > 0 {
			services += " (" + strings.Join(r.changes, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, profile, r.PlatformVersion, r.KubernetesVersion,
			r.Domain, strings.Join(pools, ", "), services)
	}
	return tw.Flush()
}
