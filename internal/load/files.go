package load

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/filestat"
)

// MaxFileSize is the largest file katonic reads from environments/, in
// bytes (1 MiB). An environment file is about a kilobyte; the limit keeps a
// mistaken file (a log, a dump, /dev/zero behind a symlink) from holding
// katonic for seconds or minutes and from exhausting its memory: a larger
// file is an error and is not read.
const MaxFileSize = 1 << 20

// fileSource is the Source of the diagnostics about the files themselves.
const fileSource = "README, \"Layout\": environments/ holds UTF-8 CUE files of package environments, at most 1 MiB each"

// envFiles is what scanEnvironments found in environments/.
type envFiles struct {
	// sources are the contents of the files that passed the checks, by
	// absolute path: the bytes checked here, which are the bytes CUE
	// evaluates (katonic builds each file itself; CUE's loader never opens
	// one).
	sources map[string][]byte
	// parsed are the syntax trees of those files, by absolute path.
	parsed map[string]*ast.File
	// standIns are the names of the entries rejected here (the file or
	// directory name up to its first dot): an environment of that name, if
	// no file declares it, stands for the broken entry, so naming it on the
	// command line reports the entry's error, not an unknown environment.
	standIns map[string]string // name -> absolute path
	// unparsed are the files the caller let scanEnvironments leave
	// unread (Options.Unparsed): by absolute path, the environment each
	// declares.
	unparsed map[string]string
}

// scanEnvironments checks every entry of envDir before CUE's loader reads
// it. Entries whose names start with "." or "_" are skipped, as CUE's
// loader skips them. Every other entry must have a printable name and be a
// regular file named <something>.cue, at most MaxFileSize bytes, valid
// UTF-8, that parses (with the parser options opts, those of the module's
// language version), belongs to package environments and declares
// something. Each entry that is not gets exactly one diagnostic — a
// directory, a file that is not CUE, cannot be read, is not a regular
// file, is too large, is not UTF-8, has no or another package clause, or
// declares nothing — except a syntax error, which gets the parser's
// errors. Diagnostics point at line 1, column 1 of a file judged whole,
// and at the entry's path alone when it has no lines (a directory, a
// pipe, a device, a dangling symlink). A missing envDir holds no
// environments. A regular file <name>.cue for which unparsed (if not nil)
// returns true is neither read nor judged: it is in unparsed.
func scanEnvironments(envDir string, opts []parser.Option, unparsed func(name, file string) bool) (envFiles, diag.List, error) {
	found := envFiles{sources: map[string][]byte{}, parsed: map[string]*ast.File{}, standIns: map[string]string{}, unparsed: map[string]string{}}
	entries, err := os.ReadDir(envDir)
	if os.IsNotExist(err) {
		return found, nil, nil
	}
	if err != nil {
		return found, nil, err
	}
	// Each entry is judged by its name here; the rest (stat, read, parse)
	// runs on every core, since a fleet's files are a thousand reads and
	// parses. The outcomes are merged in directory order: every entry's
	// own diagnostic first, then the parsers', as a serial scan gives them.
	type outcome struct {
		path, stem string
		reject     *diag.Diagnostic // the entry's one diagnostic, if any
		check      bool             // to be read and parsed
		src        []byte
		file       *ast.File
		diags      diag.List // the parser's
	}
	out := make([]outcome, len(entries))
	var todo []int
	root := resolved(filepath.Dir(envDir)) // the repository, for the entries that are links
	for i, de := range entries {
		name := de.Name()
		o := &out[i]
		o.path = filepath.Join(envDir, name)
		var linkedFrom string // where an entry that is a link out of the repository points
		if de.Type()&fs.ModeSymlink != 0 {
			linkedFrom = outsideOf(root, o.path)
		}
		o.stem, _, _ = strings.Cut(name, ".")
		switch {
		case name == applyFile:
			d := fileErr(diag.Pos{Filename: o.path, Line: 1, Column: 1}, "", fmt.Sprintf("%s is a name katonic reserves for the file it adds in memory; rename the file", name))
			o.reject = &d
		case strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"):
		case !printable(name):
			// The name would break the one-line diagnostics (a newline
			// could forge lines in a CI log): say where, quoted. No
			// stand-in: the name cannot be given on a command line.
			d := layoutErr(diag.Pos{Filename: envDir}, "",
				fmt.Sprintf("%s/ has an entry named %q: file names must be printable UTF-8", EnvironmentsDir, name))
			o.reject, o.stem = &d, ""
		case unparsed != nil && de.Type().IsRegular() && strings.HasSuffix(name, ".cue") && unparsed(strings.TrimSuffix(name, ".cue"), o.path):
			found.unparsed[o.path] = strings.TrimSuffix(name, ".cue")
		case linkedFrom != "":
			d := diag.Diagnostic{Severity: diag.Error, Pos: diag.Pos{Filename: o.path}, Message: OutsideMessage(name, linkedFrom, "an environment"),
				Rule: "environments.layout", Source: OutsideSource}
			o.reject = &d
		default:
			o.check = true
			todo = append(todo, i)
		}
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), max(len(todo), 1)) {
		wg.Go(func() {
			for i := range next {
				o := &out[i]
				if d, src := readEntry(o.path); d != nil {
					o.reject = d
				} else {
					o.src = src
					o.file, o.diags = checkSource(o.path, src, opts)
				}
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	var diags diag.List
	for _, o := range out {
		if o.reject != nil {
			diags = append(diags, *o.reject)
			if o.stem != "" {
				found.standIns[o.stem] = o.path
			}
		}
	}
	for _, o := range out {
		switch {
		case !o.check || o.reject != nil:
		case len(o.diags) > 0:
			diags = append(diags, o.diags...)
			if o.stem != "" {
				found.standIns[o.stem] = o.path
			}
		default:
			found.sources[o.path] = o.src
			found.parsed[o.path] = o.file
		}
	}
	return found, diags, nil
}

// readEntry reads the entry at path of environments/ whose name passed
// scanEnvironments' checks: it returns the entry's one diagnostic if it is
// a directory, not a .cue file, not a regular file, too large or
// unreadable, and otherwise its contents.
func readEntry(path string) (*diag.Diagnostic, []byte) {
	name := filepath.Base(path)
	at := diag.Pos{Filename: path, Line: 1, Column: 1}
	var d diag.Diagnostic
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		d = fileErr(diag.Pos{Filename: path}, "", fmt.Sprintf("cannot read %s: %v", name, underlying(err)))
	case fi.IsDir():
		d = layoutErr(diag.Pos{Filename: path}, "",
			fmt.Sprintf("%s/%s is a directory: katonic reads only the files %s/<name>.cue, one per installation; nothing under it is loaded",
				EnvironmentsDir, name, EnvironmentsDir))
	case !strings.HasSuffix(name, ".cue"):
		p := at
		if !fi.Mode().IsRegular() {
			p = diag.Pos{Filename: path} // no lines to point at
		}
		d = layoutErr(p, "",
			fmt.Sprintf("%s is not a CUE file: %s/ holds one <name>.cue file per installation (names starting with . or _ are ignored)",
				name, EnvironmentsDir))
	case !fi.Mode().IsRegular():
		d = fileErr(diag.Pos{Filename: path}, "", fmt.Sprintf("%s is %s, not a regular file", name, filestat.Kind(fi.Mode())))
	case fi.Size() > MaxFileSize:
		d = fileErr(at, "", fmt.Sprintf("%s has %d bytes; an environment file may have at most %d (1 MiB)", name, fi.Size(), MaxFileSize))
	default:
		src, err := readLimited(path, fi.Size())
		if err == nil {
			return nil, src
		}
		d = fileErr(at, "", fmt.Sprintf("cannot read %s: %v", name, underlying(err)))
	}
	return &d, nil
}

// readLimited reads at most MaxFileSize bytes of path, which measured size
// bytes (its buffer's first size); a longer file (one that grew since it
// was measured) is an error.
func readLimited(path string, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	b.Grow(int(size) + bytes.MinRead)
	_, err = b.ReadFrom(io.LimitReader(f, MaxFileSize+1))
	src := b.Bytes()
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		return nil, fmt.Errorf("it has more than %d bytes (1 MiB), the most an environment file may have", MaxFileSize)
	}
	return src, nil
}

// underlying drops the operation and path of a *fs.PathError, which the
// diagnostic's position already names.
func underlying(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// checkSource checks the contents of one environment file at path: valid
// UTF-8, CUE syntax, package environments, and at least one declaration.
// It returns the file's syntax tree and no diagnostics for a good file;
// else the parser's errors for a syntax error, or exactly one diagnostic.
func checkSource(path string, src []byte, opts []parser.Option) (*ast.File, diag.List) {
	name := filepath.Base(path)
	if !utf8.Valid(src) {
		off := firstInvalidUTF8(src)
		line := bytes.Count(src[:off], []byte("\n")) + 1
		col := off - (bytes.LastIndexByte(src[:off], '\n') + 1) + 1
		return nil, diag.List{fileErr(diag.Pos{Filename: path, Line: line, Column: col}, "",
			fmt.Sprintf("%s is not valid UTF-8 (byte 0x%02x): CUE source is UTF-8; save the file as UTF-8", name, src[off]))}
	}
	f, err := parser.ParseFile(path, src, opts...)
	if err != nil {
		return nil, FromCUE(err, filepath.Dir(filepath.Dir(path)), path, "cue")
	}
	var content []ast.Decl
	for _, d := range f.Decls {
		switch d.(type) {
		case *ast.Package, *ast.ImportDecl, *ast.CommentGroup, *ast.Attribute:
		default:
			content = append(content, d)
		}
	}
	pkg := f.PackageName()
	switch {
	case pkg == "" && len(content) == 0:
		return nil, diag.List{layoutErr(diag.Pos{Filename: path, Line: 1, Column: 1}, "",
			fmt.Sprintf("%s is empty: an environment file starts with `package %s` and declares %s.%q", name, EnvironmentsDir, EnvironmentsDir, stemOf(name)))}
	case pkg == "":
		return nil, diag.List{layoutErr(posOf(content[0].Pos()), "",
			fmt.Sprintf("%s has no package clause, so CUE would ignore it: start it with `package %s`", name, EnvironmentsDir))}
	case pkg != EnvironmentsDir:
		var at token.Pos
		for _, d := range f.Decls {
			if p, ok := d.(*ast.Package); ok {
				at = p.Name.Pos()
			}
		}
		return nil, diag.List{layoutErr(posOf(at), "",
			fmt.Sprintf("%s is in package %s: every file in %s/ belongs to package %s", name, pkg, EnvironmentsDir, EnvironmentsDir))}
	case len(content) == 0:
		var at token.Pos
		for _, d := range f.Decls {
			if p, ok := d.(*ast.Package); ok {
				at = p.Pos()
			}
		}
		return nil, diag.List{layoutErr(posOf(at), "",
			fmt.Sprintf("%s declares no environment: declare %s.%q in it, or remove the file", name, EnvironmentsDir, stemOf(name)))}
	}
	if a := FileReadingAttribute(f); a != nil {
		key, _ := a.Split()
		return nil, diag.List{{Severity: diag.Error, Pos: posOf(a.Pos()), Message: fmt.Sprintf(
			"%s uses @%s, which reads other files into the configuration: an environment is what its own file says", name, key),
			Rule: "environments.attribute", Source: AttributeSource}}
	}
	return f, nil
}

// AttributeSource cites the rule that refuses attributes reading files.
const AttributeSource = "katonic rule: environments and policies are their own files' content; CUE's @extern(embed) and @embed read other files (CUE, \"Embedding files\")"

// FileReadingAttribute returns the first attribute of f, at file level or
// on a field, that makes CUE read other files into the value (@extern,
// which turns on @embed, and @embed itself), or nil. katonic refuses such
// files in environments/ and policy/: the file @embed names could be any
// file the process can read, outside the repository too.
func FileReadingAttribute(f *ast.File) *ast.Attribute {
	var found *ast.Attribute
	ast.Walk(f, func(n ast.Node) bool {
		if a, ok := n.(*ast.Attribute); ok {
			if key, _ := a.Split(); key == "extern" || key == "embed" {
				found = a
			}
		}
		return found == nil
	}, nil)
	return found
}

// printable tells whether name is valid UTF-8 of printable characters
// (unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
// ASCII space).
func printable(name string) bool {
	return utf8.ValidString(name) && strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// special returns, for the file at path (links followed), what it is when it
// is neither a regular file nor a directory: "a named pipe", "a socket",
// "a device" or "a special file"; "" otherwise, or when it cannot be
// stat'ed (the reader then reports that). CUE's loader would block for
// ever on a named pipe, so katonic refuses such a file before the loader
// reads it.
func special(path string) string {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().IsRegular() || fi.IsDir() {
		return ""
	}
	return filestat.Kind(fi.Mode())
}

func stemOf(name string) string {
	stem, _, _ := strings.Cut(name, ".")
	return stem
}

// firstInvalidUTF8 returns the offset of the first byte of src that does
// not start a valid UTF-8 sequence.
func firstInvalidUTF8(src []byte) int {
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(src)
}

func layoutErr(p diag.Pos, path, msg string) diag.Diagnostic {
	return diag.Diagnostic{Severity: diag.Error, Pos: p, Path: path, Message: msg, Rule: "environments.layout",
		Source: "README, \"Layout\": environments/<name>.cue, one file per installation"}
}

func fileErr(p diag.Pos, path, msg string) diag.Diagnostic {
	return diag.Diagnostic{Severity: diag.Error, Pos: p, Path: path, Message: msg, Rule: "environments.file", Source: fileSource}
}

// names returns the environment files that passed the checks, relative
// to the repository root dir, sorted.
func (f envFiles) names(dir string) []string {
	var out []string
	for p := range f.sources {
		out = append(out, diag.Rel(dir, p))
	}
	slices.Sort(out)
	return out
}

// declaredUnparsed returns the names of the unparsed files' environments
// that a parsed file declares too (in a top-level environments struct, by
// a literal label): those files must be read after all, so that
// declarations reports the duplicate with both positions.
func (f envFiles) declaredUnparsed() map[string]bool {
	if len(f.unparsed) == 0 {
		return nil
	}
	names := make(map[string]bool, len(f.unparsed))
	for _, name := range f.unparsed {
		names[name] = true
	}
	again := map[string]bool{}
	for _, file := range f.parsed {
		for _, decl := range file.Decls {
			field, ok := decl.(*ast.Field)
			if !ok {
				continue
			}
			if label, _, err := ast.LabelName(field.Label); err != nil || label != EnvironmentsDir {
				continue
			}
			envs, ok := field.Value.(*ast.StructLit)
			if !ok {
				continue
			}
			for _, elt := range envs.Elts {
				if e, ok := elt.(*ast.Field); ok {
					if name, _, err := ast.LabelName(e.Label); err == nil && names[name] {
						again[name] = true
					}
				}
			}
		}
	}
	return again
}

// Outside returns where the symbolic link path resolves to when that is
// outside the directory root (both resolved, so a root reached through a
// link counts as itself), and "" when it resolves inside root or does not
// resolve (a dangling link, reported when it is read). Environments and
// policies are read from the repository only: a file linked from outside it
// is not reviewed with it, and is not the same file on every machine.
func Outside(root, path string) string {
	return outsideOf(resolved(root), path)
}

// outsideOf is Outside for a root already resolved.
func outsideOf(root, path string) string {
	t, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	if rel, err := filepath.Rel(root, t); err != nil || !filepath.IsLocal(rel) {
		return t
	}
	return ""
}

// resolved is dir with its symbolic links resolved, or dir as it is when
// it cannot be.
func resolved(dir string) string {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return r
	}
	return dir
}

// OutsideSource cites the rule that refuses environments and policies
// linked from outside the repository.
const OutsideSource = "katonic rule: environments and policies are their own files' content, read from the repository (README, \"Layout\")"

// OutsideMessage says that the file name, what ("an environment", "a
// policy"), is a symbolic link to target, outside the repository.
func OutsideMessage(name, target, what string) string {
	return fmt.Sprintf("%s is a symbolic link to %s, outside the repository: %s is read from the repository only, where it is reviewed and every machine reads the same bytes", name, target, what)
}
