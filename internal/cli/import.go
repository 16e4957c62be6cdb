package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newImportCmd is a placeholder until the command is built.
func newImportCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "import", Hidden: true}
}
