package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
)

func newVetCmd(stderr io.Writer) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:               "vet [ENV...]",
		ValidArgsFunction: completeEnvs,
		Short:             "Validate environments without rendering",
		Long: `vet validates all environments, or the named ones, against the schema,
the profiles and katonic's rules. It is silent when all is well; warnings
(recommendations of the seeds not followed) are printed but do not fail
unless --strict is given.`,
		Example: `  # Validate every environment in environments/
  katonic vet

  # Validate one environment, failing on warnings too
  katonic vet acme-azure --strict`,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := compile.Compile(compile.Options{Envs: args, Strict: strict})
			return report(stderr, res, err)
		},
	}
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors")
	return cmd
}
