package outdir

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ManifestName is the name of the ownership manifest at the root of the output
// directory. It is never a valid generated path (see [CheckPath]).
const ManifestName = ".katonic-generated"

// PathError reports a path, relative to the output root and slash-separated, and
// the rule it broke. Every error from this package that concerns one path is, or
// wraps, a *PathError.
type PathError struct {
	Path string // slash path relative to the output root, as given
	Rule string // what is wrong, e.g. `has a ".." segment`
}

// Error returns "<path>: <rule>", with the path quoted when it is empty or holds
// characters that would not print plainly.
func (e *PathError) Error() string {
	return quotePath(e.Path) + ": " + e.Rule
}

// quotePath returns p as is when it prints plainly, else Go-quoted.
func quotePath(p string) string {
	if p == "" || strings.ContainsFunc(p, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == utf8.RuneError || r == ' ' || r == '"'
	}) {
		return fmt.Sprintf("%q", p)
	}
	return p
}

// CheckPath reports whether p may name a generated file in the output
// directory. It returns nil if p is a clean, relative, slash-separated path:
// not empty, no leading or trailing "/", no empty, "." or ".." segment, no
// backslash, no NUL or other control character (the manifest is line-based),
// valid UTF-8, and not one of the names katonic keeps at the root of the
// output directory: [ManifestName], ".katonic-journal", ".katonic-staging" and
// ".katonic-lock" (see the package documentation). Otherwise it returns a
// *PathError naming the first rule p breaks.
//
// A path accepted by CheckPath, joined to any root with filepath.Join, stays
// inside that root (FuzzCheckPath checks this). It does not guard against
// symbolic links on disk; [Plan] and [Write] do.
func CheckPath(p string) error {
	if plainPath(p) {
		return nil
	}
	return checkPathRules(p)
}

// plainPath reports whether p is made only of ASCII letters, digits, "-",
// "_" and "." in segments separated by single slashes, none of them "." or
// "..", with a first segment that katonic does not reserve: the paths a
// render writes, all of which CheckPath accepts. Checking them this way
// first spares a fleet's tens of thousands of paths the general rules.
func plainPath(p string) bool {
	seg := 0 // where the current segment starts
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			c := p[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				return false
			}
			continue
		}
		switch s := p[seg:i]; {
		case s == "" || s == "." || s == "..":
			return false
		case seg == 0 && (s == ManifestName || s == journalName || s == stagingName || s == insideLockName):
			return false
		}
		seg = i + 1
	}
	return true
}

// checkPathRules is CheckPath's every rule, in the order it reports them.
func checkPathRules(p string) error {
	bad := func(rule string) error { return &PathError{Path: p, Rule: rule} }
	switch {
	case p == "":
		return bad("path is empty")
	case !utf8.ValidString(p):
		return bad("path is not valid UTF-8")
	case strings.ContainsRune(p, 0):
		return bad("path contains a NUL byte")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("path contains a control character")
	case strings.ContainsRune(p, '\\'):
		return bad(`path contains a backslash; use "/" to separate segments`)
	case strings.HasPrefix(p, "/"):
		return bad("path is absolute; it must be relative to the output root")
	case strings.HasSuffix(p, "/"):
		return bad(`path ends with "/"; it must name a file`)
	case p == ManifestName:
		return bad("path is the ownership manifest " + ManifestName + ", which katonic writes itself")
	}
	if first, _, _ := strings.Cut(p, "/"); first == journalName || first == stagingName || first == insideLockName {
		return bad("path is under " + first + ", a name katonic reserves at the root of the output directory")
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return bad(`path has an empty segment ("//")`)
		case ".":
			return bad(`path has a "." segment; it must be clean`)
		case "..":
			return bad(`path has a ".." segment; it must stay inside the output root`)
		}
	}
	return nil
}

// checkScopePrefix validates one Scope prefix: a CheckPath-valid directory path
// followed by "/".
func checkScopePrefix(prefix string) error {
	if !strings.HasSuffix(prefix, "/") {
		return &PathError{Path: prefix, Rule: `scope prefix must end with "/" (a directory, e.g. "clusters/acme/")`}
	}
	dir := strings.TrimSuffix(prefix, "/")
	if err := CheckPath(dir); err != nil {
		return &PathError{Path: prefix, Rule: "invalid scope prefix: " + err.(*PathError).Rule}
	}
	return nil
}
