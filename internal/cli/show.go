package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newShowCmd is a placeholder until the command is built.
func newShowCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "show", Hidden: true}
}
