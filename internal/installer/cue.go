package installer

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"

	"github.com/katonic/katonic/internal/config"
)

var identifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// label is an identifier label when name is one, else a quoted string.
func label(name string) ast.Label {
	if identifier.MatchString(name) {
		return ast.NewIdent(name)
	}
	return ast.NewString(name)
}

// comment attaches lines as a doc comment above n. Lines never hold a
// newline: each becomes one "// " line.
func comment(n ast.Node, lines ...string) {
	if len(lines) == 0 {
		return
	}
	cg := &ast.CommentGroup{Doc: true}
	for _, l := range lines {
		for _, part := range strings.Split(l, "\n") {
			cg.List = append(cg.List, &ast.Comment{Text: strings.TrimRight("// "+part, " ")})
		}
	}
	ast.AddComment(n, cg)
}

func expr(v any) ast.Expr {
	switch x := v.(type) {
	case string:
		return ast.NewString(x)
	case int:
		return ast.NewLit(token.INT, strconv.Itoa(x))
	case bool:
		return ast.NewBool(x)
	}
	panic(fmt.Sprintf("installer: no CUE literal for %T", v))
}

// origin is the comment naming the installer key and line a value came from.
func origin(it *item) string {
	return fmt.Sprintf("%s (line %d)", it.key, it.line)
}

func (c *conv) field(name string, v *val) *ast.Field {
	f := &ast.Field{Label: label(name), Value: expr(v.v)}
	var lines []string
	if v.from != nil {
		lines = append(lines, origin(v.from))
	}
	lines = append(lines, v.notes...)
	comment(f, lines...)
	return f
}

// generate writes the environment as CUE with CUE's ast and printer:
// package environments, environments: "<name>": {...}, a header naming
// the source file and format, and a comment on each field naming the
// installer key and line it came from.
func (c *conv) generate() ([]byte, error) {
	var elts []ast.Decl
	for _, k := range []string{"profile", "provider", "platformVersion", "kubernetesVersion", "domain", "loadBalancer"} {
		if v := c.top[k]; v != nil {
			elts = append(elts, c.field(k, v))
		}
	}
	var pools []ast.Decl
	for _, role := range config.Roles {
		p := c.pools[role]
		if p == nil {
			continue
		}
		var fs []ast.Decl
		for _, k := range []string{"minNodes", "maxNodes", "vmSize", "cpu", "memoryGiB", "bootDiskGiB", "gpuType", "gpuCount"} {
			if v := p.f[k]; v != nil {
				fs = append(fs, c.field(k, v))
			}
		}
		pf := &ast.Field{Label: label(string(role)), Value: ast.NewStruct(declsToAny(fs)...)}
		var lines []string
		if p.from != nil {
			lines = append(lines, origin(p.from))
		}
		comment(pf, append(lines, p.notes...)...)
		pools = append(pools, pf)
	}
	if len(pools) > 0 {
		elts = append(elts, &ast.Field{Label: label("nodePools"), Value: ast.NewStruct(declsToAny(pools)...)})
	}
	if n := c.opts.Network; n != nil {
		nf := &ast.Field{Label: label("network"), Value: ast.NewStruct(
			"vnetCIDR", ast.NewString(n.VNetCIDR),
			"clusterSubnetCIDR", ast.NewString(n.ClusterSubnetCIDR),
			"jumphostSubnetCIDR", ast.NewString(n.JumphostSubnetCIDR),
		)}
		comment(nf, "from --network: the VNet plan of profile azure-private (seed 003), which no installer file holds")
		elts = append(elts, nf)
	}
	if len(c.services) > 0 {
		names := make([]string, 0, len(c.services))
		for k := range c.services {
			names = append(names, k)
		}
		sort.Strings(names)
		var svcs []ast.Decl
		for _, k := range names {
			v := c.services[k]
			en := c.field("enabled", &val{v: v.v})
			// No braces: printed as <service>: enabled: <bool>.
			sf := &ast.Field{Label: label(k), Value: &ast.StructLit{Elts: []ast.Decl{en}}}
			comment(sf, origin(v.from))
			svcs = append(svcs, sf)
		}
		elts = append(elts, &ast.Field{Label: label("services"), Value: ast.NewStruct(declsToAny(svcs)...)})
	}
	env := &ast.Field{Label: label(c.name), Value: ast.NewStruct(declsToAny(elts)...)}
	// No braces: printed as environments: "<name>": {...}.
	top := &ast.Field{Label: label("environments"), Value: &ast.StructLit{Elts: []ast.Decl{env}}}
	pkg := &ast.Package{Name: ast.NewIdent("environments")}
	comment(pkg,
		"Imported by katonic import from "+c.opts.File,
		"(Katonic installer configuration, "+c.format.short()+").",
		"Each comment names the installer key and line a value came from; values",
		"marked \"was\" were adjusted to katonic's rules and \"added\" ones were",
		"missing. No credential was copied: the import's report lists the Secrets",
		"to create.")
	f := &ast.File{Decls: []ast.Decl{pkg, top}}
	return format.Node(f, format.Simplify())
}

func declsToAny(ds []ast.Decl) []any {
	out := make([]any, len(ds))
	for i, d := range ds {
		out[i] = d
	}
	return out
}
