package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newEnvsCmd is a placeholder until the command is built.
func newEnvsCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "envs", Hidden: true}
}
