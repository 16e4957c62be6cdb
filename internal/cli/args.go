package cli

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

// noArgs rejects arguments with the usage exit code.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return exitf(ExitUsage, "%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// exactArgs is cobra.ExactArgs with a message that says what is missing,
// and the usage exit code.
func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return exitf(ExitUsage, "%s (got %d arguments)\nRun '%s --help' for usage.", msg, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
