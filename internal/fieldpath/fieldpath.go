// Package fieldpath writes and reads the dotted field paths katonic uses in
// findings (the form of Kubernetes field errors, k8s.io/apimachinery's
// field.Path): keys joined by dots, list indexes and keys that need it in
// brackets.
package fieldpath

import (
	"strconv"
	"strings"
)

// Join writes path segments as a field path: keys dotted, list indexes
// (all-digit segments) as [i], keys with a dot, bracket or quote, or empty
// ones, as ["key"]: spec.values.ingress.hosts[0],
// metadata.labels["katonic.ai/node-pool"].
func Join(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s != "" && IsDigits(s):
			b.WriteString("[" + s + "]")
		case s == "" || strings.ContainsAny(s, `.[]"`):
			b.WriteString("[" + strconv.Quote(s) + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// Split is the inverse of Join, and reads the field paths of Kubernetes
// field errors too: spec.values.hosts[0] → spec, values, hosts, 0;
// metadata.annotations["a.b/c"] → metadata, annotations, a.b/c. A
// bracketed key is one segment, quoted or not, dots included.
func Split(p string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '.':
			flush()
		case '[':
			flush()
			rest := p[i+1:]
			if strings.HasPrefix(rest, `"`) {
				if q, err := strconv.QuotedPrefix(rest); err == nil {
					u, _ := strconv.Unquote(q)
					out = append(out, u)
					i += len(q) + 1 // the quoted key and "]"
					continue
				}
			}
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return append(out, rest)
			}
			out = append(out, rest[:j])
			i += j + 1
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// IsDigits reports whether s holds only ASCII digits (true for ""): a
// list index in a path.
func IsDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
