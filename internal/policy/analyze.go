package policy

import (
	"regexp"
	"slices"
	"strconv"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// This file works out, once per policy set, which parts of input its
// policies can read, so that Evaluate gives CUE only those: a policy set
// that reads a few fields of a few kinds of objects does not pay for
// compiling and evaluating every value of every rendered document.
//
// The analysis is syntactic and conservative. It follows references to
// input, with CUE's scoping, through selectors (input.objects), indexes,
// for clauses (for o in input.objects binds o to every element) and let
// bindings; x == _|_ and x != _|_ only need x to exist; a reference used
// in any other way (compared, passed to a function, embedded, unified,
// interpolated...) needs the whole value it denotes.
//
// The rows of input.objects, input.releases and input.leaves are also
// filtered and pruned one by one. For each for clause over one of those
// lists, the leading if clauses that only compare the row's own string
// fields with string constants (==, !=, =~, !~, !, &&, || and
// parentheses; constants are literals and lets bound to literals) are
// compiled to Go. CUE evaluates them, in order, for every row, and the
// rest of the comprehension only for the rows that pass them all. So a
// row that no for clause passes is left out, and a row keeps only the
// fields that the clauses evaluated for it read, plus what the for
// clauses it passes read. A list that is used otherwise (indexed, its
// length taken, iterated with its index) keeps every row, each with what
// any use reads.
//
// Anything the analysis does not follow (aliases, try and fallback
// clauses, functions, self, a redeclared input, cyclic lets) makes it
// fall back to the whole input, which is always correct.

// need is the part of a value that the policies read.
type need struct {
	whole  bool             // the entire value
	fields map[string]*need // the named fields or list indexes
	elems  *need            // every field or element ([*])
	// uses are, on a list of rows that can be filtered (input.objects,
	// input.releases, input.leaves), what each for clause over the list
	// reads of the rows that its guard keeps, by use id.
	uses map[int]*need
}

// merge returns the union of a and b (either may be nil), as a new tree.
func merge(a, b *need) *need {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		a, b = b, &need{}
	case b == nil:
		b = &need{}
	}
	if a.whole || b.whole {
		return &need{whole: true}
	}
	out := &need{}
	if a.elems != nil || b.elems != nil {
		out.elems = merge(a.elems, b.elems)
	}
	for _, src := range []*need{a, b} {
		for k, v := range src.fields {
			if out.fields == nil {
				out.fields = map[string]*need{}
			}
			out.fields[k] = merge(out.fields[k], v)
		}
		for k, v := range src.uses {
			if out.uses == nil {
				out.uses = map[int]*need{}
			}
			out.uses[k] = merge(out.uses[k], v)
		}
	}
	return out
}

// normalize returns n with elems merged into every named field and use,
// so that child(k) is a lookup.
func normalize(n *need) *need {
	if n == nil || n.whole {
		return n
	}
	out := &need{elems: normalize(n.elems)}
	if len(n.fields) > 0 {
		out.fields = map[string]*need{}
		for k, v := range n.fields {
			out.fields[k] = normalize(merge(v, n.elems))
		}
	}
	if len(n.uses) > 0 {
		out.uses = map[int]*need{}
		for k, v := range n.uses {
			out.uses[k] = normalize(merge(v, n.elems))
		}
	}
	return out
}

// child is the need of field or element k of a value needed as n (n
// normalized), or nil when k is not needed.
func (n *need) child(k string) *need {
	if c, ok := n.fields[k]; ok {
		return c
	}
	return n.elems
}

// step is one step of a path into input: a label, or every field or
// element.
type step struct {
	label string
	any   bool
	use   int // for an element of a list of rows: the for clause binding it
}

type ipath []step

// row gives a guard the string fields of one row of a list of input.
type row interface {
	field(name string) string
}

// rowFields are the string fields of the rows of each filterable list, as
// policy/policy.cue declares them.
var rowFields = map[string]map[string]bool{
	"objects":  {"id": true, "file": true, "kind": true, "apiVersion": true, "name": true, "namespace": true},
	"releases": {"id": true, "name": true, "service": true, "namespace": true},
	"leaves":   {"id": true, "kind": true, "file": true, "path": true, "key": true, "value": true, "type": true},
}

// fieldNames are the string fields of rows of every list, and fieldIndex
// their indexes.
var (
	fieldNames []string
	fieldIndex = map[string]int{}
)

func init() {
	for _, fields := range rowFields {
		for name := range fields {
			if _, ok := fieldIndex[name]; !ok {
				fieldIndex[name] = len(fieldNames)
				fieldNames = append(fieldNames, name)
			}
		}
	}
}

// clause is an if clause that Go decides for a row.
type clause struct {
	test   func(r row, c *matchCache) bool
	fields []string // the fields of the row it reads
}

// rowUse is one for clause over a list of rows: its id and the leading
// if clauses that Go decides. CUE evaluates those clauses in order for
// every row of the list, and the rest of the comprehension only for the
// rows that pass them all.
type rowUse struct {
	id      int
	clauses []clause
}

// filter selects and prunes the rows of one list of input: a row is kept
// when it passes the clauses of some use, and then holds the fields that
// the clauses evaluated for it read, and what each use it passes reads.
type filter struct {
	uses []rowUse
}

// maxUses is the most for clauses over one list that a filter follows
// one by one; beyond, they share one need and filter nothing.
const maxUses = 64

// usage is what the analysis found: the need of input and the filters of
// its lists (nil: keep every row).
type usage struct {
	input   *need
	filters map[string]*filter
}

// fullUsage needs the whole input and keeps every row.
func fullUsage() *usage {
	return &usage{input: &need{whole: true}}
}

// matchCache memoizes regular expression matches during one evaluation:
// the same keys and values recur in many rows.
type matchCache struct {
	m map[*regexp.Regexp]map[string]bool
}

func (c *matchCache) match(re *regexp.Regexp, s string) bool {
	if c == nil {
		return re.MatchString(s)
	}
	if c.m == nil {
		c.m = map[*regexp.Regexp]map[string]bool{}
	}
	mm := c.m[re]
	if mm == nil {
		mm = map[string]bool{}
		c.m[re] = mm
	}
	b, ok := mm[s]
	if !ok {
		b = re.MatchString(s)
		mm[s] = b
	}
	return b
}

// bail stops the analysis: the policies use input in a way it does not
// follow.
type bail struct{}

// declKind says what an identifier names.
type declKind int

const (
	declOther declKind = iota
	declInput          // the package's input field
	declLet            // let x = expr (a struct's or a comprehension's)
	declFor            // the value of for k, v in source
)

type decl struct {
	kind  declKind
	expr  ast.Expr // the let's value, or the for's source
	scope *scope   // where expr is evaluated

	resolving, resolved bool
	paths               []ipath // what a let or for value denotes in input
	forClause           *ast.ForClause
}

type scope struct {
	parent *scope
	decls  map[string]*decl
}

func (s *scope) lookup(name string) *decl {
	for ; s != nil; s = s.parent {
		if d, ok := s.decls[name]; ok {
			return d
		}
	}
	return nil
}

type analyzer struct {
	root    *need
	noRows  map[string]bool        // lists whose rows cannot be filtered
	uses    map[string][]rowUse    // the for clauses over each list of rows
	useIDs  map[*ast.ForClause]int // their ids
	letDone map[*decl]bool
}

// analyze works out the usage of input by the policy package made of
// files. It never fails: what it does not follow needs the whole input.
func analyze(files []*ast.File) (u *usage) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bail); !ok {
				panic(r)
			}
			u = fullUsage()
		}
	}()
	a := &analyzer{root: &need{}, noRows: map[string]bool{}, uses: map[string][]rowUse{},
		useIDs: map[*ast.ForClause]int{}, letDone: map[*decl]bool{}}
	pkg := &scope{decls: map[string]*decl{}}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.Field); ok {
				if name, ok := identLabel(fd); ok {
					if name == "input" {
						pkg.decls[name] = &decl{kind: declInput}
					} else {
						pkg.decls[name] = &decl{kind: declOther}
					}
				}
			}
		}
	}
	for _, f := range files {
		fs := &scope{parent: pkg, decls: map[string]*decl{}}
		for _, d := range f.Decls {
			switch x := d.(type) {
			case *ast.ImportDecl:
				for _, spec := range x.Specs {
					name := ""
					if spec.Name != nil {
						name = spec.Name.Name
					} else if p, err := strconv.Unquote(spec.Path.Value); err == nil {
						name = ast.ParseImportPath(p).Qualifier
					}
					if name == "input" {
						panic(bail{})
					}
					fs.decls[name] = &decl{kind: declOther}
				}
			case *ast.LetClause:
				a.declare(fs, x.Ident.Name, &decl{kind: declLet, expr: x.Expr, scope: fs})
			}
		}
		for _, d := range f.Decls {
			switch d.(type) {
			case *ast.ImportDecl, *ast.Package:
				continue
			}
			a.decl(d, fs)
		}
	}
	if a.root.whole {
		return fullUsage()
	}
	filters := map[string]*filter{}
	for list := range rowFields {
		ln := a.root.fields[list]
		if ln == nil {
			continue
		}
		uses := a.uses[list]
		known := map[int]bool{}
		for _, u := range uses {
			known[u.id] = true
		}
		for id := range ln.uses {
			if !known[id] {
				a.noRows[list] = true // cannot happen: every use is recorded
			}
		}
		if a.noRows[list] || len(uses) > maxUses {
			// Every row, each with what any use reads.
			for _, un := range ln.uses {
				ln.elems = merge(ln.elems, un)
			}
			ln.uses = nil
			continue
		}
		filters[list] = &filter{uses: uses}
	}
	return &usage{input: normalize(a.root), filters: filters}
}

// useID returns the id of the for clause x over a list of rows.
func (a *analyzer) useID(x *ast.ForClause) int {
	id, ok := a.useIDs[x]
	if !ok {
		id = len(a.useIDs) + 1
		a.useIDs[x] = id
	}
	return id
}

// isRowList says whether p is input.objects, input.releases or
// input.leaves.
func isRowList(p ipath) bool {
	return len(p) == 1 && !p[0].any && rowFields[p[0].label] != nil
}

func (a *analyzer) declare(s *scope, name string, d *decl) {
	if name == "input" || name == "self" {
		panic(bail{})
	}
	if _, dup := s.decls[name]; dup {
		// A let that repeats a field name, or two lets: CUE rejects
		// the ones it must, and the analysis does not guess.
		panic(bail{})
	}
	s.decls[name] = d
}

// identLabel returns the name a field declares as an identifier; a
// quoted label ("no-secrets") cannot be referenced.
func identLabel(f *ast.Field) (string, bool) {
	id, ok := f.Label.(*ast.Ident)
	if !ok {
		return "", false
	}
	return id.Name, true
}

// structScope makes the scope of a struct literal: its fields and lets.
func (a *analyzer) structScope(elts []ast.Decl, parent *scope) *scope {
	s := &scope{parent: parent, decls: map[string]*decl{}}
	for _, d := range elts {
		switch x := d.(type) {
		case *ast.Field:
			if x.Alias != nil {
				panic(bail{})
			}
			switch l := x.Label.(type) {
			case *ast.Ident:
				if l.Name == "input" || l.Name == "self" {
					panic(bail{})
				}
				if prev, dup := s.decls[l.Name]; dup && prev.kind != declOther {
					panic(bail{})
				}
				s.decls[l.Name] = &decl{kind: declOther}
			case *ast.Alias:
				panic(bail{})
			}
		case *ast.LetClause:
			a.declare(s, x.Ident.Name, &decl{kind: declLet, expr: x.Expr, scope: s})
		case *ast.Alias:
			panic(bail{})
		}
	}
	return s
}

// decl walks one declaration of a struct (or file) whose scope is s.
func (a *analyzer) decl(d ast.Decl, s *scope) {
	switch x := d.(type) {
	case *ast.Field:
		if x.Alias != nil {
			panic(bail{})
		}
		switch l := x.Label.(type) {
		case *ast.Ident, *ast.BasicLit:
		case *ast.Alias:
			panic(bail{})
		case ast.Expr:
			a.value(l, s) // (dynamic), "\(interpolated)", [pattern]
		default:
			panic(bail{})
		}
		a.value(x.Value, s)
	case *ast.LetClause:
		a.letValue(s.decls[x.Ident.Name])
	case *ast.EmbedDecl:
		a.value(x.Expr, s)
	case *ast.Comprehension:
		a.comprehension(x, s)
	case *ast.Ellipsis:
		if x.Type != nil {
			a.value(x.Type, s)
		}
	case *ast.Attribute, *ast.CommentGroup, *ast.Package, *ast.ImportDecl:
	default:
		panic(bail{})
	}
}

// letValue walks the value of a let once. A let that denotes a part of
// input only needs it to exist; its references say what else is read.
func (a *analyzer) letValue(d *decl) {
	if d == nil || d.kind != declLet || a.letDone[d] {
		return
	}
	a.letDone[d] = true
	if ps := a.paths(d.expr, d.scope, true); ps != nil {
		for _, p := range ps {
			a.mark(p, false)
		}
		return
	}
	a.value(d.expr, d.scope)
}

// comprehension walks for, if and let clauses and the value they yield.
func (a *analyzer) comprehension(c *ast.Comprehension, s *scope) {
	if c.Fallback != nil {
		panic(bail{})
	}
	for i, cl := range c.Clauses {
		switch x := cl.(type) {
		case *ast.ForClause:
			ps := a.sourcePaths(x.Source, s, true)
			if ps == nil {
				a.value(x.Source, s)
			}
			keyed := x.Key != nil && x.Key.Name != "_"
			for _, p := range ps {
				a.mark(append(p[:len(p):len(p)], step{any: true}), false)
				if isRowList(p) {
					list := p[0].label
					if keyed {
						a.noRows[list] = true // the keys are the rows' indexes
					}
					a.uses[list] = append(a.uses[list], rowUse{id: a.useID(x), clauses: a.guard(c.Clauses[i+1:], x.Value.Name, list, s)})
				}
			}
			ns := &scope{parent: s, decls: map[string]*decl{}}
			if x.Key != nil {
				a.declare(ns, x.Key.Name, &decl{kind: declOther})
			}
			if x.Value != nil {
				a.declare(ns, x.Value.Name, &decl{kind: declFor, expr: x.Source, scope: s, forClause: x})
			}
			s = ns
		case *ast.IfClause:
			a.value(x.Condition, s)
		case *ast.LetClause:
			ns := &scope{parent: s, decls: map[string]*decl{}}
			d := &decl{kind: declLet, expr: x.Expr, scope: s}
			a.declare(ns, x.Ident.Name, d)
			a.letValue(d)
			s = ns
		default:
			panic(bail{}) // try, fallback
		}
	}
	a.value(c.Value, s)
}

// value walks an expression whose value is used as such: every part of
// input it denotes is needed whole.
func (a *analyzer) value(e ast.Expr, s *scope) {
	if e == nil {
		return
	}
	if ps := a.paths(e, s, true); ps != nil {
		for _, p := range ps {
			a.mark(p, true)
		}
		return
	}
	switch x := e.(type) {
	case *ast.Ident:
		if x.Name == "self" {
			panic(bail{})
		}
	case *ast.BasicLit, *ast.BottomLit:
	case *ast.Interpolation:
		for _, el := range x.Elts {
			a.value(el, s)
		}
	case *ast.StructLit:
		ss := a.structScope(x.Elts, s)
		for _, d := range x.Elts {
			a.decl(d, ss)
		}
	case *ast.ListLit:
		for _, el := range x.Elts {
			if c, ok := el.(*ast.Comprehension); ok {
				a.comprehension(c, s)
				continue
			}
			a.value(el, s)
		}
	case *ast.Ellipsis:
		a.value(x.Type, s)
	case *ast.ParenExpr:
		a.value(x.X, s)
	case *ast.SelectorExpr:
		a.value(x.X, s)
	case *ast.IndexExpr:
		a.value(x.X, s)
		a.value(x.Index, s)
	case *ast.SliceExpr:
		a.value(x.X, s)
		a.value(x.Low, s)
		a.value(x.High, s)
	case *ast.CallExpr:
		a.value(x.Fun, s)
		for _, arg := range x.Args {
			a.value(arg, s)
		}
	case *ast.UnaryExpr:
		a.value(x.X, s)
	case *ast.BinaryExpr:
		// x == _|_ and x != _|_ only ask whether x exists.
		if x.Op == token.EQL || x.Op == token.NEQ {
			for _, pair := range [2][2]ast.Expr{{x.X, x.Y}, {x.Y, x.X}} {
				if _, ok := unparen(pair[1]).(*ast.BottomLit); ok {
					if ps := a.paths(pair[0], s, true); ps != nil {
						for _, p := range ps {
							a.mark(p, false)
						}
						return
					}
				}
			}
		}
		a.value(x.X, s)
		a.value(x.Y, s)
	case *ast.PostfixExpr:
		if x.Op != token.ELLIPSIS {
			panic(bail{})
		}
		a.value(x.X, s)
	case *ast.Comprehension:
		a.comprehension(x, s)
	default:
		panic(bail{}) // Func, Alias, BadExpr, ...
	}
}

// paths returns the parts of input that e denotes when it is a reference
// into input (input, a let or for variable bound to a part of it, and
// selectors and indexes on those), or nil. Index expressions are walked
// as values; when use is set, indexing a filterable list directly stops
// its filtering.
func (a *analyzer) paths(e ast.Expr, s *scope, use bool) []ipath {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return a.paths(x.X, s, use)
	case *ast.Ident:
		if x.Name == "self" {
			panic(bail{})
		}
		d := s.lookup(x.Name)
		if d == nil {
			return nil
		}
		switch d.kind {
		case declInput:
			return []ipath{{}}
		case declLet, declFor:
			return a.resolve(d)
		}
		return nil
	case *ast.SelectorExpr:
		base := a.paths(x.X, s, use)
		if base == nil {
			return nil
		}
		name, _, err := ast.LabelName(x.Sel)
		st := step{label: name}
		if err != nil {
			st = step{any: true}
		}
		return a.extend(base, st, use)
	case *ast.IndexExpr:
		base := a.paths(x.X, s, use)
		if base == nil {
			return nil
		}
		st := step{any: true}
		if labels := a.forConstants(x.Index, s); labels != nil {
			if use {
				a.value(x.Index, s)
			}
			var out []ipath
			for _, l := range labels {
				out = append(out, a.extend(base, step{label: l}, use)...)
			}
			return out
		}
		if lit, ok := x.Index.(*ast.BasicLit); ok {
			switch lit.Kind {
			case token.STRING:
				if str, err := literal.Unquote(lit.Value); err == nil {
					st = step{label: str}
				}
			case token.INT:
				if n, err := strconv.Atoi(lit.Value); err == nil && n >= 0 && strconv.Itoa(n) == lit.Value {
					st = step{label: lit.Value}
				}
			}
		}
		if use {
			a.value(x.Index, s)
		}
		return a.extend(base, st, use)
	}
	return nil
}

// forConstants returns the values of e when it is the variable of a for
// clause over a list of string literals (for action in ["install",
// "upgrade"]), else nil.
func (a *analyzer) forConstants(e ast.Expr, s *scope) []string {
	id, ok := unparen(e).(*ast.Ident)
	if !ok {
		return nil
	}
	d := s.lookup(id.Name)
	if d == nil || d.kind != declFor || d.forClause.Value != id && d.forClause.Value.Name != id.Name {
		return nil
	}
	lit, ok := unparen(d.forClause.Source).(*ast.ListLit)
	if !ok || len(lit.Elts) == 0 {
		return nil
	}
	var out []string
	for _, el := range lit.Elts {
		b, ok := el.(*ast.BasicLit)
		if !ok || b.Kind != token.STRING || b.Value[0] == '\'' {
			return nil
		}
		str, err := literal.Unquote(b.Value)
		if err != nil {
			return nil
		}
		out = append(out, str)
	}
	return out
}

// sourcePaths is paths for the source of a for clause, which may also be
// *P | [] (or another default-less alternative that does not refer to
// input): P when it exists, else the alternative, so the for clause
// iterates P.
func (a *analyzer) sourcePaths(e ast.Expr, s *scope, use bool) []ipath {
	if b, ok := unparen(e).(*ast.BinaryExpr); ok && b.Op == token.OR {
		if u, ok := unparen(b.X).(*ast.UnaryExpr); ok && u.Op == token.MUL {
			if lit, ok := unparen(b.Y).(*ast.ListLit); ok && len(lit.Elts) == 0 {
				return a.paths(u.X, s, use)
			}
		}
	}
	return a.paths(e, s, use)
}

func (a *analyzer) extend(base []ipath, st step, use bool) []ipath {
	out := make([]ipath, len(base))
	for i, p := range base {
		if use && len(p) == 1 && !p[0].any && rowFields[p[0].label] != nil {
			a.noRows[p[0].label] = true // input.objects[i]
		}
		out[i] = append(p[:len(p):len(p)], st)
	}
	return out
}

// resolve returns what a let or for variable denotes in input.
func (a *analyzer) resolve(d *decl) []ipath {
	if d.resolved {
		return d.paths
	}
	if d.resolving {
		panic(bail{})
	}
	d.resolving = true
	var ps []ipath
	if d.kind == declFor {
		ps = a.sourcePaths(d.expr, d.scope, false)
	} else {
		ps = a.paths(d.expr, d.scope, false)
	}
	if d.kind == declFor {
		for i, p := range ps {
			st := step{any: true}
			if isRowList(p) {
				st.use = a.useID(d.forClause)
			}
			ps[i] = append(p[:len(p):len(p)], st)
		}
	}
	d.paths, d.resolved, d.resolving = ps, true, false
	return ps
}

// mark records that p is needed: whole, or only to exist.
func (a *analyzer) mark(p ipath, whole bool) {
	if len(p) == 0 && whole {
		a.root.whole = true
	}
	if len(p) >= 1 && !p[0].any && rowFields[p[0].label] != nil && len(p) == 1 {
		// The list itself is used as a value (len, embedding...) or
		// bound by a let whose uses are followed separately; only the
		// former stops filtering.
		if whole {
			a.noRows[p[0].label] = true
		}
	}
	if len(p) >= 1 && p[0].any {
		// Every field of input (for k, v in input).
		for list := range rowFields {
			a.noRows[list] = true
		}
	}
	n := a.root
	for _, st := range p {
		if n.whole {
			return
		}
		if st.any && st.use > 0 {
			if n.uses == nil {
				n.uses = map[int]*need{}
			}
			if n.uses[st.use] == nil {
				n.uses[st.use] = &need{}
			}
			n = n.uses[st.use]
			continue
		}
		if st.any {
			if n.elems == nil {
				n.elems = &need{}
			}
			n = n.elems
			continue
		}
		if n.fields == nil {
			n.fields = map[string]*need{}
		}
		c := n.fields[st.label]
		if c == nil {
			c = &need{}
			n.fields[st.label] = c
		}
		n = c
	}
	if whole {
		n.whole = true
		n.fields, n.elems, n.uses = nil, nil, nil
	}
}

// guard compiles the leading if clauses of a for clause over list whose
// value variable is v, as far as each is decidable in Go.
func (a *analyzer) guard(clauses []ast.Clause, v, list string, s *scope) []clause {
	var out []clause
	for _, cl := range clauses {
		ic, ok := cl.(*ast.IfClause)
		if !ok {
			break
		}
		c := &guardCompiler{v: v, fields: rowFields[list], scope: s}
		f, ok := c.boolean(ic.Condition)
		if !ok {
			break
		}
		out = append(out, clause{test: f, fields: c.read})
	}
	return out
}

// guardCompiler compiles a condition on one row into Go, when all of it
// is: string fields of the row, string constants (literals and lets bound
// to literals), ==, !=, =~, !~, !, &&, || and parentheses. CUE evaluates
// both operands of && and ||, so a condition is compiled only when all of
// it is decidable: then it cannot fail.
type guardCompiler struct {
	v      string
	fields map[string]bool
	scope  *scope   // the scope of the for clause
	read   []string // the fields of the row it reads
}

func (c *guardCompiler) boolean(e ast.Expr) (func(row, *matchCache) bool, bool) {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return c.boolean(x.X)
	case *ast.UnaryExpr:
		if x.Op != token.NOT {
			return nil, false
		}
		f, ok := c.boolean(x.X)
		if !ok {
			return nil, false
		}
		return func(r row, m *matchCache) bool { return !f(r, m) }, true
	case *ast.BinaryExpr:
		switch x.Op {
		case token.LAND, token.LOR:
			l, ok1 := c.boolean(x.X)
			r, ok2 := c.boolean(x.Y)
			if !ok1 || !ok2 {
				return nil, false
			}
			if x.Op == token.LAND {
				return func(rw row, m *matchCache) bool { return l(rw, m) && r(rw, m) }, true
			}
			return func(rw row, m *matchCache) bool { return l(rw, m) || r(rw, m) }, true
		case token.EQL, token.NEQ:
			l, ok1 := c.str(x.X)
			r, ok2 := c.str(x.Y)
			if !ok1 || !ok2 {
				return nil, false
			}
			eq := x.Op == token.EQL
			return func(rw row, _ *matchCache) bool { return (l(rw) == r(rw)) == eq }, true
		case token.MAT, token.NMAT:
			l, ok1 := c.str(x.X)
			pat, ok2 := c.constant(x.Y)
			if !ok1 || !ok2 {
				return nil, false
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, false // CUE reports it
			}
			want := x.Op == token.MAT
			return func(rw row, m *matchCache) bool { return m.match(re, l(rw)) == want }, true
		}
	}
	return nil, false
}

// str compiles a string operand: a field of the row or a constant.
func (c *guardCompiler) str(e ast.Expr) (func(row) string, bool) {
	if k, ok := c.constant(e); ok {
		return func(row) string { return k }, true
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return nil, false
	}
	// The clause's own variable is the innermost declaration.
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != c.v {
		return nil, false
	}
	name, isIdent, err := ast.LabelName(sel.Sel)
	if err != nil || !isIdent || !c.fields[name] {
		return nil, false
	}
	if !slices.Contains(c.read, name) {
		c.read = append(c.read, name)
	}
	return func(r row) string { return r.field(name) }, true
}

// constant returns the value of a string literal, or of an identifier
// bound by a let to one.
func (c *guardCompiler) constant(e ast.Expr) (string, bool) {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return c.constant(x.X)
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		str, err := literal.Unquote(x.Value)
		if err != nil {
			return "", false
		}
		// Bytes ('...') are not strings.
		if len(x.Value) > 0 && x.Value[0] == '\'' {
			return "", false
		}
		return str, true
	case *ast.Ident:
		if x.Name == c.v {
			return "", false
		}
		d := c.scope.lookup(x.Name)
		if d == nil || d.kind != declLet {
			return "", false
		}
		lit, ok := d.expr.(*ast.BasicLit)
		if !ok {
			return "", false
		}
		return c.constant(lit)
	}
	return "", false
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}
