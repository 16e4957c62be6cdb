package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newGraphCmd is a placeholder until the command is built.
func newGraphCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "graph", Hidden: true}
}
