// Package provenance says where a value of a resolved environment comes
// from: the file and line that set it, the profile or schema default it
// overrode, and the constraints it had to meet (katonic show --why).
//
// CUE keeps every conjunct of a field with its source position; an
// environment's value is the unification of its own file, the defaults of
// its profile (profiles/) and the schema (schema/). Explain reads those
// conjuncts through cue.Value.Expr, so the answer is CUE's own record of
// the evaluation, not a second model of katonic's layering.
package provenance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"

	"github.com/katonic/katonic/internal/suggest"
)

// Layer names where a conjunct was written.
type Layer string

// The layers of an environment's value, from the most specific.
const (
	LayerEnvironment Layer = "environment" // environments/<name>.cue
	LayerProfile     Layer = "profile"     // profiles/
	LayerSchema      Layer = "schema"      // schema/
	LayerOther       Layer = "other"       // anywhere else (katonic's own overlay)
)

// Role says what a conjunct contributes to the value.
type Role string

// The roles of a conjunct.
const (
	// RoleSet is a conjunct that gives a concrete value: a literal in an
	// environment, or a value the schema fixes or derives (a service's
	// namespace, the vCPU of a known vmSize).
	RoleSet Role = "set"
	// RoleDefault is a conjunct that carries a default (*value | ...),
	// used only when no conjunct sets the field.
	RoleDefault Role = "default"
	// RoleConstraint is a type or bound the value must satisfy.
	RoleConstraint Role = "constraint"
)

// Conjunct is one contribution to a field's value.
type Conjunct struct {
	// File is the path of the file it was written in, slash separated
	// and relative to the directory given to Explain when inside it.
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Layer  Layer  `json:"layer"`
	Role   Role   `json:"role"`
	// Expr is the conjunct as written, in CUE syntax (e.g. `*"internal" | _`).
	Expr string `json:"expr"`
	// Default is the default value of a RoleDefault conjunct, as JSON.
	Default json.RawMessage `json:"default,omitempty"`
	// Overridden reports, for a RoleDefault conjunct, that another
	// conjunct set the field to a value other than this default.
	Overridden bool `json:"overridden,omitempty"`
}

// Pos returns "file:line:column".
func (c Conjunct) Pos() string { return fmt.Sprintf("%s:%d:%d", c.File, c.Line, c.Column) }

// Explanation is the provenance of one concrete field.
type Explanation struct {
	// Path is the field's CUE path within the environment, e.g.
	// "nodePools.platform.cpu".
	Path string `json:"path"`
	// Value is the field's final value, as JSON.
	Value json.RawMessage `json:"value"`
	// From says how the value was decided: "set" when a conjunct gives it,
	// "default" when no conjunct does and a default was taken.
	From Role `json:"from"`
	// Origin is where the final value itself was written, when it differs
	// from every conjunct's position: a value the schema derives, such as
	// the vCPU of a vmSize, comes from schema/vmsizes.cue.
	Origin string `json:"origin,omitempty"`
	// Conjuncts are every contribution, most specific layer first, then
	// by file and line.
	Conjuncts []Conjunct `json:"conjuncts"`
}

// SetBy returns the conjuncts that set the value (several when more than
// one layer gives the same value), or the defaults that were taken.
func (e Explanation) SetBy() []Conjunct {
	var out []Conjunct
	for _, c := range e.Conjuncts {
		if c.Role == e.From && !c.Overridden {
			out = append(out, c)
		}
	}
	return out
}

// Overridden returns the defaults that a set value overrode with a
// different value.
func (e Explanation) Overridden() []Conjunct {
	var out []Conjunct
	for _, c := range e.Conjuncts {
		if c.Overridden {
			out = append(out, c)
		}
	}
	return out
}

// Explain returns the provenance of the field at path in v, an
// environment's value (load.Env.Value: the environment with its profile
// and the schema applied). A path that leads to a struct is explained
// field by field, in CUE's field order. Positions are made relative to
// dir when they lie inside it.
//
// Errors: the path does not exist in v (a field the environment neither
// sets nor gets from a default, or a misspelling), or it has no concrete
// value.
func Explain(v cue.Value, path, dir string) ([]Explanation, error) {
	p, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	f := v.LookupPath(p)
	if !f.Exists() {
		return nil, noField(v, p)
	}
	var out []Explanation
	if err := explain(f, p, dir, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// parsePath reads a CUE path. Labels that are not identifiers may be
// written unquoted, as people type them (services.file-manager.enabled
// for services."file-manager".enabled), when the path has no quotes.
func parsePath(path string) (cue.Path, error) {
	p := cue.ParsePath(path)
	if p.Err() == nil {
		return p, nil
	}
	if path != "" && !strings.ContainsAny(path, "\"`[]") {
		var sel []cue.Selector
		for _, l := range strings.Split(path, ".") {
			if l == "" {
				return cue.Path{}, fmt.Errorf("bad path %q: an empty label", path)
			}
			sel = append(sel, cue.Str(l))
		}
		return cue.MakePath(sel...), nil
	}
	return cue.Path{}, fmt.Errorf("bad path %q: %v", path, p.Err())
}

// parent returns p without its last selector.
// noField explains a path that does not exist in v: the first of its
// fields that is missing, a did-you-mean when a field of the struct it was
// looked for in is spelt closely, and that struct's fields.
func noField(v cue.Value, p cue.Path) error {
	sels := p.Selectors()
	i := 0
	for i < len(sels) && v.LookupPath(cue.MakePath(sels[:i+1]...)).Exists() {
		i++
	}
	if i == len(sels) {
		return fmt.Errorf("no field %s", p)
	}
	missing := cue.MakePath(sels[:i+1]...)
	at := cue.MakePath(sels[:i]...)
	names := fieldNames(v, at)
	where := "the environment"
	if i > 0 {
		where = at.String()
	}
	msg := fmt.Sprintf("no field %s", missing)
	if len(names) == 0 {
		return fmt.Errorf("%s: %s has no fields", msg, where)
	}
	if best, ok := suggest.Closest(label(sels[i]), names); ok {
		fixed := append(append(append([]cue.Selector(nil), sels[:i]...), cue.Str(best)), sels[i+1:]...)
		msg += fmt.Sprintf(": did you mean %s?", cue.MakePath(fixed...))
	}
	return fmt.Errorf("%s (the fields of %s: %s)", msg, where, strings.Join(names, ", "))
}

// label is a selector as a user writes it: a field's name unquoted, an
// index or a definition as CUE prints it.
func label(s cue.Selector) string {
	if s.LabelType() == cue.StringLabel {
		return s.Unquoted()
	}
	return s.String()
}

func parent(p cue.Path) cue.Path {
	sel := p.Selectors()
	if len(sel) == 0 {
		return p
	}
	return cue.MakePath(sel[:len(sel)-1]...)
}

// fieldNames lists the regular fields of the struct at p in v, for the
// "no field" error.
func fieldNames(v cue.Value, p cue.Path) []string {
	var names []string
	it, err := v.LookupPath(p).Fields()
	if err != nil {
		return nil
	}
	for it.Next() {
		names = append(names, label(it.Selector()))
	}
	return names
}

func explain(v cue.Value, p cue.Path, dir string, out *[]Explanation) error {
	d, _ := v.Default()
	if d.IncompleteKind() == cue.StructKind {
		it, err := d.Fields()
		if err != nil {
			return err
		}
		for it.Next() {
			sel := append(p.Selectors(), it.Selector())
			if err := explain(it.Value(), cue.MakePath(sel...), dir, out); err != nil {
				return err
			}
		}
		return nil
	}
	if !d.IsConcrete() {
		return fmt.Errorf("%s has no concrete value (%v)", p, v)
	}
	val, err := d.MarshalJSON()
	if err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	e := Explanation{Path: p.String(), Value: val, From: RoleDefault}
	for _, c := range conjuncts(v) {
		cj := Conjunct{Expr: source(c), Role: RoleConstraint}
		cj.File, cj.Line, cj.Column = position(c.Pos(), dir)
		cj.Layer = layerOf(cj.File)
		switch dv, isDefault := c.Default(); {
		case isDefault && dv.IsConcrete():
			cj.Role = RoleDefault
			cj.Default, _ = dv.MarshalJSON()
		case c.IsConcrete() && !isDisjunction(c):
			cj.Role = RoleSet
			e.From = RoleSet
		}
		e.Conjuncts = append(e.Conjuncts, cj)
	}
	// A default that differs from the value was overridden by a set
	// value, or lost to another default; either way it was not taken.
	for i, c := range e.Conjuncts {
		if c.Role == RoleDefault {
			e.Conjuncts[i].Overridden = !bytes.Equal(c.Default, val)
		}
	}
	file, line, col := position(d.Pos(), dir)
	origin := fmt.Sprintf("%s:%d:%d", file, line, col)
	if line > 0 && !atConjunct(e.Conjuncts, file, line) {
		e.Origin = origin
	}
	sort.SliceStable(e.Conjuncts, func(i, j int) bool {
		a, b := e.Conjuncts[i], e.Conjuncts[j]
		if layerRank(a.Layer) != layerRank(b.Layer) {
			return layerRank(a.Layer) < layerRank(b.Layer)
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	*out = append(*out, e)
	return nil
}

// conjuncts splits a field's value into the conjuncts it was unified
// from. cue.Value.Expr reports an AndOp both for several fields unified
// and for one field written as `a & b`; only the first is a split into
// conjuncts, recognisable because each part's source is a field.
func conjuncts(v cue.Value) []cue.Value {
	op, parts := v.Expr()
	if op != cue.AndOp {
		return []cue.Value{v}
	}
	for _, p := range parts {
		if _, ok := p.Source().(*ast.Field); !ok {
			return []cue.Value{v}
		}
	}
	return parts
}

func isDisjunction(v cue.Value) bool {
	op, _ := v.Expr()
	return op == cue.OrOp
}

// source formats a conjunct as written.
func source(v cue.Value) string {
	var n ast.Node = v.Syntax(cue.Raw())
	if f, ok := v.Source().(*ast.Field); ok {
		n = f.Value
	}
	b, err := format.Node(n)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func position(p token.Pos, dir string) (string, int, int) {
	name := p.Filename()
	if name == "" {
		return "", 0, 0
	}
	if dir != "" && filepath.IsAbs(name) {
		if r, err := filepath.Rel(dir, name); err == nil && !strings.HasPrefix(r, "..") {
			name = r
		}
	}
	return filepath.ToSlash(name), p.Line(), p.Column()
}

func layerOf(file string) Layer {
	switch {
	case strings.HasPrefix(file, "environments/") || strings.Contains(file, "/environments/"):
		return LayerEnvironment
	case strings.HasPrefix(file, "profiles/") || strings.Contains(file, "/profiles/"):
		return LayerProfile
	case strings.HasPrefix(file, "schema/") || strings.Contains(file, "/schema/"):
		return LayerSchema
	}
	return LayerOther
}

func layerRank(l Layer) int {
	switch l {
	case LayerEnvironment:
		return 0
	case LayerProfile:
		return 1
	case LayerSchema:
		return 2
	}
	return 3
}

func atConjunct(cs []Conjunct, file string, line int) bool {
	for _, c := range cs {
		if c.File == file && c.Line == line {
			return true
		}
	}
	return false
}
