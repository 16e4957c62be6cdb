package diff

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gonvenience/ytbx"
	"github.com/homeport/dyff/pkg/dyff"
	yaml "go.yaml.in/yaml/v3"
)

// change is one flattened dyff detail: a path and the old and new nodes
// (nil when absent).
type change struct {
	path     []ytbx.PathElement
	kind     string // FieldAdded, FieldRemoved, FieldModified, FieldOrder
	from, to *yaml.Node
}

// objectChanges runs dyff on the pair and flattens its report: a mapping's
// added or removed keys become one change per key, a list's added or
// removed entries one change per entry at the list's path. dyff panics on
// some inputs (an unhashable mapping key); that is returned as an error.
func objectChanges(a, b *object) (out []change, err error) {
	if equalNodes(a.root, b.root) {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = errorf("comparing %s in %s: dyff: %v", b.ref(), b.file, r)
		}
	}()
	rep, err := dyff.CompareInputFiles(
		ytbx.InputFile{Location: a.file, Documents: []*yaml.Node{a.doc}},
		ytbx.InputFile{Location: b.file, Documents: []*yaml.Node{b.doc}},
		dyff.KubernetesEntityDetection(true),
		dyff.IgnoreOrderChanges(false),
		dyff.IgnoreWhitespaceChanges(false),
		dyff.DetectRenames(false),
	)
	if err != nil {
		return nil, errorf("comparing %s in %s: %v", b.ref(), b.file, err)
	}
	for _, d := range rep.Diffs {
		var base []ytbx.PathElement
		if d.Path != nil {
			base = d.Path.PathElements
		}
		for _, det := range d.Details {
			switch det.Kind {
			case dyff.ADDITION:
				out = append(out, expand(base, FieldAdded, det.To)...)
			case dyff.REMOVAL:
				out = append(out, expand(base, FieldRemoved, det.From)...)
			case dyff.MODIFICATION:
				out = append(out, change{path: base, kind: FieldModified, from: det.From, to: det.To})
			case dyff.ORDERCHANGE:
				out = append(out, change{path: base, kind: FieldOrder, from: det.From, to: det.To})
			}
		}
	}
	return out, nil
}

// equalNodes reports whether two YAML trees hold the same data (kinds, tags,
// values, order), comments and styles aside: the common case of an
// unchanged object, decided without running dyff.
func equalNodes(a, b *yaml.Node) bool {
	a, b = deref(a), deref(b)
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !equalNodes(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// expand splits a dyff ADDITION or REMOVAL node: a MappingNode holds the
// added or removed key/value pairs of the mapping at base, a SequenceNode
// the added or removed entries of the list at base.
func expand(base []ytbx.PathElement, kind string, n *yaml.Node) []change {
	var out []change
	mk := func(p []ytbx.PathElement, v *yaml.Node) change {
		c := change{path: p, kind: kind}
		if kind == FieldAdded {
			c.to = v
		} else {
			c.from = v
		}
		return c
	}
	switch {
	case n == nil:
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := append(append([]ytbx.PathElement(nil), base...), ytbx.PathElement{Idx: -1, Name: n.Content[i].Value})
			out = append(out, mk(p, n.Content[i+1]))
		}
	case n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			out = append(out, mk(base, e))
		}
	case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
		out = append(out, mk(base, n.Content[0]))
	default:
		out = append(out, mk(base, n))
	}
	return out
}

// fieldChanges converts the changes of o into FieldChanges, hiding values
// under Secret references and in Secret data, and merging redacted changes
// at the same path.
func fieldChanges(o *object, cs []change) []FieldChange {
	var out []FieldChange
	at := map[string]int{} // redacted path → index in out
	for _, c := range cs {
		p := c.path
		redact := false
		if i := refIndex(p); i >= 0 {
			p, redact = p[:i+1], true
		} else if hasRefKey(c.from) || hasRefKey(c.to) || (isSecret(o) && secretData(p)) {
			redact = true
		}
		fc := FieldChange{Path: formatPath(p), Change: c.kind}
		if !redact {
			fc.Old, fc.New = oneLine(c.from), oneLine(c.to)
			out = append(out, fc)
			continue
		}
		fc.Redacted = true
		if i, ok := at[fc.Path]; ok {
			if out[i].Change != fc.Change {
				out[i].Change = FieldModified
			}
			continue
		}
		at[fc.Path] = len(out)
		out = append(out, fc)
	}
	return out
}

// isRefKey reports whether a mapping key holds a Secret reference:
// valuesFrom (HelmRelease), substituteFrom (Flux Kustomization postBuild),
// or any key ending in secretRef (secretRef, decryption.secretRef,
// certSecretRef, kubeConfig.secretRef ...).
func isRefKey(k string) bool {
	l := strings.ToLower(k)
	return l == "valuesfrom" || l == "substitutefrom" || strings.HasSuffix(l, "secretref")
}

// refIndex is the index of the first map-key element of p that is a Secret
// reference key, or -1.
func refIndex(p []ytbx.PathElement) int {
	for i, e := range p {
		if e.Key == "" && e.Idx < 0 && isRefKey(e.Name) {
			return i
		}
	}
	return -1
}

// hasRefKey reports whether n holds a Secret reference key anywhere.
func hasRefKey(n *yaml.Node) bool {
	found := false
	walk(n, func(key string, _ *yaml.Node) bool {
		if isRefKey(key) {
			found = true
		}
		return !found
	})
	return found
}

// isSecret reports whether o is a core v1 Secret.
func isSecret(o *object) bool { return o.kind == "Secret" && o.apiVersion == "v1" }

// secretData reports whether p is at or under a Secret's data or stringData.
func secretData(p []ytbx.PathElement) bool {
	return len(p) > 0 && (p[0].Name == "data" || p[0].Name == "stringData")
}

// walk calls fn for every key/value pair of every mapping in n, depth first
// in document order; fn returns false to stop descending into that value.
func walk(n *yaml.Node, fn func(key string, v *yaml.Node) bool) {
	n = deref(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			walk(c, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if fn(n.Content[i].Value, deref(n.Content[i+1])) {
				walk(n.Content[i+1], fn)
			}
		}
	}
}

// formatPath writes a dyff path as spec.values.key, list entries identified
// by a field as [field=value], others as [index], and keys that would be
// ambiguous as ["key"].
func formatPath(p []ytbx.PathElement) string {
	var b strings.Builder
	for _, e := range p {
		switch {
		case e.Key != "":
			fmt.Fprintf(&b, "[%s=%s]", e.Key, e.Name)
		case e.Name != "" || e.Idx < 0:
			if plainKey(e.Name) {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(e.Name)
			} else {
				fmt.Fprintf(&b, "[%s]", strconv.Quote(e.Name))
			}
		default:
			fmt.Fprintf(&b, "[%d]", e.Idx)
		}
	}
	if b.Len() == 0 {
		return "(root)"
	}
	return b.String()
}

// plainKey reports whether k can be written bare in a dotted path.
func plainKey(k string) bool {
	return k != "" && !strings.ContainsAny(k, ".[]=\"' \t\n")
}

// oneLine renders n as one line of flow-style YAML; "" for nil.
func oneLine(n *yaml.Node) string {
	var b strings.Builder
	writeFlow(&b, n)
	return b.String()
}

func writeFlow(b *strings.Builder, n *yaml.Node) {
	n = deref(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			writeFlow(b, n.Content[0])
		}
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, n.Content[i])
			b.WriteString(": ")
			writeFlow(b, n.Content[i+1])
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, c)
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		b.WriteString(scalarText(n))
	}
}

// scalarText writes a scalar as YAML would read it back: strings that are
// empty, span lines, have edge spaces, hold flow indicators or would read
// as another type are double-quoted.
func scalarText(n *yaml.Node) string {
	v := n.Value
	if n.Tag != "!!str" && n.Tag != "" {
		if n.Tag == "!!null" && v == "" {
			return "null"
		}
		return v
	}
	if v == "" || v != strings.TrimSpace(v) || strings.ContainsAny(v, "\n\r\t\"{}[],#&*!|>%@`") ||
		strings.Contains(v, ": ") || strings.HasPrefix(v, "- ") || strings.HasPrefix(v, "'") || strings.HasPrefix(v, "?") || nonString(v) {
		return strconv.Quote(v)
	}
	return v
}

// nonString reports whether a plain scalar v would resolve to a non-string
// YAML type (bool, null, number).
func nonString(v string) bool {
	var x any
	if err := yaml.Unmarshal([]byte(v), &x); err != nil {
		return true
	}
	_, isStr := x.(string)
	return !isStr
}
