package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
)

// report prints a compile's diagnostics on stderr and turns its error into
// an exit code: ExitInvalid for configuration errors, ExitUsage for unknown
// environments or a directory that is not a katonic repository.
func report(stderr io.Writer, res *compile.Result, err error) error {
	cwd, _ := os.Getwd()
	if res != nil {
		res.Diags.Print(stderr, cwd)
	}
	return exitFor(res, err)
}

// reportErrors is report for the commands that inspect an environment
// (show, dns, graph): they print its errors, which stop them, but not its
// warnings, which are vet's to report.
func reportErrors(stderr io.Writer, res *compile.Result, err error) error {
	cwd, _ := os.Getwd()
	if res != nil {
		for _, d := range res.Diags {
			if d.Severity == diag.Error {
				fmt.Fprintln(stderr, d.Format(cwd))
			}
		}
	}
	return exitFor(res, err)
}

// exitFor is report without printing: for commands that print the
// diagnostics in another form (vet -o json).
func exitFor(res *compile.Result, err error) error {
	var unknown *compile.UnknownEnvError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, compile.ErrInvalid):
		return exitf(ExitInvalid, "%s", countErrors(res))
	case errors.As(err, &unknown):
		return exitf(ExitUsage, "%v", err)
	case res == nil:
		return exitf(ExitUsage, "%v", err)
	default:
		return exitf(ExitInvalid, "%v", err)
	}
}

func countErrors(res *compile.Result) string {
	e, w := res.Diags.Errors(), res.Diags.Warnings()
	return fmt.Sprintf("%d %s, %d %s", e, plural(e, "error"), w, plural(w, "warning"))
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
