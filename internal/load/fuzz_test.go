package load

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/parser"

	"github.com/katonic/katonic/internal/diag"
)

// parserOptions are the parser options Load uses for this repository's
// cue.mod/module.cue (language v0.17.0).
var parserOptions = []parser.Option{parser.ParseComments, parser.Version("v0.17.0")}

// isLabel is an independent DNS-1123 label check: 1 to 63 characters of
// a-z, 0-9 and '-', starting and ending with a letter or digit.
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// testImports are the imports of a repository whose module is
// katonic.dev/katonic@v0, as Load makes them.
var testImports = newImports(&build.Instance{ImportPath: "katonic.dev/katonic/profiles@v0", PkgName: "profiles", Module: "katonic.dev/katonic@v0",
	Imports: []*build.Instance{{ImportPath: "katonic.dev/katonic/schema", PkgName: "schema", Module: "katonic.dev/katonic@v0"}}})

// checkIsolated wants every top-level declaration of an isolated file f
// to be its package clause, a comment, an allowed import or the field
// environments, whose struct holds fields with literal names: what CUE
// then evaluates can declare nothing else.
func checkIsolated(t *testing.T, f *ast.File) {
	t.Helper()
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.Package, *ast.CommentGroup:
		case *ast.ImportDecl:
			for _, s := range d.Specs {
				if p, err := literal.Unquote(s.Path.Value); err != nil || !testImports.allowed(p) {
					t.Errorf("isolated file imports %s", s.Path.Value)
				}
			}
		case *ast.Field:
			name, _, _ := ast.LabelName(d.Label)
			st, ok := d.Value.(*ast.StructLit)
			if name != EnvironmentsDir || !ok {
				t.Fatalf("isolated file declares %T %q at the top level", d.Value, name)
			}
			for _, e := range st.Elts {
				switch e := e.(type) {
				case *ast.Field:
					if n, _, err := ast.LabelName(e.Label); err != nil || n == "" {
						t.Errorf("isolated file declares an environment without a literal name")
					}
				case *ast.CommentGroup, *ast.Attribute, *ast.LetClause:
				default:
					t.Errorf("isolated file has %T in environments", e)
				}
			}
		default:
			t.Errorf("isolated file has %T at the top level", d)
		}
	}
}

// checkLine wants d to be one line, positioned in file (when it has a line,
// within the src's lines).
func checkLine(t *testing.T, d diag.Diagnostic, file string, src []byte) {
	t.Helper()
	line := d.Format(filepath.Dir(filepath.Dir(file)))
	if strings.ContainsAny(line, "\n\r") {
		t.Errorf("diagnostic is not one line: %q", line)
	}
	if d.Pos.Filename != file {
		t.Errorf("diagnostic not in %s: %s", file, line)
	}
	if d.Pos.Line < 0 || d.Pos.Line > bytes.Count(src, []byte("\n"))+1 || d.Pos.Line > 0 && d.Pos.Column < 1 {
		t.Errorf("diagnostic position outside the file: %s", line)
	}
	if d.Severity != diag.Error || d.Message == "" || d.Rule == "" {
		t.Errorf("diagnostic not a complete error: %s", line)
	}
}

// FuzzEnvironmentFile checks one entry of environments/, a file named name
// holding src, as Load does before CUE's loader reads anything. Properties:
// names starting with "." or "_" are ignored; any other entry is accepted
// only if it is a .cue file of at most MaxFileSize bytes, valid UTF-8, that
// parses as package environments, declares something and has no attribute
// that reads other files (@extern, @embed), and then CUE's
// loader gets exactly src; an entry rejected gets one diagnostic (a syntax
// error: the parser's), in that file, one line each, and CUE's loader gets
// an empty file in its place; the layout rules then never panic on what was
// accepted, and report in that file only.
func FuzzEnvironmentFile(f *testing.F) {
	good := "package environments\n\nenvironments: good: {\n\tprofile: \"cloud\"\n\tdomain:  \"good.example\"\n}\n"
	for _, s := range []struct{ name, src string }{
		{"good.cue", good},
		{"bad.cue", "package environments\n\nenvironments: bad: {\n\tdomain \"x\"\n}\n"},
		{"bad.cue", "package environments\n\nenvironments: bad: {\n"},
		{"empty.cue", ""},
		{"comment.cue", "// nothing here\n"},
		{"pkg.cue", "package environments\n"},
		{"imports.cue", "package environments\n\nimport \"strings\"\n"},
		{"other.cue", "package other\n\nenvironments: other: {}\n"},
		{"nopkg.cue", "environments: nopkg: {}\n"},
		{"notes.txt", "not CUE"},
		{"acme.yaml", "environments:\n  acme: {}\n"},
		{".hidden.cue", "{{{"},
		{"_draft.cue", "{{{"},
		{"katonic_apply.cue", good},
		{"latin1.cue", "package environments\n// caf\xe9\n"},
		{"utf16.cue", "\xff\xfep\x00a\x00"},
		{"bom.cue", "\xef\xbb\xbf" + good},
		{"nul.cue", "package environments\n\x00\n"},
		{"deep.cue", "package environments\n_x: " + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "\n"},
		{"x.y.cue", "package environments\n\nenvironments: \"x.y\": {}\n"},
		{"dup.cue", "package environments\n\nenvironments: dup: {}\nenvironments: dup: {}\n"},
		{"pattern.cue", "package environments\n\nenvironments: [string]: {}\n"},
		{"five.cue", "package environments\n\nenvironments: 5\n"},
		{"str.cue", "package environments\n\nx: \"a\nb\"\n"},
		{"a\nb.cue", good},
		{"\x1b[31mred.cue", good},
		{"caf\xe9.cue", good},
		{"embed.cue", "@extern(embed)\n\npackage environments\n\nenvironments: embed: {domain: _ @embed(file=x.txt, type=text)}\n"},
		{"embedonly.cue", "package environments\n\nenvironments: embedonly: {domain: _ @embed(file=x.txt)}\n"},
		// Declarations that would reach other environments, were the files one package.
		{"a.cue", "package environments\n\n{environments: \"b\": services: mlflow: enabled: false}\n"},
		{"a.cue", "package environments\n\nif true {environments: b: domain: \"x.example\"}\n"},
		{"a.cue", "package environments\n\n_shared: \"a.example\"\nenvironments: a: domain: _shared\n"},
		{"a.cue", "package environments\n\n#Base: {profile: \"cloud\"}\nenvironments: a: #Base\n"},
		{"a.cue", "package environments\n\nlet d = \"a.example\"\nenvironments: a: domain: d\n"},
		{"a.cue", "package environments\n\nimport \"katonic.dev/katonic/environments\"\n\nenvironments: a: environments.environments.b\n"},
		{"a.cue", "package environments\n\nimport \"katonic.dev/katonic/schema\"\n\nenvironments: a: schema.#Environment\n"},
		{"a.cue", "@if(prod)\n\npackage environments\n\nenvironments: a: {}\n"},
		{"a.cue", "package environments\n\nenvironments: {a: {}, [string]: domain: \"x.example\"}\n"},
	} {
		f.Add(s.name, []byte(s.src))
	}
	envDir := filepath.Join(f.TempDir(), EnvironmentsDir)
	f.Fuzz(func(t *testing.T, name string, src []byte) {
		if name == "" || name == "." || name == ".." || len(name) > 255 || strings.ContainsAny(name, "/\\\x00") || len(src) > MaxFileSize {
			t.Skip("not a file name, or too large to be worth writing")
		}
		if err := os.RemoveAll(envDir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(envDir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(envDir, name)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Skip("the file system refuses this name:", err)
		}
		found, diags, err := scanEnvironments(envDir, parserOptions, nil)
		if err != nil {
			t.Fatal(err)
		}
		stem, _, _ := strings.Cut(name, ".")
		if name != applyFile && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			if len(diags) > 0 || len(found.sources) > 0 || len(found.standIns) > 0 {
				t.Fatalf("%q must be ignored: %v %v", name, diags, found)
			}
			return
		}
		if !printable(name) {
			// Reported at the directory, the name quoted in the message.
			if len(diags) != 1 || diags[0].Pos.Filename != envDir || strings.ContainsAny(diags[0].Format(envDir), "\n\r") {
				t.Fatalf("entry %q: %v", name, diags)
			}
			if _, ok := found.sources[path]; ok {
				t.Errorf("a rejected file is kept for CUE")
			}
			return
		}
		for _, d := range diags {
			checkLine(t, d, path, src)
		}
		if len(diags) == 0 {
			// Accepted.
			if !strings.HasSuffix(name, ".cue") || !utf8.Valid(src) || name == applyFile {
				t.Fatalf("accepted %q", name)
			}
			if !bytes.Equal(found.sources[path], src) {
				t.Fatalf("CUE does not get the file as checked")
			}
			file := found.parsed[path]
			if reparsed, err := parser.ParseFile(path, src, parserOptions...); err != nil || reparsed.PackageName() != EnvironmentsDir || file == nil {
				t.Fatalf("accepted a file that is not of package environments: %v", err)
			}
			if a := FileReadingAttribute(file); a != nil {
				t.Fatalf("accepted a file with %s, which reads other files", a.Text)
			}
			envs, ld := declarations(found, filepath.Dir(envDir), testImports)
			for _, d := range ld {
				checkLine(t, d, path, src)
			}
			broke := slices.ContainsFunc(ld, func(d diag.Diagnostic) bool { return d.Rule == "environments.isolation" })
			for _, e := range envs {
				if e.File != path || e.Syntax != nil && e.Syntax != file || broke && e.Syntax != nil {
					t.Errorf("environment %q not from %s, or built though the file broke isolation", e.Name, path)
				}
				if e.Syntax != nil {
					// Built: what CUE evaluates declares nothing else.
					checkIsolated(t, e.Syntax)
				}
			}
			return
		}
		// Rejected: one diagnostic, or the parser's errors.
		if len(diags) > 1 {
			for _, d := range diags {
				if d.Rule != "cue" {
					t.Fatalf("%d diagnostics for one file, not all syntax errors: %v", len(diags), diags)
				}
			}
		}
		if _, ok := found.sources[path]; ok {
			t.Errorf("a rejected file is kept for CUE: %q", found.sources[path])
		}
		if stem != "" && found.standIns[stem] != path {
			t.Errorf("a rejected file does not stand in for %q", stem)
		}
	})
}

// FuzzLayout checks the layout rules of declarations for an environment
// named name in a file named file: an empty name is an error; a name that
// is a DNS-1123 label must be declared in <name>.cue, and then only there;
// any other name is left to validation (no second error about a file name
// built from it). Every diagnostic is one line at the declaration, and the
// file the rule asks for is a plain file name in environments/.
func FuzzLayout(f *testing.F) {
	for _, s := range [][2]string{
		{"acme", "acme.cue"}, {"acme", "other.cue"}, {"../x", "bad.cue"}, {"a/b", "a.cue"},
		{"", "e.cue"}, {"Acme_1", "Acme_1.cue"}, {"x.y", "x.y.cue"}, {"a\nb", "a.cue"},
		{strings.Repeat("a", 63), strings.Repeat("a", 63) + ".cue"}, {"-a", "-a.cue"}, {"é", "é.cue"},
		{"environments", "environments.cue"}, {"katonic_apply", "katonic_apply.cue"},
	} {
		f.Add(s[0], s[1])
	}
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, name, file string) {
		if !utf8.ValidString(name) || file == "" || strings.ContainsAny(file, "/\\\x00") || file == "." || file == ".." || file == applyFile || !printable(file) {
			t.Skip("CUE source is UTF-8; file is one path element, printable and not katonic's own (scanEnvironments rejects the others)")
		}
		path := filepath.Join(root, EnvironmentsDir, file)
		src := "package environments\n\nenvironments: " + literal.String.Quote(name) + ": {}\n"
		parsed, err := parser.ParseFile(path, src, parserOptions...)
		if err != nil {
			t.Fatalf("the name does not quote: %v\n%s", err, src)
		}
		files := envFiles{parsed: map[string]*ast.File{path: parsed}, standIns: map[string]string{}}
		envs, diags := declarations(files, root, testImports)
		for _, d := range diags {
			checkLine(t, d, path, []byte(src))
			if d.Pos.Line != 3 {
				t.Errorf("diagnostic not at the declaration: %s", d.Format(root))
			}
		}
		switch {
		case name == "":
			if len(envs) != 0 || len(diags) != 1 || !strings.Contains(diags[0].Message, "must not be empty") {
				t.Fatalf("empty name: %v %v", envs, diags)
			}
		case isLabel(name):
			if len(envs) != 1 || envs[0].Name != name {
				t.Fatalf("environment %q not declared: %v", name, envs)
			}
			want := name + ".cue"
			if file == want && len(diags) != 0 || file != want && len(diags) != 1 {
				t.Fatalf("%q in %s: %v", name, file, diags)
			}
			if !filepath.IsLocal(want) || filepath.Base(want) != want {
				t.Fatalf("the file asked for, %q, is not a plain file name", want)
			}
		default:
			if len(envs) != 1 || envs[0].Name != name || len(diags) != 0 {
				t.Fatalf("an invalid name is validation's to report once: %v %v", envs, diags)
			}
		}
	})
}
