// Package diag holds katonic's diagnostics: errors and warnings about a
// configuration, each with where it is (file:line:column and the CUE path),
// what rule it breaks and where that rule comes from.
package diag

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
)

// Severity tells an error from a warning.
type Severity int

// The severities. A Warning is a recommendation of the seeds not followed;
// it does not fail a command unless --strict makes warnings errors.
const (
	Error Severity = iota
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Pos is a position in a source file. Filename is absolute or relative to
// the working directory; Line and Column are 1-based, 0 when unknown.
type Pos struct {
	Filename string
	Line     int
	Column   int
}

// Diagnostic is one finding about a configuration.
type Diagnostic struct {
	Severity Severity
	Pos      Pos
	// Path is the CUE path of the offending value, e.g.
	// environments."acme".nodePools.platform.minNodes; empty when none applies.
	Path string
	// Message says what is wrong, in one sentence without a final period.
	Message string
	// Rule is a short stable identifier of the rule, e.g. "nodepool.min".
	Rule string
	// Source says where the rule comes from: a seed file and section, a Flux
	// document, or the schema file and position.
	Source string
}

// List is a set of diagnostics.
type List []Diagnostic

// Errors returns how many diagnostics are errors.
func (l List) Errors() int {
	n := 0
	for _, d := range l {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

// Warnings returns how many diagnostics are warnings.
func (l List) Warnings() int { return len(l) - l.Errors() }

// Strict returns a copy of l in which every warning is an error (--strict).
func (l List) Strict() List {
	out := make(List, len(l))
	for i, d := range l {
		d.Severity = Error
		out[i] = d
	}
	return out
}

// Sort orders l by file, line, column, path and message, and drops exact
// duplicates, so output is stable whatever order the checks ran in.
func (l List) Sort() List {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Pos.Filename != b.Pos.Filename {
			return a.Pos.Filename < b.Pos.Filename
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
	out := l[:0]
	for i, d := range l {
		if i > 0 && d == l[i-1] {
			continue
		}
		out = append(out, d)
	}
	return out
}

// Format renders d as one line, positions made relative to dir:
//
//	environments/acme.cue:14:25: error: environments."acme".nodePools.platform.minNodes: <message> [rule <rule>; <source>]
func (d Diagnostic) Format(dir string) string {
	var b strings.Builder
	if p := d.Pos.String(dir); p != "" {
		b.WriteString(p)
		b.WriteString(": ")
	}
	b.WriteString(d.Severity.String())
	b.WriteString(": ")
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	switch {
	case d.Rule != "" && d.Source != "":
		fmt.Fprintf(&b, " [rule %s; %s]", d.Rule, d.Source)
	case d.Rule != "":
		fmt.Fprintf(&b, " [rule %s]", d.Rule)
	case d.Source != "":
		fmt.Fprintf(&b, " [%s]", d.Source)
	}
	return b.String()
}

// String renders p as file:line:column relative to dir, or "" for no file.
func (p Pos) String(dir string) string {
	if p.Filename == "" {
		return ""
	}
	name := Rel(dir, p.Filename)
	if p.Line == 0 {
		return name
	}
	return fmt.Sprintf("%s:%d:%d", name, p.Line, p.Column)
}

// Rel returns name relative to dir with forward slashes when name is inside
// dir, and name unchanged otherwise.
func Rel(dir, name string) string {
	if !filepath.IsAbs(name) || dir == "" {
		return filepath.ToSlash(name)
	}
	r, err := filepath.Rel(dir, name)
	if err != nil || !filepath.IsLocal(r) {
		return filepath.ToSlash(name)
	}
	return filepath.ToSlash(r)
}

// Relative returns a copy of l with every position inside dir made
// relative to it (slash-separated), as katonic's caches keep them: their
// entries are keyed by content, not by where the repository is, so that
// two clones share them. Absolute undoes it. A nil l stays nil.
func (l List) Relative(dir string) List {
	if l == nil {
		return nil
	}
	out := make(List, len(l))
	for i, d := range l {
		d.Pos.Filename = Rel(dir, d.Pos.Filename)
		out[i] = d
	}
	return out
}

// Absolute makes every relative position of l, in place, absolute under
// dir again (the inverse of Relative), and returns l.
func (l List) Absolute(dir string) List {
	for i, d := range l {
		if d.Pos.Filename != "" && !filepath.IsAbs(d.Pos.Filename) {
			l[i].Pos.Filename = filepath.Join(dir, filepath.FromSlash(d.Pos.Filename))
		}
	}
	return l
}

// Print writes each diagnostic of l on its own line to w, relative to dir.
func (l List) Print(w io.Writer, dir string) {
	for _, d := range l {
		fmt.Fprintln(w, d.Format(dir))
	}
}

// Record is the JSON form of a Diagnostic, as `katonic vet -o json` and
// `katonic render -o json` print it (schemaVersion 1): the position is
// relative to the working directory, the severity is "error" or
// "warning", and empty fields are left out.
type Record struct {
	Severity string `json:"severity"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Path     string `json:"path,omitempty"`
	Message  string `json:"message"`
	Rule     string `json:"rule,omitempty"`
	Source   string `json:"source,omitempty"`
}

// Records returns l as Records, with file names relative to dir.
// It never returns nil, so an empty list is [] in JSON.
func (l List) Records(dir string) []Record {
	out := make([]Record, 0, len(l))
	for _, d := range l {
		file := ""
		if d.Pos.Filename != "" {
			file = Rel(dir, d.Pos.Filename)
		}
		out = append(out, Record{Severity: d.Severity.String(), File: file, Line: d.Pos.Line, Column: d.Pos.Column,
			Path: d.Path, Message: d.Message, Rule: d.Rule, Source: d.Source})
	}
	return out
}
