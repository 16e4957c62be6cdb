package verify

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/fieldpath"

	"github.com/katonic/katonic/internal/diag"
)

// tree is the rendered repository being verified: the real repository root,
// or a private temporary copy of an in-memory render.
type tree struct {
	root string // absolute
	out  string // slash path of the output directory relative to root
	tmp  bool
	// shown maps a temporary root back to the repository root in positions,
	// so findings of verify --render name out/... files.
	shownRoot string
	docs      map[string][]*doc // per file (absolute), parsed lazily
}

// index maps object keys (see key) to the document that declares them, for
// one environment's files.
type index struct {
	tree    *tree
	docs    map[string]*doc
	indexed map[string]bool // directories indexed
}

func (t *tree) newIndex() *index {
	return &index{tree: t, docs: map[string]*doc{}, indexed: map[string]bool{}}
}

// doc is one YAML document of a rendered file.
type doc struct {
	file string // absolute path
	node *yaml.Node
}

func openTree(opts Options) (*tree, error) {
	out := strings.Trim(path.Clean(filepath.ToSlash(opts.Out)), "/")
	if out == "" {
		out = "."
	}
	t := &tree{root: opts.Root, shownRoot: opts.Root, out: out, docs: map[string][]*doc{}}
	if opts.Files == nil {
		return t, nil
	}
	if strings.HasPrefix(out, "..") {
		return nil, fmt.Errorf("verify: output directory %q is outside the repository", opts.Out)
	}
	dir, err := os.MkdirTemp("", "katonic-verify-")
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	t.root, t.tmp = dir, true
	for p, b := range opts.Files {
		if !filepath.IsLocal(filepath.FromSlash(p)) {
			t.close()
			return nil, fmt.Errorf("verify: rendered path %q is not local", p)
		}
		full := filepath.Join(dir, filepath.FromSlash(out), filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.close()
			return nil, fmt.Errorf("verify: %w", err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.close()
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	return t, nil
}

func (t *tree) close() {
	if t.tmp {
		os.RemoveAll(t.root)
	}
}

// abs returns the absolute path of a slash path relative to the root.
func (t *tree) abs(rel string) string { return filepath.Join(t.root, filepath.FromSlash(rel)) }

// shown maps an absolute path under the (possibly temporary) root to the
// path a user recognises, under the repository root.
func (t *tree) shown(abs string) string {
	if !t.tmp {
		return abs
	}
	r, err := filepath.Rel(t.root, abs)
	if err != nil {
		return abs
	}
	return filepath.Join(t.shownRoot, r)
}

// indexDir parses every .yaml file under dir (absolute) once and records
// where each object is declared.
func (ix *index) indexDir(dir string) {
	if ix.indexed[dir] {
		return
	}
	ix.indexed[dir] = true
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return nil
		}
		for _, dc := range ix.tree.parse(p) {
			body := mapping(dc.node)
			if body == nil {
				continue
			}
			kind := scalar(lookup(body, "kind"))
			meta := lookup(body, "metadata")
			name, ns := scalar(lookup(meta, "name")), scalar(lookup(meta, "namespace"))
			if kind == "" || name == "" {
				continue
			}
			if _, dup := ix.docs[key(kind, ns, name)]; !dup {
				ix.docs[key(kind, ns, name)] = dc
			}
			if _, dup := ix.docs[key(kind, "*", name)]; !dup {
				ix.docs[key(kind, "*", name)] = dc
			}
		}
		return nil
	})
}

// parse returns the YAML documents of file p, parsed once.
func (t *tree) parse(p string) []*doc {
	if ds, done := t.docs[p]; done {
		return ds
	}
	t.docs[p] = nil
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			break // io.EOF, or a syntax error the build layer reports
		}
		t.docs[p] = append(t.docs[p], &doc{file: p, node: &n})
	}
	return t.docs[p]
}

func key(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// pos returns the position of field (a dotted path with [i] indexes, as in
// Kubernetes field errors) of o in its rendered file, as close as it can:
// the field, else its nearest present parent, else the object, else nothing.
func (ix *index) pos(o *object, field string) diag.Pos {
	t := ix.tree
	dc := ix.docs[key(o.kind, o.namespace, o.name)]
	if dc == nil {
		dc = ix.docs[key(o.kind, "*", o.name)]
	}
	if dc == nil {
		if o.file != "" {
			return diag.Pos{Filename: t.shown(o.file)}
		}
		return diag.Pos{}
	}
	n := mapping(dc.node)
	at := n
	for _, seg := range fieldpath.Split(field) {
		var next *yaml.Node
		if i, err := strconv.Atoi(seg); err == nil && at != nil && at.Kind == yaml.SequenceNode {
			if i >= 0 && i < len(at.Content) {
				next = at.Content[i]
			}
		} else {
			next = lookupKey(at, seg)
		}
		if next == nil {
			break
		}
		at = next
	}
	if at == nil {
		return diag.Pos{Filename: t.shown(dc.file)}
	}
	return diag.Pos{Filename: t.shown(dc.file), Line: at.Line, Column: at.Column}
}

// mapping returns the mapping node of a document node, or nil.
func mapping(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	return n
}

// lookup returns the value of key k in mapping n (the key node's value),
// or nil.
func lookup(n *yaml.Node, k string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i+1]
		}
	}
	return nil
}

// lookupKey is lookup for positions: it returns the key node for scalar
// values (where an editor puts the cursor) and the value node otherwise.
func lookupKey(n *yaml.Node, k string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			if v := n.Content[i+1]; v.Kind != yaml.ScalarNode {
				return v
			}
			return n.Content[i]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
