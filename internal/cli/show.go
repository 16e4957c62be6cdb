package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/format"
	cueyaml "cuelang.org/go/encoding/yaml"
	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/provenance"
)

type showOptions struct {
	format string
	why    string
}

func newShowCmd(stdout, stderr io.Writer) *cobra.Command {
	var o showOptions
	cmd := &cobra.Command{
		Use:   "show ENV",
		Short: "Print an environment as resolved, or explain where a value comes from",
		Long: `show prints one environment fully resolved: its file, with the defaults of
its profile (profiles/) and of the schema (schema/) applied and the values the
schema derives (a known vmSize's vCPU and memory, each service's namespace)
filled in. It is what katonic renders from.

Output (-o): yaml (default), json or cue.

--why PATH explains one value instead: the file:line:column that set it, the
defaults it overrode (a profile's or the schema's) and the constraints it met,
as CUE recorded them. PATH is a CUE path within the environment, such as
loadBalancer or nodePools.platform.cpu; a path to a struct explains each of
its fields. With --why, -o is text (default) or json.`,
		Example: `  katonic show acme-azure
  katonic show acme-azure -o json
  katonic show globex-cloud --why loadBalancer
  katonic show acme-azure --why nodePools.platform`,
		Args:              exactArgs(1, "show needs one environment name"),
		ValidArgsFunction: completeOneEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runShow(stdout, stderr, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "output", "o", "", "output `format`: yaml, json or cue; with --why, text or json")
	f.StringVar(&o.why, "why", "", "explain where the value at this CUE `PATH` comes from")
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords("yaml", "json", "cue", "text"))
	return cmd
}

func runShow(stdout, stderr io.Writer, o showOptions, name string) error {
	formats := []string{"yaml", "json", "cue"}
	if o.why != "" {
		formats = []string{"text", "json"}
	}
	if o.format == "" {
		o.format = formats[0]
	}
	if !slices.Contains(formats, o.format) {
		return exitf(ExitUsage, "-o %s: want %s or %s", o.format, strings.Join(formats[:len(formats)-1], ", "), formats[len(formats)-1])
	}
	res, err := compile.Compile(compile.Options{Envs: []string{name}})
	if err := reportErrors(stderr, res, err); err != nil {
		return err
	}
	v := res.Envs[0].Source.Value
	if o.why != "" {
		cwd, _ := os.Getwd()
		ex, err := provenance.Explain(v, o.why, cwd)
		if err != nil {
			return exitf(ExitUsage, "environment %s: %v", name, err)
		}
		if o.format == "json" {
			return writeJSON(stdout, struct {
				SchemaVersion int                      `json:"schemaVersion"`
				Environment   string                   `json:"environment"`
				Fields        []provenance.Explanation `json:"fields"`
			}{1, name, ex})
		}
		writeWhy(stdout, name, ex)
		return nil
	}
	switch o.format {
	case "json":
		b, err := v.MarshalJSON()
		if err != nil {
			return exitf(ExitInvalid, "environment %s: %v", name, err)
		}
		var m json.RawMessage = b
		return writeJSON(stdout, m)
	case "cue":
		b, err := format.Node(v.Syntax(cue.Final(), cue.Concrete(true)))
		if err != nil {
			return exitf(ExitInvalid, "environment %s: %v", name, err)
		}
		fmt.Fprintf(stdout, "// environments.%q, resolved by katonic show\n%s\n", name, b)
		return nil
	default:
		b, err := cueyaml.Encode(v)
		if err != nil {
			return exitf(ExitInvalid, "environment %s: %v", name, err)
		}
		_, err = stdout.Write(b)
		return err
	}
}

// writeWhy prints explanations: per field, a summary of who set the value
// and which defaults it overrode, then every conjunct, most specific
// first.
func writeWhy(w io.Writer, env string, ex []provenance.Explanation) {
	for i, e := range ex {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s %s: %s\n", env, e.Path, e.Value)
		set := e.SetBy()
		switch {
		case e.From == provenance.RoleSet && len(set) > 0 && set[0].Expr != string(e.Value):
			// Derived: the schema computes it from another field.
			fmt.Fprintf(w, "  set by %s (%s): %s\n", set[0].Pos(), set[0].Layer, set[0].Expr)
		case e.From == provenance.RoleSet && len(set) > 0:
			fmt.Fprintf(w, "  set by %s (%s)\n", set[0].Pos(), set[0].Layer)
		case len(set) > 0:
			fmt.Fprintf(w, "  the default of %s (%s): no other file sets it\n", set[0].Pos(), set[0].Layer)
		}
		if e.Origin != "" {
			fmt.Fprintf(w, "  value from %s\n", e.Origin)
		}
		for _, c := range e.Conjuncts {
			if c.Role == provenance.RoleDefault && !c.Overridden && e.From == provenance.RoleSet {
				fmt.Fprintf(w, "  the same as the default of %s (%s)\n", c.Pos(), c.Layer)
			}
		}
		for _, c := range e.Overridden() {
			fmt.Fprintf(w, "  overrides the default %s of %s (%s)\n", c.Default, c.Pos(), c.Layer)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range e.Conjuncts {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", c.Pos(), c.Layer, c.Role, c.Expr)
		}
		tw.Flush()
	}
}
