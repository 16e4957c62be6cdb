package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newNewCmd is a placeholder until the command is built.
func newNewCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "new", Hidden: true}
}
