package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/render"
)

// input is the Go form of policy/policy.cue's #Input; the JSON names are
// the CUE field names.
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

// objectPos locates an object's fields in its file.
type objectPos struct {
	file  string
	start int            // line of the document's first key
	lines map[string]int // line of every path in the object
}

// line returns the line of p in the object, or of its nearest parent that
// is there, or of the object.
func (o *objectPos) line(p string) int {
	segs := splitPath(p)
	for n := len(segs); n > 0; n-- {
		if l, ok := o.lines[joinPath(segs[:n])]; ok {
			return l
		}
	}
	return o.start
}

// buildInput makes the policy input of env: its configuration, every
// YAML document of env.Files (read from files) with every leaf, and its
// releases. It returns the objects' positions by id and diagnostics for
// files that are not YAML; the error is for a file missing from files.
func buildInput(env compile.EnvResult, files map[string][]byte, outPrefix string) (*input, map[string]*objectPos, diag.List, error) {
	e := env.Env
	in := &input{
		Environment: environmentIn{
			Name: e.Name, File: e.File, Profile: string(e.Profile), Provider: e.Provider,
			PlatformVersion: e.PlatformVersion, KubernetesVersion: e.KubernetesVersion,
			Domain: e.Domain, LoadBalancer: e.LoadBalancer,
			Hosts:     Hosts(e),
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

	objs := map[string]*objectPos{}
	var diags diag.List
	names := append([]string(nil), env.Files...)
	sort.Strings(names)
	for _, name := range names {
		b, ok := files[name]
		if !ok {
			return nil, nil, nil, fmt.Errorf("policy: environment %s: file %s is not among the rendered files", e.Name, name)
		}
		if ext := path.Ext(name); ext != ".yaml" && ext != ".yml" {
			continue
		}
		shown := name
		if outPrefix != "" && outPrefix != "." {
			shown = path.Join(outPrefix, name)
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
			f := &flattener{lines: map[string]int{}}
			m, _ := f.value(root, nil, "").(map[string]any)
			kind, _ := m["kind"].(string)
			apiVersion, _ := m["apiVersion"].(string)
			md, _ := m["metadata"].(map[string]any)
			objName, _ := md["name"].(string)
			ns, _ := md["namespace"].(string)
			id := objectID(kind, ns, objName, shown)
			if _, dup := objs[id]; dup {
				id = fmt.Sprintf("%s#%d", id, i)
			}
			objs[id] = &objectPos{file: shown, start: root.Line, lines: f.lines}
			in.Objects = append(in.Objects, objectIn{ID: id, File: shown, Kind: kind, APIVersion: apiVersion, Name: objName, Namespace: ns, Object: m})
			for _, l := range f.leaves {
				l.ID, l.Kind, l.File = id, kind, shown
				in.Leaves = append(in.Leaves, l)
			}
		}
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

// Hosts returns the ingress hosts env may serve: its FQDN, then
// dash-<FQDN> when Superset is on and connectors-<FQDN> when Airbyte is
// on (seeds 001_023b29528093f049.txt and 003_48ea17a7d7c364df.txt).
func Hosts(env *config.Environment) []string {
	hosts := []string{env.Domain}
	if env.Enabled("superset") {
		hosts = append(hosts, env.DashHost())
	}
	if env.Enabled("airbyte") {
		hosts = append(hosts, env.ConnectorsHost())
	}
	return hosts
}

// flattener turns a YAML node tree into plain Go values (map[string]any,
// []any, string, int64, float64, bool, nil), recording the line of every
// path and every scalar leaf.
type flattener struct {
	lines  map[string]int
	leaves []leafIn
}

// value converts n at path segs; key is the nearest map key above n.
func (f *flattener) value(n *yaml.Node, segs []string, key string) any {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := append(segs[:len(segs):len(segs)], k.Value)
			f.lines[joinPath(sub)] = k.Line
			m[k.Value] = f.value(v, sub, k.Value)
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, v := range n.Content {
			sub := append(segs[:len(segs):len(segs)], strconv.Itoa(i))
			f.lines[joinPath(sub)] = v.Line
			l[i] = f.value(v, sub, key)
		}
		return l
	case yaml.ScalarNode:
		var typ string
		var out any
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			b, err := strconv.ParseBool(strings.ToLower(n.Value))
			if err != nil {
				out, typ = n.Value, "string"
				break
			}
			out, typ = b, "bool"
		case "!!int":
			if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				out, typ = i, "number"
			} else {
				out, typ = n.Value, "string"
			}
		case "!!float":
			if x, err := strconv.ParseFloat(n.Value, 64); err == nil {
				out, typ = x, "number"
			} else {
				out, typ = n.Value, "string"
			}
		default: // !!str, !!timestamp, !!binary: the text as written
			out, typ = n.Value, "string"
		}
		f.leaves = append(f.leaves, leafIn{Path: joinPath(segs), Key: key, Value: n.Value, Type: typ})
		return out
	}
	return nil
}

// joinPath writes path segments as a field path: keys dotted, list indexes
// (all-digit segments) as [i], keys with a dot, bracket or quote, or empty
// ones, as ["key"]: spec.values.ingress.hosts[0],
// metadata.labels["katonic.ai/node-pool"].
func joinPath(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s != "" && isDigits(s):
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

// splitPath is the inverse of joinPath: spec.values.hosts[0] →
// spec, values, hosts, 0. A bracketed key is one segment.
func splitPath(p string) []string {
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

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
	p, _ := findField(e.file.Decls, append([]string{"environments", e.name}, rel...), label)
	if !p.IsValid() {
		return diag.Pos{Filename: e.abs}
	}
	return posOf(p)
}

// findField walks decls along path; a label may be declared more than
// once, and each declaration is searched. It returns the position of the
// field at path (its label when label, else its value) and len(path), or
// the label of the deepest field on the path that decls declare and how
// many labels of path matched (0 and no position when none did).
func findField(decls []ast.Decl, path []string, label bool) (token.Pos, int) {
	var best token.Pos
	depth := 0
	for _, d := range decls {
		fd, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		if name, _, err := ast.LabelName(fd.Label); err != nil || name != path[0] {
			continue
		}
		if len(path) == 1 {
			if label {
				return fd.Label.Pos(), 1
			}
			return fd.Value.Pos(), 1
		}
		if depth == 0 {
			best, depth = fd.Label.Pos(), 1
		}
		if s, ok := fd.Value.(*ast.StructLit); ok {
			p, n := findField(s.Elts, path[1:], label)
			if n+1 == len(path) {
				return p, n + 1
			}
			if n > 0 && n+1 > depth {
				best, depth = p, n+1
			}
		}
	}
	return best, depth
}
