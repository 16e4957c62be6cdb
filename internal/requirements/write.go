package requirements

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Formats are the output formats of the writers, for -o: "text" (WriteText),
// "markdown" (WriteMarkdown) and "json" (WriteJSON).
var Formats = []string{"text", "markdown", "json"}

// Write writes r in format, one of Formats; any other format is an error
// that names them.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "text":
		return WriteText(w, r)
	case "markdown":
		return WriteMarkdown(w, r)
	case "json":
		return WriteJSON(w, r)
	}
	return fmt.Errorf("-o %s: want %s", format, strings.Join(Formats, ", "))
}

// WriteText writes r for a terminal: a heading line, then each section's
// name and its requirements, each with its details and source indented
// below it.
func WriteText(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "%s: what the cluster must have before Flux reconciles %s\n", title(r), r.Cluster)
	for _, g := range r.Groups {
		fmt.Fprintf(ew, "\n%s\n", g.Section)
		for _, q := range g.Requirements {
			fmt.Fprintf(ew, "  - %s\n", q.Text)
			for _, d := range q.Details {
				fmt.Fprintf(ew, "      %s\n", d)
			}
			fmt.Fprintf(ew, "      source: %s\n", q.Source)
		}
	}
	return ew.err
}

// WriteMarkdown writes r as a checklist to paste into a ticket: a heading,
// one "## " heading per section and one "- [ ] " item per requirement
// with its details and source as sub-items.
func WriteMarkdown(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "# Cluster requirements: %s\n\n", md(title(r)))
	fmt.Fprintf(ew, "What the cluster must have before Flux reconciles `%s`: what Flux cannot create. From `katonic requirements %s`.\n", r.Cluster, r.Environment)
	for _, g := range r.Groups {
		fmt.Fprintf(ew, "\n## %s\n\n", g.Section)
		for _, q := range g.Requirements {
			fmt.Fprintf(ew, "- [ ] %s\n", md(q.Text))
			for _, d := range q.Details {
				fmt.Fprintf(ew, "  - %s\n", md(d))
			}
			fmt.Fprintf(ew, "  - Source: %s\n", md(q.Source))
		}
	}
	return ew.err
}

// WriteJSON writes r as one JSON document with "schemaVersion": 1 first.
func WriteJSON(w io.Writer, r *Report) error {
	doc := struct {
		SchemaVersion int `json:"schemaVersion"`
		*Report
	}{SchemaVersion, r}
	if doc.Groups == nil {
		doc.Groups = []Group{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func title(r *Report) string {
	p := r.Profile
	if r.Provider != "" {
		p += "/" + r.Provider
	}
	return r.Environment + " (" + p + ")"
}

// mdEscaper escapes the characters that would start HTML, emphasis or
// code in CommonMark; the rest of the text reads as typed.
var mdEscaper = strings.NewReplacer(`\`, `\\`, `<`, `\<`, `>`, `\>`, `*`, `\*`, "`", "\\`")

func md(s string) string { return mdEscaper.Replace(s) }

// errWriter keeps the first write error, so the writers stay flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	_, e.err = e.w.Write(p)
	return len(p), nil
}
