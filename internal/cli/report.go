package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
)

// report prints a compile's diagnostics on stderr and turns its error into
// an exit code: ExitInvalid for configuration errors, ExitUsage for unknown
// environments or a directory that is not a katonic repository.
func report(stderr io.Writer, res *compile.Result, err error) error {
	cwd, _ := os.Getwd()
	if res != nil {
		printGrouped(stderr, res.Diags, cwd)
	}
	return exitFor(res, err)
}

// groupFrom is how many environments must share a warning for it to be
// printed once with a count: two still print both lines.
const groupFrom = 3

// printGrouped prints l, one diagnostic a line, except that a warning
// several environments share — the same rule, source, message and field
// path within the environment — is printed in full for the first of
// them, and (from groupFrom environments) the others are counted on the next line with a few of their
// names: a fleet's 300 identical warnings are two lines. Errors are always
// printed each: every one must be fixed where it is. `vet -o json` lists
// every diagnostic.
func printGrouped(w io.Writer, l diag.List, cwd string) {
	type key struct{ rule, source, message, path string }
	groups := map[key][]string{} // the environments after the first, by warning
	first := map[key]bool{}
	keyOf := func(d diag.Diagnostic) (key, string, bool) {
		rest, ok := strings.CutPrefix(d.Path, `environments."`)
		if d.Severity != diag.Warning || !ok {
			return key{}, "", false
		}
		name, field, ok := strings.Cut(rest, `"`)
		if !ok {
			return key{}, "", false
		}
		return key{d.Rule, d.Source, d.Message, field}, name, true
	}
	for _, d := range l {
		if k, name, ok := keyOf(d); ok {
			if first[k] {
				groups[k] = append(groups[k], name)
			}
			first[k] = true
		}
	}
	printed := map[key]bool{}
	for _, d := range l {
		k, _, ok := keyOf(d)
		ok = ok && len(groups[k])+1 >= groupFrom
		if ok && printed[k] {
			continue
		}
		fmt.Fprintln(w, d.Format(cwd))
		if ok {
			printed[k] = true
			more := groups[k]
			shown := more
			if len(shown) > 5 {
				shown = shown[:5]
			}
			tail := ""
			if len(more) > len(shown) {
				tail = ", …"
			}
			fmt.Fprintf(w, "  the same warning in %d more %s (%s%s); katonic vet -o json lists each\n",
				len(more), plural(len(more), "environment"), strings.Join(shown, ", "), tail)
		}
	}
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
