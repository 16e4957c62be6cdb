package diff

import (
	"fmt"
	"html"
	"io"
	"sort"
	"strconv"
	"strings"
)

// GitHubCommentLimit is the longest body GitHub accepts for an issue or
// pull-request comment ("Body is too long (maximum is 65536 characters)").
const GitHubCommentLimit = 65536

// Shares of the Markdown budget, cumulative, used only when the full
// comment does not fit: the matrix may fill the first 40 %, the risk list
// up to 70 %, the per-object details the rest. Each section gets at least
// its share; space a section leaves unused goes to the next.
const (
	matrixShare = 40
	risksShare  = 70
)

// WriteMarkdown writes r as a pull-request comment: a title, the sides
// (when r.Mode is set) and a summary line, which counts the changes by
// origin when they were attributed; a matrix of environments (rows) ×
// services (columns) whose cells hold "+", "-", "~" (added, removed,
// changed objects), "k" when every object of the cell changed because of
// katonic alone, and "⚠" when one of them has a high risk (kustomization
// files are not objects and have no column); the list of risks, high
// first; then one collapsed <details> block per changed kustomization file
// and per object with a ```diff block of its field changes, and one per
// added or removed environment listing its objects. A risk and a block
// whose change is not the configuration's alone are marked (katonic) or
// (katonic and configuration), as in WriteText.
//
// The output never exceeds limit (limit <= 0 means GitHubCommentLimit).
// Length is counted in bytes of UTF-8: GitHub counts characters (code
// points, or UTF-16 units), and a text's byte length is at least both, so a
// comment that fits in bytes fits however GitHub counts. When the full
// comment would be longer, it says so under the summary, fills the matrix,
// risks and details within their shares (see matrixShare), and ends with
// "… and N more objects in M environments not shown: the comment is limited
// to 65,536 characters; run `katonic diff` locally for the full report."
// (naming omitted risks and matrix rows too). It returns the first error of w.
func (r *Report) WriteMarkdown(w io.Writer, limit int) error {
	if limit <= 0 {
		limit = GitHubCommentLimit
	}
	m := r.markdownParts()
	full := m.render(-1)
	if len(full) <= limit {
		_, err := io.WriteString(w, full)
		return err
	}
	_, err := io.WriteString(w, m.render(limit))
	return err
}

// mdParts are the pieces of the Markdown form, each item self-contained.
type mdParts struct {
	title, summary string
	matrixHead     string
	matrixRows     []string
	legend         string
	risks          []string
	details        []string
	detailEnv      []string // environment of each details block
	detailObjs     []int    // objects each details block shows
	detailFiles    []int    // kustomization files each details block shows
	limitNote      string   // the sentence under the summary when summarised
}

// markdownParts builds every piece of the full comment.
func (r *Report) markdownParts() *mdParts {
	m := &mdParts{title: "### katonic diff\n\n" + r.sidesMarkdown()}
	envs, objects, high, medium := r.Counts()
	if envs == 0 {
		m.summary = "No changes.\n"
		return m
	}
	what := plural(objects, "object")
	if n := r.FileCount(); n > 0 {
		what += ", " + plural(n, "kustomization file")
	}
	m.summary = fmt.Sprintf("**%s, %s changed** · ", plural(envs, "environment"), what)
	if high > 0 {
		m.summary += fmt.Sprintf("⚠ %d high-risk, %d medium-risk", high, medium)
	} else {
		m.summary += fmt.Sprintf("%d high-risk, %d medium-risk", high, medium)
	}
	katonic, both := r.Origins()
	if changes := objects + r.FileCount(); r.Attribution == AttributionDone && changes > 0 {
		if katonic == 0 && both == 0 {
			m.summary += " · every change comes from the configuration"
		}
		if katonic > 0 {
			m.summary += fmt.Sprintf(" · **%s from katonic itself**, not from the configuration (_katonic_)", comes(katonic))
		}
		if both > 0 {
			m.summary += fmt.Sprintf(" · %s from both (_katonic and configuration_)", comes(both))
		}
		if rest := changes - katonic - both; rest > 0 && rest < changes {
			m.summary += fmt.Sprintf(" · %s from the configuration alone", comes(rest))
		}
	}
	m.summary += "\n"

	// matrix
	svcSet := map[string]bool{}
	for _, e := range r.Envs {
		for _, o := range e.Objects {
			svcSet[o.Service] = true
		}
	}
	services := sortedSet(svcSet)
	var head strings.Builder
	head.WriteString("\n| environment |")
	for _, s := range services {
		head.WriteString(" " + mdText(s) + " |")
	}
	head.WriteString("\n|:--|")
	for range services {
		head.WriteString(":-:|")
	}
	head.WriteString("\n")
	m.matrixHead = head.String()
	for _, e := range r.Envs {
		type cell struct {
			marks   map[string]bool
			high    bool
			katonic bool // every object of the cell changed because of katonic alone
		}
		cells := map[string]*cell{}
		for _, o := range e.Objects {
			c := cells[o.Service]
			if c == nil {
				c = &cell{marks: map[string]bool{}, katonic: true}
				cells[o.Service] = c
			}
			mark, _ := changeMark(o.Change)
			c.marks[mark] = true
			c.high = c.high || hasHigh(o.Risks)
			c.katonic = c.katonic && o.Origin == OriginKatonic
		}
		var row strings.Builder
		row.WriteString("| `" + e.Name + "`")
		if e.Change != ChangeChanged {
			row.WriteString(" (" + e.Change + ")")
		}
		fileHigh := false
		for _, f := range e.Files {
			fileHigh = fileHigh || hasHigh(f.Risks)
		}
		if hasHigh(e.Risks) || fileHigh {
			row.WriteString(" ⚠")
		}
		row.WriteString(" |")
		for _, s := range services {
			row.WriteString(" ")
			if c := cells[s]; c != nil {
				for _, mk := range []string{"+", "-", "~"} {
					if c.marks[mk] {
						row.WriteString(mk)
					}
				}
				if c.katonic {
					row.WriteString("k")
				}
				if c.high {
					row.WriteString(" ⚠")
				}
			}
			row.WriteString(" |")
		}
		row.WriteString("\n")
		m.matrixRows = append(m.matrixRows, row.String())
	}
	m.legend = "\n\\+ added · \\- removed · ~ changed · ⚠ high risk"
	if r.Attribution == AttributionDone {
		m.legend += " · k every change of the cell comes from katonic itself"
	}
	m.legend += "\n"

	// risks, high first, then in report order
	type item struct {
		high bool
		n    int
		text string
	}
	var items []item
	add := func(e string, ref, origin string, x Risk) {
		icon, level := "", "medium"
		if x.Level == LevelHigh {
			icon, level = "⚠ ", "high"
		}
		where := "`" + e + "`"
		if ref != "" {
			where += " `" + ref + "`"
		}
		where += mdOrigin(origin)
		items = append(items, item{x.Level == LevelHigh, len(items),
			fmt.Sprintf("- %s**%s** `%s` %s: %s\n", icon, level, x.Class, where, mdText(x.Message))})
	}
	for _, e := range r.Envs {
		for _, x := range e.Risks {
			add(e.Name, "", e.Origin, x)
		}
		for _, f := range e.Files {
			for _, x := range f.Risks {
				add(e.Name, f.Where(), f.Origin, x)
			}
		}
		for _, o := range e.Objects {
			for _, x := range o.Risks {
				add(e.Name, o.Ref(), o.Origin, x)
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].high && !items[j].high })
	for _, it := range items {
		m.risks = append(m.risks, it.text)
	}

	// details: an added or removed environment's objects in one block
	for _, e := range r.Envs {
		if e.Change != ChangeChanged {
			if len(e.Objects) > 0 {
				m.details = append(m.details, envDetailsBlock(e))
				m.detailEnv = append(m.detailEnv, e.Name)
				m.detailObjs = append(m.detailObjs, len(e.Objects))
				m.detailFiles = append(m.detailFiles, 0)
			}
			continue
		}
		for _, f := range e.Files {
			m.details = append(m.details, fileDetailsBlock(e.Name, f))
			m.detailEnv = append(m.detailEnv, e.Name)
			m.detailObjs = append(m.detailObjs, 0)
			m.detailFiles = append(m.detailFiles, 1)
		}
		for _, o := range e.Objects {
			m.details = append(m.details, detailsBlock(o))
			m.detailEnv = append(m.detailEnv, e.Name)
			m.detailObjs = append(m.detailObjs, 1)
			m.detailFiles = append(m.detailFiles, 0)
		}
	}
	return m
}

// render joins the parts; with limit < 0 everything, else within limit
// bytes (see WriteMarkdown).
func (m *mdParts) render(limit int) string {
	var b strings.Builder
	b.WriteString(m.title)
	b.WriteString(m.summary)
	if len(m.matrixRows) == 0 && len(m.details) == 0 {
		return fitBytes(b.String(), limit)
	}
	if limit < 0 {
		b.WriteString(m.matrixHead)
		for _, row := range m.matrixRows {
			b.WriteString(row)
		}
		b.WriteString(m.legend)
		if len(m.risks) > 0 {
			b.WriteString("\n#### Risks\n\n")
			for _, x := range m.risks {
				b.WriteString(x)
			}
		}
		if len(m.details) > 0 {
			b.WriteString("\n#### Changes\n\n")
			for _, d := range m.details {
				b.WriteString(d)
			}
		}
		return b.String()
	}

	allEnvs := map[string]bool{}
	for _, e := range m.detailEnv {
		allEnvs[e] = true
	}
	allObjs, allFiles := m.omitted(0)
	reserve := len(trailer(allObjs, allFiles, len(allEnvs), len(m.risks), len(m.matrixRows), limit))
	budget := limit - reserve
	fmt.Fprintf(&b, "\n_The full report is longer than %s characters, the limit of a comment: it is summarised below._\n", thousands(limit))
	if b.Len() > budget {
		return fitBytes(m.title+m.summary+trailer(allObjs, allFiles, len(allEnvs), len(m.risks), len(m.matrixRows), limit), limit)
	}
	fits := func(s string, cap int) bool { return b.Len()+len(s) <= cap }

	rowsShown := 0
	if capM := budget * matrixShare / 100; fits(m.matrixHead+m.legend, capM) {
		b.WriteString(m.matrixHead)
		for _, row := range m.matrixRows {
			if !fits(row+m.legend, capM) {
				break
			}
			b.WriteString(row)
			rowsShown++
		}
		b.WriteString(m.legend)
	}

	risksShown := 0
	if len(m.risks) > 0 {
		const h = "\n#### Risks\n\n"
		if capR := budget * risksShare / 100; fits(h+m.risks[0], capR) {
			b.WriteString(h)
			for _, x := range m.risks {
				if !fits(x, capR) {
					break
				}
				b.WriteString(x)
				risksShown++
			}
		}
	}

	shown := 0
	const h = "\n#### Changes\n\n"
	if len(m.details) > 0 && fits(h+m.details[0], budget) {
		b.WriteString(h)
		for _, d := range m.details {
			if !fits(d, budget) {
				break
			}
			b.WriteString(d)
			shown++
		}
	}
	omittedEnvs := map[string]bool{}
	for _, e := range m.detailEnv[shown:] {
		omittedEnvs[e] = true
	}
	objs, files := m.omitted(shown)
	b.WriteString(trailer(objs, files, len(omittedEnvs), len(m.risks)-risksShown, len(m.matrixRows)-rowsShown, limit))
	return fitBytes(b.String(), limit)
}

// omitted counts the objects and kustomization files of the details
// blocks from the index from on.
func (m *mdParts) omitted(from int) (objects, files int) {
	for i := from; i < len(m.details); i++ {
		objects += m.detailObjs[i]
		files += m.detailFiles[i]
	}
	return objects, files
}

// trailer is the closing note of a summarised comment.
func trailer(objects, files, envs, risks, rows, limit int) string {
	var parts []string
	switch {
	case objects > 0 && files > 0:
		parts = append(parts, fmt.Sprintf("%s and %s in %s", plural(objects, "more object"), plural(files, "kustomization file"), plural(envs, "environment")))
	case objects > 0:
		parts = append(parts, fmt.Sprintf("%s in %s", plural(objects, "more object"), plural(envs, "environment")))
	case files > 0:
		parts = append(parts, fmt.Sprintf("%s in %s", plural(files, "more kustomization file"), plural(envs, "environment")))
	}
	if risks > 0 {
		parts = append(parts, plural(risks, "more risk"))
	}
	if rows > 0 {
		parts = append(parts, plural(rows, "more matrix row"))
	}
	what := "some details"
	if len(parts) > 0 {
		what = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("\n… and %s not shown: the comment is limited to %s characters; run `katonic diff` locally for the full report.\n",
		what, thousands(limit))
}

// detailsBlock is the collapsed block of one object.
func detailsBlock(o ObjectDiff) string {
	mark, _ := changeMark(o.Change)
	var body strings.Builder
	switch o.Change {
	case ChangeAdded:
		fmt.Fprintf(&body, "+ %s added (%s)\n", o.Ref(), o.File)
	case ChangeRemoved:
		fmt.Fprintf(&body, "- %s removed (%s)\n", o.Ref(), o.File)
	}
	writeFields(&body, o.Fields)
	return collapsed(fmt.Sprintf("%s %s <code>%s</code> (%s)%s", html.EscapeString(o.Env), mark, html.EscapeString(o.Ref()), html.EscapeString(o.Where()), htmlOrigin(o.Origin)),
		o.Risks, body.String())
}

// collapsed is a collapsed block: summary (HTML), then the classes of
// risks (⚠ first when one is high), and body in a diff code fence longer
// than any run of backquotes in it.
func collapsed(summary string, risks []Risk, body string) string {
	fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
	var b strings.Builder
	b.WriteString("<details><summary>" + summary)
	if len(risks) > 0 {
		icon := ""
		if hasHigh(risks) {
			icon = "⚠ "
		}
		fmt.Fprintf(&b, " %s%s", icon, html.EscapeString(riskClasses(risks)))
	}
	fmt.Fprintf(&b, "</summary>\n\n%sdiff\n%s%s\n\n</details>\n", fence, body, fence)
	return b.String()
}

// envDetailsBlock is the collapsed block of an added or removed
// environment: one line per object, marked with its origin where it is not
// the environment's, which the summary marks.
func envDetailsBlock(e EnvDiff) string {
	mark, _ := changeMark(e.Change)
	var body strings.Builder
	for _, o := range e.Objects {
		fmt.Fprintf(&body, "%s %s (%s)%s\n", mark, o.Ref(), o.Where(), originIn(o.Origin, e.Origin))
	}
	fence := strings.Repeat("`", max(3, longestRun(body.String(), '`')+1))
	return fmt.Sprintf("<details><summary>%s (%s): %s%s</summary>\n\n%sdiff\n%s%s\n\n</details>\n",
		html.EscapeString(e.Name), e.Change, plural(len(e.Objects), "object"), htmlOrigin(e.Origin), fence, body.String(), fence)
}

// fileDetailsBlock is the collapsed block of a kustomization file.
func fileDetailsBlock(env string, f FileDiff) string {
	mark, _ := changeMark(f.Change)
	var body strings.Builder
	switch f.Change {
	case ChangeAdded:
		fmt.Fprintf(&body, "+ %s added\n", f.File)
	case ChangeRemoved:
		fmt.Fprintf(&body, "- %s removed\n", f.File)
	}
	writeFields(&body, f.Fields)
	return collapsed(fmt.Sprintf("%s %s <code>%s</code> (kustomize file)%s", html.EscapeString(env), mark, html.EscapeString(f.Where()), htmlOrigin(f.Origin)),
		f.Risks, body.String())
}

// riskClasses lists the classes of rs, once each, in order.
func riskClasses(rs []Risk) string {
	var classes []string
	seen := map[string]bool{}
	for _, x := range rs {
		if !seen[x.Class] {
			seen[x.Class] = true
			classes = append(classes, x.Class)
		}
	}
	return strings.Join(classes, ", ")
}

// writeFields writes field changes as diff lines.
func writeFields(body *strings.Builder, fields []FieldChange) {
	for _, f := range fields {
		switch {
		case f.Redacted:
			fmt.Fprintf(body, "! %s: changed\n", f.Path)
		case f.Change == FieldAdded:
			fmt.Fprintf(body, "+ %s: %s\n", f.Path, clip(f.New))
		case f.Change == FieldRemoved:
			fmt.Fprintf(body, "- %s: %s\n", f.Path, clip(f.Old))
		case f.Change == FieldOrder:
			fmt.Fprintf(body, "! %s: order %s → %s\n", f.Path, clip(f.Old), clip(f.New))
		default:
			fmt.Fprintf(body, "- %s: %s\n+ %s: %s\n", f.Path, clip(f.Old), f.Path, clip(f.New))
		}
	}
}

// sidesMarkdown is the paragraph under the title that names the sides
// (and r.Note); "" when r.Mode is not set.
func (r *Report) sidesMarkdown() string {
	var s string
	switch r.Mode {
	case ModeCommitted:
		s = "Committed `out/` at " + mdCode(r.Base) + " → the working tree rendered by this katonic: what the cluster gets."
	case ModeSameKatonic:
		s = mdCode(r.Base) + " → the working tree, both rendered by this katonic: what the configuration change does."
	case ModeDirectories:
		s = mdCode(r.Base) + " → " + mdCode(r.Head) + "."
	default:
		return ""
	}
	if r.Shard != "" {
		s += " Shard " + r.Shard + " of the environments."
	}
	if r.Note != "" {
		s += "\n\nNote: " + mdText(r.Note) + "."
	}
	return s + "\n\n"
}

// mdOrigin marks an object whose change is not the configuration's alone
// (see originMark), in Markdown.
func mdOrigin(origin string) string {
	switch origin {
	case OriginKatonic:
		return " (_katonic_)"
	case OriginBoth:
		return " (_katonic and configuration_)"
	}
	return ""
}

// htmlOrigin is mdOrigin in HTML, for the summary of a <details> block,
// where Markdown is not read.
func htmlOrigin(origin string) string {
	switch origin {
	case OriginKatonic:
		return " (<i>katonic</i>)"
	case OriginBoth:
		return " (<i>katonic and configuration</i>)"
	}
	return ""
}

// mdCode writes s as a Markdown code span, with a fence longer than any
// run of backticks in it.
func mdCode(s string) string {
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// hasHigh reports whether rs holds a high risk.
func hasHigh(rs []Risk) bool {
	for _, x := range rs {
		if x.Level == LevelHigh {
			return true
		}
	}
	return false
}

// mdText escapes s for Markdown text (list items, table cells): HTML
// metacharacters become entities, Markdown metacharacters are
// backslash-escaped, line breaks become spaces.
func mdText(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\\', '`', '*', '_', '|', '[', ']', '~':
			b.WriteByte('\\')
			b.WriteRune(c)
		case '\n', '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// thousands writes n with comma thousands separators (65,536).
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	out = append([]string{s}, out...)
	r := strings.Join(out, ",")
	if neg {
		r = "-" + r
	}
	return r
}

// fitBytes cuts s to at most limit bytes on a rune boundary (limit < 0: no cut).
func fitBytes(s string, limit int) string {
	if limit < 0 || len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// isRuneStart reports whether b begins a UTF-8 sequence.
func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
