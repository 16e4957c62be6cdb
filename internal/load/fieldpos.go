package load

import (
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// FindField walks decls (a CUE file's, or a struct's) along path, labels
// from the top (["environments", "<name>", "domain"]); a label may be
// declared more than once, and each declaration is searched. It returns
// the position of the field at path (its label when label, else its value)
// and len(path), or the label of the deepest field on the path that decls
// declare and how many labels of path matched (0 and no position when
// none did). Diagnostics use it to point at what an environment file
// writes (validate, policy, compile's checks across environments).
func FindField(decls []ast.Decl, path []string, label bool) (token.Pos, int) {
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
			p, n := FindField(s.Elts, path[1:], label)
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
