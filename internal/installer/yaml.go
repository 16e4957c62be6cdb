package installer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxDepth bounds the nesting of the installer file: both real formats
// nest at most three levels, and a bound keeps a hostile file from making
// the walk deep.
const maxDepth = 16

// maxKeys bounds the keys of the installer file (the real ones have about
// 150): aliases can make a small file name exponentially many keys.
const maxKeys = 5000

// item is one key of the installer file, with the position of the key.
type item struct {
	// key is the dotted path from the top, e.g. "node_pools.platform.count".
	key string
	// line and column are 1-based, of the key in the file.
	line, column int
	// value is the key's value: a scalar, a sequence or a mapping.
	value *yaml.Node
}

// doc is an installer file read as YAML nodes, so that every key keeps its
// position for the report.
type doc struct {
	// leaves are the keys whose values are not non-empty mappings, in file
	// order: each one must end up mapped or reported.
	leaves []*item
	// keys holds every key, leaves and mappings alike.
	keys map[string]*item
	// top are the top-level keys, in file order.
	top []string
}

// parse reads src as one YAML document whose top level is a mapping. file
// is the name used in errors. It returns an error for a YAML syntax error,
// more than one document, a top level that is not a mapping, a key that is
// not a scalar or a key given twice.
func parse(file string, src []byte) (*doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty: want a Katonic installer configuration (a YAML mapping)", file)
		}
		return nil, fmt.Errorf("%s: not YAML: %v", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, fmt.Errorf("%s: not YAML: %v", file, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, fmt.Errorf("%s:%d: a second YAML document: an installer configuration is one document", file, line)
	}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d:%d: the top level is not a mapping of keys: want a Katonic installer configuration", file, top.Line, top.Column)
	}
	d := &doc{keys: map[string]*item{}}
	if err := d.walk(file, top, "", 0); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *doc) walk(file string, m *yaml.Node, prefix string, depth int) error {
	if depth >= maxDepth {
		return fmt.Errorf("%s:%d:%d: nested deeper than %d levels: not a Katonic installer configuration", file, m.Line, m.Column, maxDepth)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "<<" {
			return fmt.Errorf("%s:%d:%d: a key that is not a plain name: installer keys are names such as cluster_name", file, k.Line, k.Column)
		}
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		if prev, ok := d.keys[key]; ok {
			return fmt.Errorf("%s:%d:%d: %s is given twice (first at line %d)", file, k.Line, k.Column, key, prev.line)
		}
		if len(d.keys) >= maxKeys {
			return fmt.Errorf("%s:%d:%d: more than %d keys: not a Katonic installer configuration", file, k.Line, k.Column, maxKeys)
		}
		it := &item{key: key, line: k.Line, column: k.Column, value: v}
		d.keys[key] = it
		if prefix == "" {
			d.top = append(d.top, key)
		}
		if v.Kind == yaml.MappingNode && len(v.Content) > 0 {
			if err := d.walk(file, v, key, depth+1); err != nil {
				return err
			}
			continue
		}
		d.leaves = append(d.leaves, it)
	}
	return nil
}

// get returns the item at key, or nil.
func (d *doc) get(key string) *item { return d.keys[key] }

// has reports whether key is present.
func (d *doc) has(key string) bool { return d.keys[key] != nil }

// children returns the leaf keys under prefix (prefix + "."), in file order.
func (d *doc) children(prefix string) []*item {
	var out []*item
	for _, it := range d.leaves {
		if strings.HasPrefix(it.key, prefix+".") {
			out = append(out, it)
		}
	}
	return out
}

// empty reports whether the item holds nothing: null, "" or an empty
// mapping or sequence.
func (it *item) empty() bool {
	v := it.value
	switch v.Kind {
	case yaml.ScalarNode:
		return v.Tag == "!!null" || v.Value == ""
	case yaml.MappingNode, yaml.SequenceNode:
		return len(v.Content) == 0
	}
	return true
}

// str returns the item's scalar value as text, and false for a mapping, a
// sequence or null.
func (it *item) str() (string, bool) {
	v := it.value
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return "", false
	}
	return v.Value, true
}

// boolean returns the item's value as a YAML boolean (true, True, yes...
// as resolved by go.yaml.in/yaml/v3), and false when it is not one.
func (it *item) boolean() (bool, bool) {
	v := it.value
	if v.Kind != yaml.ScalarNode {
		return false, false
	}
	var b bool
	if v.Tag == "!!bool" && v.Decode(&b) == nil {
		return b, true
	}
	switch strings.ToLower(v.Value) {
	case "true", "yes":
		return true, true
	case "false", "no":
		return false, true
	}
	return false, false
}

// integer returns the item's value as a non-negative integer (an int, or a
// string of digits), and false otherwise. Values above 1<<31 are refused:
// no node count or disk size is that large.
func (it *item) integer() (int, bool) {
	s, ok := it.str()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 31)
	if err != nil {
		return 0, false
	}
	return int(n), true
}

// seqLen returns the number of entries of a sequence value, and false when
// the value is not a sequence.
func (it *item) seqLen() (int, bool) {
	if it.value.Kind != yaml.SequenceNode {
		return 0, false
	}
	return len(it.value.Content), true
}
