package diff

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// ANSI SGR sequences (ECMA-48). Written directly rather than through a
// colour library: WriteText's caller decides about colour (terminal,
// NO_COLOR, --color), so no library-level detection may second-guess it.
const (
	ansiReset   = "\x1b[0m"
	ansiBold    = "\x1b[1m"
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiBoldRed = "\x1b[1;31m"
)

// displayLimit is how many characters of a value the text and Markdown
// forms print; the JSON form keeps values whole.
const displayLimit = 200

// WriteText writes r for a terminal: when r.Mode is set, a line naming the
// sides ("committed out/ at main → the working tree rendered by this
// katonic", and r.Shard) and r.Note, then a blank line; one block per environment (a
// header, then its environment-level risks), then one entry per object,
//
//	~ HelmRelease/flux-system/postgres (platform/postgres)
//	  spec.chart.spec.version: 16.7.0 → 17.0.0
//	  [HIGH chart-major] spec.chart.spec.version 16.7.0 → 17.0.0 changes the chart's major version: ...
//
// with "+" for added and "-" for removed objects, and " (katonic)" or
// " (katonic and configuration)" after the object's place when its Origin
// is OriginKatonic or OriginBoth; and last lines with the counts and, when
// the changes were attributed, how many come from katonic. Field lines read
// "path: old → new", "path: + new", "path: - old", "path: order old → new",
// or "path: changed" when the value is hidden. Changed kustomization files
// come after the environment's risks, as
// "~ platform/kustomization.yaml (kustomize file)" with their fields and
// risks, and their origin marked as an object's. An added or removed
// environment's objects are folded into one line that counts them by kind,
// its origin marked on its header line; only the objects with risks of
// their own, or an origin other than the environment's, are listed (the
// JSON and Markdown forms list every one). ANSI colours are written only
// when color is true. It returns the first error of w.
func (r *Report) WriteText(w io.Writer, color bool) error {
	bw := bufio.NewWriter(w)
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	risk := func(indent string, x Risk) {
		label := "[MEDIUM " + x.Class + "]"
		code := ansiYellow
		if x.Level == LevelHigh {
			label, code = "[HIGH "+x.Class+"]", ansiBoldRed
		}
		fmt.Fprintf(bw, "%s%s %s\n", indent, paint(code, label), x.Message)
	}
	if h := r.sidesLine(); h != "" {
		fmt.Fprintln(bw, h)
		if r.Note != "" {
			fmt.Fprintln(bw, "note: "+r.Note)
		}
		fmt.Fprintln(bw)
	}
	envs, objects, high, medium := r.Counts()
	if envs == 0 {
		fmt.Fprintln(bw, "no changes")
		return bw.Flush()
	}
	for i, e := range r.Envs {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		fmt.Fprintln(bw, paint(ansiBold, fmt.Sprintf("environment %s: %s, %s%s", e.Name, e.Change, plural(len(e.Objects), "object"), originMark(e.Origin))))
		for _, x := range e.Risks {
			risk("", x)
		}
		folded := e.Change != ChangeChanged
		if folded && len(e.Objects) > 0 {
			fmt.Fprintf(bw, "  %s: %s (-o json lists each object)\n", e.Change, kindCounts(e.Objects))
		}
		for _, f := range e.Files {
			mark, code := changeMark(f.Change)
			fmt.Fprintf(bw, "%s %s (kustomize file)%s\n", paint(code, mark), f.Where(), originMark(f.Origin))
			for _, fc := range f.Fields {
				fmt.Fprintf(bw, "  %s\n", fieldText(fc, paint))
			}
			for _, x := range f.Risks {
				risk("  ", x)
			}
		}
		for _, o := range e.Objects {
			mark, code := changeMark(o.Change)
			om := originMark(o.Origin)
			if folded {
				if len(o.Risks) == 0 && o.Origin == e.Origin {
					continue
				}
				om = originIn(o.Origin, e.Origin)
			}
			fmt.Fprintf(bw, "%s %s (%s)%s\n", paint(code, mark), o.Ref(), o.Where(), om)
			for _, f := range o.Fields {
				fmt.Fprintf(bw, "  %s\n", fieldText(f, paint))
			}
			for _, x := range o.Risks {
				risk("  ", x)
			}
		}
	}
	what := plural(objects, "object")
	if n := r.FileCount(); n > 0 {
		what += ", " + plural(n, "kustomization file")
	}
	fmt.Fprintf(bw, "\n%s, %s; risks: %d high, %d medium\n", plural(envs, "environment"), what, high, medium)
	if s := r.originSummary(); s != "" {
		fmt.Fprintln(bw, s)
	}
	return bw.Flush()
}

// sidesLine names the two sides of r for a header, from r.Mode, r.Base and
// r.Head; "" when r.Mode is not set.
func (r *Report) sidesLine() string {
	var s string
	switch r.Mode {
	case ModeCommitted:
		s = fmt.Sprintf("committed out/ at %s → the working tree rendered by this katonic", r.Base)
	case ModeSameKatonic:
		s = fmt.Sprintf("%s → the working tree, both rendered by this katonic", r.Base)
	case ModeDirectories:
		s = fmt.Sprintf("%s → %s", r.Base, r.Head)
	default:
		return ""
	}
	if r.Shard != "" {
		s += " (shard " + r.Shard + " of the environments)"
	}
	return s
}

// originMark is what follows an object's place when its change is not the
// configuration's alone.
func originMark(origin string) string {
	switch origin {
	case OriginKatonic:
		return " (katonic)"
	case OriginBoth:
		return " (katonic and configuration)"
	}
	return ""
}

// originIn is what follows the place of an object of an added or removed
// environment whose origin is envOrigin: nothing when the object's origin
// is the environment's (its header says it), else the object's own,
// "configuration" included.
func originIn(origin, envOrigin string) string {
	switch {
	case origin == envOrigin:
		return ""
	case origin == OriginConfiguration:
		return " (configuration)"
	}
	return originMark(origin)
}

// originSummary is the sentence after the counts that says how many
// changes come from katonic itself, from the configuration, or from both;
// "" unless r.Attribution is AttributionDone and there are changes.
func (r *Report) originSummary() string {
	katonic, both := r.Origins()
	_, objects, _, _ := r.Counts()
	changes := objects + r.FileCount()
	if r.Attribution != AttributionDone || changes == 0 {
		return ""
	}
	if katonic == 0 && both == 0 {
		return "every change comes from the configuration"
	}
	var parts []string
	if katonic > 0 {
		parts = append(parts, fmt.Sprintf("%s from katonic itself, not from the configuration (marked (katonic)): this katonic renders the configuration at %s that way already", comes(katonic), r.baseName()))
	}
	if both > 0 {
		parts = append(parts, fmt.Sprintf("%s from both katonic and the configuration (marked (katonic and configuration))", comes(both)))
	}
	if rest := changes - katonic - both; rest > 0 {
		parts = append(parts, fmt.Sprintf("%s from the configuration alone", comes(rest)))
	}
	return strings.Join(parts, "; ")
}

// comes is "1 change comes" or "N changes come".
func comes(n int) string {
	if n == 1 {
		return "1 change comes"
	}
	return plural(n, "change") + " come"
}

// baseName is r.Base, or "the base" when unset.
func (r *Report) baseName() string {
	if r.Base == "" {
		return "the base"
	}
	return r.Base
}

// changeMark is the one-character mark of an object change and its colour.
func changeMark(change string) (string, string) {
	switch change {
	case ChangeAdded:
		return "+", ansiGreen
	case ChangeRemoved:
		return "-", ansiRed
	}
	return "~", ansiYellow
}

// fieldText renders one field line (without indentation).
func fieldText(f FieldChange, paint func(code, s string) string) string {
	if f.Redacted {
		return f.Path + ": changed"
	}
	switch f.Change {
	case FieldAdded:
		return f.Path + ": " + paint(ansiGreen, "+ "+clip(f.New))
	case FieldRemoved:
		return f.Path + ": " + paint(ansiRed, "- "+clip(f.Old))
	case FieldOrder:
		return f.Path + ": order " + clip(f.Old) + " → " + clip(f.New)
	}
	return f.Path + ": " + paint(ansiRed, clip(f.Old)) + " → " + paint(ansiGreen, clip(f.New))
}

// clip shortens s to displayLimit runes, marking the cut with "…".
func clip(s string) string {
	if utf8.RuneCountInString(s) <= displayLimit {
		return s
	}
	r := []rune(s)
	return string(r[:displayLimit-1]) + "…"
}

// plural writes n (with thousands separators) and noun, with an "s"
// unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

// kindCounts counts objects by kind: "1 GitRepository, 11 HelmRelease,
// 13 Namespace", kinds in name order.
func kindCounts(objs []ObjectDiff) string {
	n := map[string]int{}
	for _, o := range objs {
		n[o.Kind]++
	}
	kinds := make([]string, 0, len(n))
	for k := range n {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = thousands(n[k]) + " " + k
	}
	return strings.Join(parts, ", ")
}
