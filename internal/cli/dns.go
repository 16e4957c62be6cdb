package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newDNSCmd is a placeholder until the command is built.
func newDNSCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "dns", Hidden: true}
}
