package cli

import (
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/dns"
	"github.com/katonic/katonic/internal/requirements"
)

func newRequirementsCmd(stdout, stderr io.Writer) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "requirements ENV",
		Short: "List what the cluster must have before Flux reconciles an environment",
		Long: `requirements renders ENV in memory and lists what the cluster and its
surroundings must already have — what Flux cannot create: the Kubernetes
version and control plane, the node pools with the labels and taints each
node must carry, the network, the load balancer in front of the Istio
ingress gateway and its certificate, the DNS records, availability zones,
storage, and the Secrets the render references but never writes.

Each line cites its source: a seed of Katonic's installation guides (file
and section, with the seed's own words in curly quotes), an upstream
project's documentation, or the katonic file whose rule decides it. The
sections follow the environment's profile (cloud, onprem, azure-private).

Output (-o): text, markdown (a checklist to paste into a ticket) or json
(schemaVersion 1).`,
		Example: `  katonic requirements tesla-onprem
  katonic requirements acme-azure -o markdown > acme-azure-requirements.md
  katonic requirements globex-cloud -o json | jq -r '.sections[].name'`,
		Args:              exactArgs(1, "requirements needs one environment name"),
		ValidArgsFunction: completeOneEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRequirements(stdout, stderr, args[0], format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output `format`: "+strings.Join(requirements.Formats, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords(requirements.Formats...))
	return cmd
}

func runRequirements(stdout, stderr io.Writer, env, format string) error {
	if !slices.Contains(requirements.Formats, format) {
		return exitf(ExitUsage, "-o %s: want %s", format, strings.Join(requirements.Formats, ", "))
	}
	// compile renders without evaluating policy/: requirements is read-only.
	res, err := compile.Compile(compile.Options{Envs: []string{env}, Render: true})
	if err := reportErrors(stderr, res, err); err != nil {
		return err
	}
	e := res.Envs[0]
	d, err := dns.Build(e.Env, res.Files, e.Files, e.Releases, "out")
	if err != nil {
		return exitf(ExitInvalid, "requirements: %v", err)
	}
	r := requirements.Build(e.Env, requirements.Inputs{Secrets: e.Secrets, Releases: e.Releases, DNS: d, OutDir: "out"})
	if err := requirements.Write(stdout, r, format); err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	return nil
}
