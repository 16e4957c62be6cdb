package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/dns"
)

func newDNSCmd(stdout, stderr io.Writer) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "dns ENV",
		Short: "List the DNS records and certificates an environment needs",
		Long: `dns renders ENV in memory and lists what to ask of DNS and of a
certificate authority before the platform is reachable: a record for the
platform FQDN, for dash-<FQDN> when Superset is on and for
connectors-<FQDN> when Airbyte is on (seeds 001, 003), each pointing at the
Istio ingress gateway's load balancer — internal (a private IP inside the
VNet/VPC: the record goes in a private DNS zone) or external (public) — and
the certificates: the names each must cover and the TLS Secret that holds
it.

The load balancer and the Secrets are read from the rendered objects. The
record type follows the provider: AWS load balancers have a DNS name
(CNAME, or a Route 53 alias), Azure, GCP and on-prem load balancers an IP
(A). On-prem, the gateway is a NodePort Service behind your own load
balancer; its exposure is the environment's loadBalancer field.

Output (-o): text (two tables) or json (schemaVersion 1).`,
		Example: `  katonic dns acme-azure
  katonic dns globex-cloud -o json | jq -r '.records[].name'`,
		Args:              exactArgs(1, "dns needs one environment name"),
		ValidArgsFunction: completeOneEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDNS(stdout, stderr, args[0], format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output `format`: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "json"))
	return cmd
}

func runDNS(stdout, stderr io.Writer, env, format string) error {
	if format != "text" && format != "json" {
		return exitf(ExitUsage, "-o %s: want text or json", format)
	}
	// compile renders without evaluating policy/: dns is read-only.
	res, err := compile.Compile(compile.Options{Envs: []string{env}, Render: true})
	if err := reportErrors(stderr, res, err); err != nil {
		return err
	}
	e := res.Envs[0]
	r, err := dns.Build(e.Env, res.Files, e.Files, e.Releases, "out")
	if err != nil {
		return exitf(ExitInvalid, "dns: %v", err)
	}
	if format == "json" {
		err = dns.WriteJSON(stdout, r)
	} else {
		err = dns.WriteText(stdout, r)
	}
	if err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	return nil
}
