package cli

import (
	"errors"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/policy"
)

func newVetCmd(stdout, stderr io.Writer) *cobra.Command {
	var strict bool
	var format string
	cmd := &cobra.Command{
		Use:               "vet [ENV...]",
		ValidArgsFunction: completeEnvs,
		Short:             "Validate environments without rendering",
		Long: `vet validates all environments, or the named ones, against the schema,
the profiles and katonic's rules. It is silent when all is well; warnings
(recommendations of the seeds not followed) are printed but do not fail
unless --strict is given.

-o json prints the diagnostics as JSON on stdout instead (schemaVersion 1:
each with severity, file, line, column, CUE path, message, rule and the
rule's source), for editors and CI annotations; the exit code is the same.`,
		Example: `  # Validate every environment in environments/
  katonic vet

  # Validate one environment, failing on warnings too
  katonic vet acme-azure --strict

  # Diagnostics for a machine
  katonic vet -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return exitf(ExitUsage, "-o %s: want text or json", format)
			}
			res, err := compile.Compile(compile.Options{Envs: args, Strict: strict})
			if res != nil && (err == nil || errors.Is(err, compile.ErrInvalid)) {
				if err = vetWaivers(res, err); err != nil && !errors.Is(err, compile.ErrInvalid) {
					return err
				}
			}
			if format == "json" && res != nil {
				return writeVetJSON(stdout, res, exitFor(res, err))
			}
			return report(stderr, res, err)
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output `format`: text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("text", "json"))
	return cmd
}

// writeVetJSON prints a vet's result as JSON and passes exit on.
func writeVetJSON(stdout io.Writer, res *compile.Result, exit error) error {
	cwd, _ := os.Getwd()
	envs := []string{}
	for _, e := range res.Envs {
		envs = append(envs, e.Env.Name)
	}
	if err := writeJSON(stdout, struct {
		SchemaVersion int           `json:"schemaVersion"`
		Valid         []string      `json:"valid"`
		Errors        int           `json:"errors"`
		Warnings      int           `json:"warnings"`
		Diagnostics   []diag.Record `json:"diagnostics"`
	}{1, envs, res.Diags.Errors(), res.Diags.Warnings(), res.Diags.Records(cwd)}); err != nil {
		return err
	}
	return exit
}

// vetWaivers runs render's waiver check (policy.Set.CheckWaivers) on the
// valid environments of res that waive a policy: a waiver of a policy that
// policy/ does not define is an error in vet as in render. An environment
// with such an error leaves res.Envs, its diagnostics join res.Diags, and
// err becomes compile.ErrInvalid. policy/ is loaded only when an
// environment waives something; a policy/ that does not load is an
// ExitInvalid error.
func vetWaivers(res *compile.Result, err error) error {
	if !slices.ContainsFunc(res.Envs, func(e compile.EnvResult) bool { return len(e.Env.Waivers) > 0 }) {
		return err
	}
	set, pdiags, lerr := policy.Load(res.Dir)
	res.Diags = append(res.Diags, pdiags...)
	if lerr != nil {
		return exitf(ExitInvalid, "policy/: %v", lerr)
	}
	kept := res.Envs[:0]
	for _, e := range res.Envs {
		if d := set.CheckWaivers(e.Env); len(d) > 0 {
			res.Diags = append(res.Diags, d...)
			err = compile.ErrInvalid
			continue
		}
		kept = append(kept, e)
	}
	res.Envs = kept
	res.Diags = res.Diags.Sort()
	return err
}
