package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/graph"
)

func newGraphCmd(stdout, stderr io.Writer) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph ENV",
		Short: "Show the reconciliation order of an environment (Mermaid, DOT or JSON)",
		Long: `graph renders ENV in memory and prints the order in which Flux reconciles
it: every Flux Kustomization and HelmRelease, an arrow from each object to
the objects whose spec.dependsOn names it (a dependsOn without namespace
means the object's own namespace), and each HelmRelease inside the
Kustomization that applies it (the one whose spec.path holds its file) —
a HelmRelease cannot start before its Kustomization applies it.

The graph is read from the rendered objects, so it is what Flux will do.

Output (-o): mermaid (default; GitHub renders it in pull requests and
Markdown), dot (Graphviz) or json (schemaVersion 1: nodes, edges, and the
waves — the objects that can reconcile in parallel, in order).

A dependsOn that names nothing, or a cycle, is drawn and reported on
stderr; graph still exits 0 (katonic verify --layers refs fails on them).`,
		Example: "  # Paste into a pull request between ```mermaid fences\n" +
			"  katonic graph acme-azure\n\n" +
			"  # Graphviz\n" +
			"  katonic graph acme-azure -o dot | dot -Tsvg > acme-azure.svg\n\n" +
			"  # The waves, for scripts\n" +
			"  katonic graph acme-azure -o json | jq .waves",
		Args:              exactArgs(1, "graph needs one environment name"),
		ValidArgsFunction: completeOneEnv,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGraph(stdout, stderr, args[0], format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", graph.Formats[0], "output `format`: "+strings.Join(graph.Formats, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", completeWords(graph.Formats...))
	return cmd
}

func runGraph(stdout, stderr io.Writer, env, format string) error {
	known := false
	for _, f := range graph.Formats {
		known = known || f == format
	}
	if !known {
		return exitf(ExitUsage, "-o %s: want %s or %s", format, strings.Join(graph.Formats[:len(graph.Formats)-1], ", "), graph.Formats[len(graph.Formats)-1])
	}
	// compile renders without evaluating policy/ (render, verify and
	// policy do that): the graph is read-only and shows even a
	// configuration a policy rejects.
	res, err := compile.Compile(compile.Options{Envs: []string{env}, Render: true})
	if err := reportErrors(stderr, res, err); err != nil {
		return err
	}
	e := res.Envs[0]
	g, err := graph.Build(e.Env.Name, res.Files, e.Files, "out")
	if err != nil {
		return exitf(ExitInvalid, "graph: %v", err)
	}
	for _, p := range g.Problems() {
		fmt.Fprintf(stderr, "katonic: graph: warning: %s\n", p)
	}
	if err := graph.Write(stdout, g, format); err != nil {
		return exitf(ExitOutput, "%v", err)
	}
	return nil
}
