package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/fieldpath"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/render"
)

// input is the Go form of policy/policy.cue's #Input; the JSON names are
// the CUE field names. buildInput makes all of it; Evaluate makes the
// environment and releases in this form and the rest, only what the
// policies read, from the YAML nodes (materialize).
type input struct {
	Environment environmentIn `json:"environment"`
	Objects     []objectIn    `json:"objects"`
	Releases    []releaseIn   `json:"releases"`
	Leaves      []leafIn      `json:"leaves"`
}

type environmentIn struct {
	Name              string                `json:"name"`
	File              string                `json:"file"`
	Profile           string                `json:"profile"`
	Provider          string                `json:"provider,omitempty"`
	PlatformVersion   string                `json:"platformVersion"`
	KubernetesVersion string                `json:"kubernetesVersion"`
	Domain            string                `json:"domain"`
	LoadBalancer      string                `json:"loadBalancer"`
	Hosts             []string              `json:"hosts"`
	NodePools         map[string]nodePoolIn `json:"nodePools"`
	Services          map[string]serviceIn  `json:"services"`
}

type nodePoolIn struct {
	MinNodes    int               `json:"minNodes"`
	MaxNodes    int               `json:"maxNodes"`
	CPU         int               `json:"cpu"`
	MemoryGiB   int               `json:"memoryGiB"`
	BootDiskGiB int               `json:"bootDiskGiB"`
	VMSize      string            `json:"vmSize,omitempty"`
	GPUType     string            `json:"gpuType,omitempty"`
	GPUCount    int               `json:"gpuCount,omitempty"`
	Labels      map[string]string `json:"labels"`
	Taints      []taintIn         `json:"taints"`
}

type taintIn struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Effect string `json:"effect"`
}

type serviceIn struct {
	Enabled   bool   `json:"enabled"`
	Namespace string `json:"namespace"`
}

type objectIn struct {
	ID         string         `json:"id"`
	File       string         `json:"file"`
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Name       string         `json:"name"`
	Namespace  string         `json:"namespace"`
	Object     map[string]any `json:"object"`
}

type releaseIn struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Service   string   `json:"service"`
	Namespace string   `json:"namespace"`
	Pools     []string `json:"pools"`
}

type leafIn struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	File  string `json:"file"`
	Path  string `json:"path"`
	Key   string `json:"key"`
	Value string `json:"value"`
	Type  string `json:"type"`
}

// objectPos locates an object's fields in its file. An object of the
// render's objects (EvaluateObjects) has no lines until one is asked for:
// then its file is parsed, once per evaluation.
type objectPos struct {
	file  string
	start int        // line of the document's first key
	root  *yaml.Node // the document's mapping, with lines
	src   *lazyFile  // when root is not parsed yet
	index int        // the document's index in src
}

// line returns the line of p in the object, or of its nearest parent that
// is there, or of the object.
func (o *objectPos) line(p string) int {
	if o.root == nil && o.src != nil {
		if root := o.src.document(o.index); root != nil {
			o.root, o.start = root, root.Line
		}
		o.src = nil
	}
	if o.root == nil {
		return o.start
	}
	segs := fieldpath.Split(p)
	for n := len(segs); n > 0; n-- {
		if l, ok := nodeLine(o.root, segs[:n]); ok {
			return l
		}
	}
	return o.start
}

// lazyFile is a rendered file whose YAML is parsed on first use.
type lazyFile struct {
	data   []byte
	parsed bool
	roots  []*yaml.Node // by document index; nil for a document that is not a mapping
}

// document returns the mapping of document i, or nil.
func (f *lazyFile) document(i int) *yaml.Node {
	if !f.parsed {
		f.parsed = true
		dec := yaml.NewDecoder(bytes.NewReader(f.data))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				break
			}
			root := &doc
			if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
				root = root.Content[0]
			}
			if root.Kind != yaml.MappingNode {
				root = nil
			}
			f.roots = append(f.roots, root)
		}
	}
	if i < len(f.roots) {
		return f.roots[i]
	}
	return nil
}

// nodeLine returns the line of the key (or list element) at segs under n.
// A key that a mapping repeats is looked up from its last occurrence
// backwards, as if every occurrence had been recorded in file order.
func nodeLine(n *yaml.Node, segs []string) (int, bool) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := len(n.Content) - 2; i >= 0; i -= 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != segs[0] {
				continue
			}
			if len(segs) == 1 {
				return k.Line, true
			}
			if l, ok := nodeLine(v, segs[1:]); ok {
				return l, true
			}
		}
	case yaml.SequenceNode:
		if !fieldpath.IsDigits(segs[0]) {
			return 0, false
		}
		i, err := strconv.Atoi(segs[0])
		if err != nil || strconv.Itoa(i) != segs[0] || i >= len(n.Content) {
			return 0, false
		}
		if len(segs) == 1 {
			return n.Content[i].Line, true
		}
		return nodeLine(n.Content[i], segs[1:])
	}
	return 0, false
}

// document is one YAML mapping document of a rendered file.
type document struct {
	id, file, kind, apiVersion, name, namespace string
	root                                        *yaml.Node
}

// parseFiles reads every YAML document of env.Files (from files), in
// file order. A file with objects (render.Result.Objects) is not parsed:
// its documents are made from them, and their lines are found when asked
// for (objectPos.line). It returns the documents, their positions by id
// and diagnostics for files that are not YAML; the error is for a file
// missing from files.
func parseFiles(env compile.EnvResult, files map[string][]byte, objects map[string][]map[string]any, outPrefix string) ([]*document, map[string]*objectPos, diag.List, error) {
	objs := map[string]*objectPos{}
	var docs []*document
	var diags diag.List
	names := append([]string(nil), env.Files...)
	sort.Strings(names)
	add := func(root *yaml.Node, shown string, i int, pos *objectPos) {
		d := &document{file: shown, root: root}
		d.kind, _ = scalarString(mapValue(root, "kind"))
		d.apiVersion, _ = scalarString(mapValue(root, "apiVersion"))
		if md := deref(mapValue(root, "metadata")); md != nil && md.Kind == yaml.MappingNode {
			d.name, _ = scalarString(mapValue(md, "name"))
			d.namespace, _ = scalarString(mapValue(md, "namespace"))
		}
		d.id = objectID(d.kind, d.namespace, d.name, shown)
		if _, dup := objs[d.id]; dup {
			d.id = fmt.Sprintf("%s#%d", d.id, i)
		}
		objs[d.id] = pos
		docs = append(docs, d)
	}
	for _, name := range names {
		b, ok := files[name]
		if !ok {
			return nil, nil, nil, fmt.Errorf("policy: environment %s: file %s is not among the rendered files", env.Env.Name, name)
		}
		if ext := path.Ext(name); ext != ".yaml" && ext != ".yml" {
			continue
		}
		shown := name
		if outPrefix != "" && outPrefix != "." {
			shown = path.Join(outPrefix, name)
		}
		if ms, ok := objects[name]; ok {
			src := &lazyFile{data: b}
			for i, m := range ms {
				add(nodeOf(m), shown, i, &objectPos{file: shown, src: src, index: i})
			}
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				diags = append(diags, diag.Diagnostic{Severity: diag.Error, Pos: diag.Pos{Filename: shown},
					Message: "not YAML: " + err.Error(), Rule: "policy.input",
					Source: "katonic renders YAML documents (internal/render)"})
				break
			}
			root := &doc
			if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
				root = root.Content[0]
			}
			if root.Kind != yaml.MappingNode {
				continue // an empty document or a bare value
			}
			add(root, shown, i, &objectPos{file: shown, start: root.Line, root: root})
		}
	}
	return docs, objs, diags, nil
}

// nodeOf makes the YAML node tree of a plain value as katonic encodes it
// (render.Result.Objects), with the tags and scalar text that parsing its
// YAML gives, and no lines. Integers are int64 and other numbers float64,
// written as yaml.v2 writes them (strconv 'g' format).
func nodeOf(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*len(keys))}
		for _, k := range keys {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, nodeOf(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, len(x))}
		for i, e := range x {
			n.Content[i] = nodeOf(e)
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(x, 'g', -1, 64)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// mapValue returns the value of the last key k of mapping m, or nil.
func mapValue(m *yaml.Node, k string) *yaml.Node {
	for i := len(m.Content) - 2; i >= 0; i -= 2 {
		if m.Content[i].Value == k {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalarString returns n's value when it converts to a string (see
// scalar), as the document's kind, apiVersion, name and namespace.
func scalarString(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	v, _ := scalar(n)
	s, ok := v.(string)
	return s, ok
}

// newInput makes the configuration part of env's input: the environment
// and its releases; objects and leaves come from the documents.
func newInput(env compile.EnvResult) *input {
	e := env.Env
	in := &input{
		Environment: environmentIn{
			Name: e.Name, File: e.File, Profile: string(e.Profile), Provider: e.Provider,
			PlatformVersion: e.PlatformVersion, KubernetesVersion: e.KubernetesVersion,
			Domain: e.Domain, LoadBalancer: e.LoadBalancer,
			Hosts:     e.Hosts(),
			NodePools: map[string]nodePoolIn{},
			Services:  map[string]serviceIn{},
		},
		Objects:  []objectIn{},
		Releases: []releaseIn{},
		Leaves:   []leafIn{},
	}
	for role, p := range e.NodePools {
		np := nodePoolIn{
			MinNodes: p.MinNodes, MaxNodes: p.MaxNodes, CPU: p.CPU, MemoryGiB: p.MemoryGiB, BootDiskGiB: p.BootDiskGiB,
			VMSize: p.VMSize, GPUType: p.GPUType, GPUCount: p.GPUCount,
			Labels: p.Labels(role), Taints: []taintIn{},
		}
		for _, t := range p.Taints(role) {
			np.Taints = append(np.Taints, taintIn{Key: t.Key, Value: t.Value, Effect: t.Effect})
		}
		in.Environment.NodePools[string(role)] = np
	}
	for k, s := range e.Services {
		in.Environment.Services[k] = serviceIn{Enabled: s.Enabled, Namespace: s.Namespace}
	}
	for _, r := range env.Releases {
		ri := releaseIn{ID: "HelmRelease/" + render.FluxNamespace + "/" + r.Name, Name: r.Name, Service: r.Service, Namespace: r.Namespace, Pools: []string{}}
		for _, p := range r.Pools {
			ri.Pools = append(ri.Pools, string(p))
		}
		in.Releases = append(in.Releases, ri)
	}
	return in
}

// buildInput makes the whole policy input of env: its configuration,
// every YAML document of env.Files (read from files) with every leaf, and
// its releases. It returns the objects' positions by id and diagnostics
// for files that are not YAML; the error is for a file missing from
// files. Evaluate builds only the part of it that the policies read
// (materialize).
func buildInput(env compile.EnvResult, files map[string][]byte, objects map[string][]map[string]any, outPrefix string) (*input, map[string]*objectPos, diag.List, error) {
	docs, objs, diags, err := parseFiles(env, files, objects, outPrefix)
	if err != nil {
		return nil, nil, nil, err
	}
	in := newInput(env)
	for _, d := range docs {
		m, _ := full(d.root).(map[string]any)
		in.Objects = append(in.Objects, objectIn{ID: d.id, File: d.file, Kind: d.kind, APIVersion: d.apiVersion, Name: d.name, Namespace: d.namespace, Object: m})
		walkLeaves(d, func(l *leafRow) {
			in.Leaves = append(in.Leaves, leafIn{ID: d.id, Kind: d.kind, File: d.file, Path: l.path(), Key: l.key, Value: l.n.Value, Type: l.typ})
		})
	}
	return in, objs, diags, nil
}

// objectID names a document: Kind/namespace/name, Kind/name without a
// namespace, Kind/<file> without a name.
func objectID(kind, ns, name, file string) string {
	switch {
	case name == "":
		return kind + "/" + file
	case ns == "":
		return kind + "/" + name
	default:
		return kind + "/" + ns + "/" + name
	}
}

// scalar converts a YAML scalar to a plain Go value (string, int64,
// float64, bool or nil) and says what it is: "string", "number", "bool",
// or "" for null.
func scalar(n *yaml.Node) (any, string) {
	switch n.ShortTag() {
	case "!!null":
		return nil, ""
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return n.Value, "string"
		}
		return b, "bool"
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i, "number"
		}
		return n.Value, "string"
	case "!!float":
		if x, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return x, "number"
		}
		return n.Value, "string"
	default: // !!str, !!timestamp, !!binary: the text as written
		return n.Value, "string"
	}
}

// scalarType is the type scalar gives, without converting the value.
func scalarType(n *yaml.Node) string {
	switch n.ShortTag() {
	case "!!null":
		return ""
	case "!!bool":
		if _, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return "bool"
		}
	case "!!int":
		if _, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return "number"
		}
	case "!!float":
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return "number"
		}
	}
	return "string"
}

// full turns a YAML node tree into plain Go values (map[string]any, []any,
// string, int64, float64, bool, nil).
func full(n *yaml.Node) any {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = full(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, v := range n.Content {
			l[i] = full(v)
		}
		return l
	case yaml.ScalarNode:
		v, _ := scalar(n)
		return v
	}
	return nil
}

// pruned is full(n) with only what nd needs (nd normalized, not nil).
func pruned(n *yaml.Node, nd *need) any {
	if nd.whole {
		return full(n)
	}
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if c := nd.child(n.Content[i].Value); c != nil {
				m[n.Content[i].Value] = pruned(n.Content[i+1], c)
			}
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, v := range n.Content {
			if c := nd.child(strconv.Itoa(i)); c != nil {
				l[i] = pruned(v, c)
			}
		}
		return l
	case yaml.ScalarNode:
		v, _ := scalar(n)
		return v
	}
	return nil
}

// leafRow is one leaf of a document during walkLeaves.
type leafRow struct {
	doc  *document
	segs []string // valid during the callback only
	key  string
	typ  string
	n    *yaml.Node
	p    string
}

func (l *leafRow) path() string {
	if l.p == "" {
		l.p = fieldpath.Join(l.segs)
	}
	return l.p
}

func (l *leafRow) field(name string) string {
	switch name {
	case "id":
		return l.doc.id
	case "kind":
		return l.doc.kind
	case "file":
		return l.doc.file
	case "path":
		return l.path()
	case "key":
		return l.key
	case "value":
		return l.n.Value
	case "type":
		return l.typ
	}
	return ""
}

// walkLeaves calls f for every scalar leaf of d that is not null, depth
// first, a mapping's keys in byte order (policy/policy.cue: "leaves depth
// first in key order"), whatever order the YAML lists them in, so that
// documents made from the render's objects (nodeOf) and parsed from its
// YAML give the same rows. The row is valid during the call only.
func walkLeaves(d *document, f func(*leafRow)) {
	var l leafRow
	var walk func(n *yaml.Node, segs []string, key string)
	walk = func(n *yaml.Node, segs []string, key string) {
		n = deref(n)
		switch n.Kind {
		case yaml.MappingNode:
			for _, i := range keyOrder(n) {
				k := n.Content[i].Value
				walk(n.Content[i+1], append(segs, k), k)
			}
		case yaml.SequenceNode:
			for i, v := range n.Content {
				walk(v, append(segs, strconv.Itoa(i)), key)
			}
		case yaml.ScalarNode:
			if typ := scalarType(n); typ != "" {
				l = leafRow{doc: d, segs: segs, key: key, typ: typ, n: n}
				f(&l)
			}
		}
	}
	walk(d.root, make([]string, 0, 16), "")
}

// keyOrder returns the indexes in m.Content of m's keys, in byte order of
// the keys (stable for a repeated key).
func keyOrder(m *yaml.Node) []int {
	idx := make([]int, 0, len(m.Content)/2)
	sorted := true
	for i := 0; i+1 < len(m.Content); i += 2 {
		if i > 0 && m.Content[i].Value < m.Content[i-2].Value {
			sorted = false
		}
		idx = append(idx, i)
	}
	if !sorted {
		sort.SliceStable(idx, func(a, b int) bool { return m.Content[idx[a]].Value < m.Content[idx[b]].Value })
	}
	return idx
}

func (d *document) field(name string) string {
	switch name {
	case "id":
		return d.id
	case "file":
		return d.file
	case "kind":
		return d.kind
	case "apiVersion":
		return d.apiVersion
	case "name":
		return d.name
	case "namespace":
		return d.namespace
	}
	return ""
}

func (r *releaseIn) field(name string) string {
	switch name {
	case "id":
		return r.ID
	case "name":
		return r.Name
	case "service":
		return r.Service
	case "namespace":
		return r.Namespace
	}
	return ""
}

// materialize makes the part of in that u needs, with objects and leaves
// from docs, as plain Go values for cue.Context.Encode: the rows of
// objects, releases and leaves that no policy can yield for are left out,
// and of the rest only what the policies read.
func materialize(u *usage, in *input, docs []*document, cache *matchCache) map[string]any {
	root := map[string]any{}
	nd := u.input
	if n := nd.childOf("environment"); n != nil {
		root["environment"] = prunedAny(environmentValue(&in.Environment), n)
	}
	if n := nd.childOf("releases"); n != nil {
		sel := newSelector(n, u.filter("releases"), cache)
		rows := []any{}
		for i := range in.Releases {
			r := &in.Releases[i]
			if rn, keep := sel.need(r, len(rows)); keep {
				rows = append(rows, rowValue(rn, func() any { return prunedAny(releaseValue(r), rn) }))
			}
		}
		root["releases"] = rows
	}
	if n := nd.childOf("objects"); n != nil {
		sel := newSelector(n, u.filter("objects"), cache)
		rows := []any{}
		for _, d := range docs {
			if rn, keep := sel.need(d, len(rows)); keep {
				rows = append(rows, rowValue(rn, func() any { return objectValue(d, rn) }))
			}
		}
		root["objects"] = rows
	}
	if n := nd.childOf("leaves"); n != nil {
		sel := newSelector(n, u.filter("leaves"), cache)
		rows := []any{}
		for _, d := range docs {
			walkLeaves(d, func(l *leafRow) {
				if rn, keep := sel.need(l, len(rows)); keep {
					rows = append(rows, rowValue(rn, func() any { return leafValue(l, rn) }))
				}
			})
		}
		root["leaves"] = rows
	}
	return root
}

// rowValue is f(), or null for a row that is kept but not read.
func rowValue(rn *need, f func() any) any {
	if rn == nil {
		return nil
	}
	return f()
}

// selector decides which rows of a list go into input, and what of each.
type selector struct {
	n     *need   // the list's
	f     *filter // nil: every row
	cache *matchCache
	needs map[[2]uint64]*need // by the uses a row passes and the fields its clauses read
}

func newSelector(n *need, f *filter, cache *matchCache) *selector {
	return &selector{n: n, f: f, cache: cache, needs: map[[2]uint64]*need{}}
}

// need returns the need of r, the i-th row kept so far (nil when nothing
// of it is read), and whether to keep it.
func (s *selector) need(r row, i int) (*need, bool) {
	if s.f == nil || s.n.whole {
		return s.n.childOf(strconv.Itoa(i)), true
	}
	var passed uint64
	var read uint64 // fields, by their index in fieldNames
	for j, u := range s.f.uses {
		ok := true
		for _, c := range u.clauses {
			for _, name := range c.fields {
				read |= 1 << fieldIndex[name]
			}
			if !c.test(r, s.cache) {
				ok = false
				break
			}
		}
		if ok {
			passed |= 1 << j
		}
	}
	if passed == 0 {
		return nil, false
	}
	key := [2]uint64{passed, read}
	if rn, ok := s.needs[key]; ok {
		return rn, true
	}
	acc := s.n.elems
	for j, u := range s.f.uses {
		if passed&(1<<j) != 0 {
			acc = merge(acc, s.n.uses[u.id])
		}
	}
	for k, name := range fieldNames {
		if read&(1<<k) != 0 {
			acc = merge(acc, &need{fields: map[string]*need{name: {whole: true}}})
		}
	}
	if acc == nil {
		acc = &need{}
	}
	rn := normalize(acc)
	s.needs[key] = rn
	return rn, true
}

// childOf is child for a need that may be whole.
func (n *need) childOf(k string) *need {
	if n.whole {
		return n
	}
	return n.child(k)
}

func (u *usage) filter(list string) *filter {
	if u.filters == nil {
		return nil
	}
	return u.filters[list]
}

func objectValue(d *document, n *need) any {
	m := map[string]any{}
	for _, k := range [...]string{"id", "file", "kind", "apiVersion", "name", "namespace"} {
		if n.childOf(k) != nil {
			m[k] = d.field(k)
		}
	}
	if c := n.childOf("object"); c != nil {
		m["object"] = pruned(d.root, c)
	}
	return m
}

func leafValue(l *leafRow, n *need) any {
	m := map[string]any{}
	for _, k := range [...]string{"id", "kind", "file", "path", "key", "value", "type"} {
		if n.childOf(k) != nil {
			m[k] = l.field(k)
		}
	}
	return m
}

func releaseValue(r *releaseIn) any {
	pools := make([]any, len(r.Pools))
	for i, p := range r.Pools {
		pools[i] = p
	}
	return map[string]any{"id": r.ID, "name": r.Name, "service": r.Service, "namespace": r.Namespace, "pools": pools}
}

// environmentValue is e as cue.Context.Encode sees it (JSON names,
// omitempty fields left out).
func environmentValue(e *environmentIn) any {
	m := map[string]any{
		"name": e.Name, "file": e.File, "profile": e.Profile,
		"platformVersion": e.PlatformVersion, "kubernetesVersion": e.KubernetesVersion,
		"domain": e.Domain, "loadBalancer": e.LoadBalancer,
	}
	if e.Provider != "" {
		m["provider"] = e.Provider
	}
	m["hosts"] = stringList(e.Hosts)
	if e.NodePools == nil {
		m["nodePools"] = nil
	} else {
		pools := make(map[string]any, len(e.NodePools))
		for role, p := range e.NodePools {
			pm := map[string]any{
				"minNodes": p.MinNodes, "maxNodes": p.MaxNodes, "cpu": p.CPU,
				"memoryGiB": p.MemoryGiB, "bootDiskGiB": p.BootDiskGiB,
			}
			if p.VMSize != "" {
				pm["vmSize"] = p.VMSize
			}
			if p.GPUType != "" {
				pm["gpuType"] = p.GPUType
			}
			if p.GPUCount != 0 {
				pm["gpuCount"] = p.GPUCount
			}
			if p.Labels == nil {
				pm["labels"] = nil
			} else {
				labels := make(map[string]any, len(p.Labels))
				for k, v := range p.Labels {
					labels[k] = v
				}
				pm["labels"] = labels
			}
			if p.Taints == nil {
				pm["taints"] = nil
			} else {
				taints := make([]any, len(p.Taints))
				for i, t := range p.Taints {
					taints[i] = map[string]any{"key": t.Key, "value": t.Value, "effect": t.Effect}
				}
				pm["taints"] = taints
			}
			pools[role] = pm
		}
		m["nodePools"] = pools
	}
	if e.Services == nil {
		m["services"] = nil
	} else {
		svcs := make(map[string]any, len(e.Services))
		for k, s := range e.Services {
			svcs[k] = map[string]any{"enabled": s.Enabled, "namespace": s.Namespace}
		}
		m["services"] = svcs
	}
	return m
}

func stringList(ss []string) any {
	if ss == nil {
		return nil
	}
	l := make([]any, len(ss))
	for i, s := range ss {
		l[i] = s
	}
	return l
}

// prunedAny is v (plain Go values) with only what n needs.
func prunedAny(v any, n *need) any {
	if n.whole {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, c := range x {
			if cn := n.child(k); cn != nil {
				m[k] = prunedAny(c, cn)
			}
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, c := range x {
			if cn := n.child(strconv.Itoa(i)); cn != nil {
				l[i] = prunedAny(c, cn)
			}
		}
		return l
	}
	return v
}

// envSyntax finds positions in an environment's file, parsed on first use.
type envSyntax struct {
	abs    string // absolute file name
	name   string // the environment's name
	parsed bool
	file   *ast.File
}

// pos returns the position of environments."<name>".<rel...> in the file:
// the label of the deepest field on that path that the file writes (the
// exact field when label, else its value), or the file alone.
func (e *envSyntax) pos(rel []string, label bool) diag.Pos {
	if !e.parsed {
		e.parsed = true
		e.file, _ = parser.ParseFile(e.abs, nil)
	}
	if e.file == nil {
		return diag.Pos{Filename: e.abs}
	}
	p, _ := load.FindField(e.file.Decls, append([]string{"environments", e.name}, rel...), label)
	if !p.IsValid() {
		return diag.Pos{Filename: e.abs}
	}
	return posOf(p)
}
