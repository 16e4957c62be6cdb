// Package secrets reads the SOPS-encrypted Secret manifests of one
// environment — secrets/<env>/ at the root of the configuration repository —
// and checks, without decrypting anything (katonic never holds a key), that
// each is safe to commit and that Flux can decrypt it. katonic render copies
// the files it accepts byte for byte into the rendered tree, where a Flux
// Kustomization with spec.decryption applies them (internal/render).
//
// Sources:
//   - Flux, "Kustomization — Decryption"
//     (https://fluxcd.io/flux/components/kustomize/kustomizations/#decryption):
//     spec.decryption.provider sops, the key Secret of spec.decryption.secretRef
//     in the Kustomization's namespace, age keys in entries ending ".agekey".
//   - Flux, "Manage Kubernetes secrets with SOPS"
//     (https://fluxcd.io/flux/guides/mozilla-sops/): the age key in Secret
//     flux-system/sops-age, entry age.agekey; encrypt with
//     --encrypted-regex '^(data|stringData)$' so that apiVersion, kind and
//     metadata stay readable.
//   - kustomize-controller, internal/decryptor (DecryptResource): a resource
//     is decrypted on its own, after kustomize build, when it has a top-level
//     sops field with a mac.
//   - SOPS, README "Encrypting only parts of a file" (unencrypted_suffix,
//     encrypted_suffix, unencrypted_regex, encrypted_regex and the comment
//     regexes, of which a file may use one), "Message Authentication Code",
//     and stores/stores.go (the sops metadata block: mac, lastmodified,
//     version, the master keys age, pgp, kms, gcp_kms, azure_kv, hc_vault,
//     hckms, or key_groups); sops.go Tree.Encrypt (one MAC over every value
//     of every document of a file; empty and null values are left as they
//     are); aes/cipher.go (the ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]
//     form).
//
// The rules (Error.Rule):
//
//	secrets.layout     secrets/<env>/ is read one level deep: every *.yaml and *.yml file in it. Names
//	                   starting with "." (.sops.yaml, .gitkeep) and files with other extensions (README.md)
//	                   are skipped; a subdirectory, a symbolic link or a special file is an error (a nested
//	                   Secret would silently not be deployed; a link may point outside the repository).
//	                   File names use letters, digits, ".", "_" and "-"; kustomization.yaml and
//	                   kustomization.yml are reserved (katonic writes the directory's kustomization.yaml);
//	                   two names equal but for case are refused (they collide on case-insensitive file
//	                   systems); a file is at most MaxFileSize bytes. Every entry of secrets/ (but
//	                   names starting with ".") is the directory of an environment of environments/
//	                   (Orphans): the Secrets of a folder no environment owns would silently not be
//	                   deployed.
//	secrets.yaml       the file is valid YAML, without duplicate keys, anchors or aliases, with string keys.
//	secrets.document   the file holds exactly one YAML document: SOPS computes one MAC over every
//	                   document of a file, but Flux decrypts each object on its own after kustomize build,
//	                   so a file of several encrypted Secrets never verifies in Flux.
//	secrets.kind       the document is a v1 Secret; data and stringData are mappings of strings.
//	secrets.plaintext  the Secret carries SOPS metadata (a top-level sops mapping): a Secret without it is
//	                   plaintext and must never be committed.
//	secrets.sops       the sops mapping is SOPS's: mac (an ENC[…] value), lastmodified (RFC 3339), version,
//	                   at least one master key, at most one of the four encryption rules, regexes that
//	                   compile.
//	secrets.age        the file is encrypted to an age recipient: Flux decrypts with the age private key
//	                   in flux-system/sops-age (KeySecretNamespace, KeySecretName, KeySecretKey). With
//	                   key_groups, as many groups as the Shamir threshold have an age recipient.
//	secrets.cleartext  apiVersion, kind, metadata.name and metadata.namespace are not encrypted: Flux and
//	                   katonic must read them (encrypt with --encrypted-regex '^(data|stringData)$').
//	secrets.metadata   metadata.name is a DNS-1123 subdomain and metadata.namespace a DNS-1123 label. The
//	                   namespace is required, not defaulted: Flux applies with no default namespace, and
//	                   katonic cannot add one because SOPS's MAC covers every value of the file.
//	secrets.rules      the file's encryption rules encrypt every key of data and stringData.
//	secrets.unencrypted every value of data and stringData is ENC[…] (empty and null values excepted, as
//	                   SOPS leaves them); so is every other value the file's rules encrypt (a plaintext
//	                   value there was added after encryption: SOPS, and so Flux, fail to decrypt it); and
//	                   every comment inside data and stringData (SOPS encrypts those too). When the file
//	                   uses encrypted_comment_regex or unencrypted_comment_regex, which values SOPS
//	                   encrypts depends on comments, and only data and stringData are checked.
//	secrets.duplicate  a namespace/name appears once per environment.
package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/katonic/katonic/internal/diag"
)

// Dir is the directory, at the root of the configuration repository, that
// holds one subdirectory of encrypted Secrets per environment.
const Dir = "secrets"

// The Secret that holds the age private key with which Flux decrypts the
// files of secrets/<env>/ (Flux guide "Manage Kubernetes secrets with SOPS",
// "Encrypting secrets using age": `kubectl create secret generic sops-age
// --namespace=flux-system --from-file=age.agekey=...`). It must exist
// before Flux reconciles, and can never come from secrets/<env>/ itself.
const (
	KeySecretNamespace = "flux-system"
	KeySecretName      = "sops-age"
	KeySecretKey       = "age.agekey"
)

// MaxFileSize bounds one file of secrets/<env>/. A Secret holds at most
// 1 MiB of data (Kubernetes, "Secrets": "Individual Secrets are limited to
// 1MiB in size"); encryption and base64 make the file larger, not 4 times.
const MaxFileSize = 4 << 20

// File is one accepted file of secrets/<env>/.
type File struct {
	// Path is the file's slash path from the repository root, e.g.
	// "secrets/acme/db.yaml".
	Path string
	// Name is the file's name, which it keeps in the rendered tree
	// (environments/<env>/secrets/<Name>), e.g. "db.yaml".
	Name string
	// Data is the file's bytes exactly as read: SOPS's MAC covers its
	// values, so they are copied through untouched.
	Data []byte
	// Secrets are the Secrets the file holds (one: a file holds one
	// document).
	Secrets []Ref
}

// Ref identifies one Secret of a File.
type Ref struct {
	Namespace, Name string
	// Keys are the keys of data and stringData (their names are not
	// encrypted), sorted and unique.
	Keys []string
}

// String returns namespace/name.
func (r Ref) String() string { return r.Namespace + "/" + r.Name }

// Error is one rule a file of secrets/<env>/ breaks.
type Error struct {
	// Path is the slash path of the file (or directory) from the
	// repository root, e.g. "secrets/acme/db.yaml".
	Path string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Rule is a stable identifier: one of the rules of the package
	// documentation, e.g. "secrets.plaintext".
	Rule string
	// Message says what is wrong, without a final period.
	Message string
	// Fix says what to do, usually with the sops command to run.
	Fix string
	// Source says where the rule comes from.
	Source string
}

// Error formats e as "path:line:column: message; fix [rule r]".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	switch {
	case e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	case e.Line > 0:
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	fmt.Fprintf(&b, " [rule %s]", e.Rule)
	return b.String()
}

// Diagnostic converts e for katonic's diagnostic output, the file named
// under root (the repository root Scan was given).
func (e *Error) Diagnostic(root string) diag.Diagnostic {
	name := filepath.FromSlash(e.Path)
	if root != "" {
		name = filepath.Join(root, name)
	}
	msg := e.Message
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return diag.Diagnostic{
		Severity: diag.Error,
		Pos:      diag.Pos{Filename: name, Line: e.Line, Column: e.Column},
		Message:  msg,
		Rule:     e.Rule,
		Source:   e.Source,
	}
}

// Errors is every rule broken, sorted by path, line, column and rule.
type Errors []*Error

// Error is one line per Error.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Rule < b.Rule
	})
}

// Sources of the rules.
const (
	srcLayout    = "katonic: secrets/<env>/ holds one SOPS-encrypted Secret per *.yaml file, copied into environments/<env>/secrets/ beside the kustomization.yaml katonic writes"
	srcYAML      = "SOPS stores/yaml: string keys, unique (sops checks duplicates before encrypting)"
	srcDocument  = "SOPS sops.go Tree.Encrypt: one MAC over every document of a file; kustomize-controller internal/decryptor DecryptResource: each object decrypted on its own after kustomize build"
	srcKind      = "Flux, \"Kustomization — Decryption\": Flux decrypts SOPS-encrypted Kubernetes Secrets"
	srcPlaintext = "Kubernetes, \"Good practices for Kubernetes Secrets\": do not commit Secret manifests in plain text; Flux guide \"Manage Kubernetes secrets with SOPS\""
	srcSops      = "SOPS stores/stores.go: the sops metadata (mac, lastmodified, version, master keys, one encryption rule)"
	srcAge       = "Flux guide \"Manage Kubernetes secrets with SOPS\", \"Encrypting secrets using age\": Flux decrypts with the age key in flux-system/sops-age"
	srcCleartext = "Flux guide \"Manage Kubernetes secrets with SOPS\": encrypt with --encrypted-regex '^(data|stringData)$'; kustomize build and Flux read apiVersion, kind and metadata before decrypting"
	srcMetadata  = "Kubernetes object names (DNS-1123); SOPS \"Message Authentication Code\": the MAC covers every value, so katonic cannot add a namespace"
	srcRules     = "SOPS README, \"Encrypting only parts of a file\": values outside the file's rules stay in clear"
	srcUnenc     = "SOPS sops.go Tree.Encrypt/Decrypt: every value under the file's rules is ENC[...]; a plaintext one fails decryption (aes/cipher.go)"
	srcDuplicate = "Kubernetes: namespace/name identifies a Secret; two files would fight over it"
)

// Fixes.
func fixEncrypt(p string) string {
	return "encrypt it: sops --encrypt --age <age recipient> --encrypted-regex '^(data|stringData)$' --in-place " + p
}

func fixReencrypt(p string) string {
	return "decrypt it and encrypt only data and stringData: sops --decrypt --in-place " + p +
		" && sops --encrypt --age <age recipient> --encrypted-regex '^(data|stringData)$' --in-place " + p
}

// fixAdd says how to add a field: with sops edit to an encrypted file, by
// hand to a plaintext one (which must then be encrypted).
func (c *checker) fixAdd(field string) string {
	if c.encrypted {
		return fixEdit(c.path, "add "+field)
	}
	return "add " + field + " before encrypting the file"
}

func fixEdit(p, what string) string {
	return what + " with `sops edit " + p + "`, which re-encrypts the file and updates its MAC (editing the file directly breaks the MAC)"
}

// Orphans checks that every entry of root/secrets/ is the directory of one
// of envs (the environments of environments/): a folder of an environment
// that does not exist, or a file beside the folders, would never be
// deployed, its Secrets silently ignored. Names starting with "." (a
// .sops.yaml, a .gitkeep) are skipped. It returns Errors (rule
// secrets.layout), or nil when all is well or there is no secrets/
// directory; another error is one reading the directory.
func Orphans(root string, envs []string) error {
	// A secrets/ that is not a real directory is Scan's to report.
	if fi, err := os.Lstat(filepath.Join(root, Dir)); err != nil || !fi.IsDir() {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(root, Dir))
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	var errs Errors
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."):
		case !e.IsDir():
			errs = append(errs, &Error{Path: Dir + "/" + name, Rule: "secrets.layout", Source: srcLayout,
				Message: "is not in an environment's folder: katonic reads secrets/<env>/ only, so it would never be deployed",
				Fix:     "move it into secrets/<env>/"})
		case !slices.Contains(envs, name):
			errs = append(errs, &Error{Path: Dir + "/" + name, Rule: "secrets.layout", Source: srcLayout,
				Message: fmt.Sprintf("belongs to no environment: environments/%s.cue does not exist, so its Secrets would never be deployed", name),
				Fix:     "rename it after its environment, or remove it"})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Scan reads root/secrets/<env>/ and returns its files, sorted by name. A
// missing directory (or a missing secrets/) is no error: nil, nil. When a
// file breaks a rule, Scan returns nil and an Errors listing every broken
// rule of every file; an I/O failure is returned as it is.
func Scan(root, env string) ([]File, error) {
	if env == "" || env == "." || env == ".." || strings.ContainsAny(env, `/\`) {
		return nil, fmt.Errorf("secrets: invalid environment name %q", env)
	}
	rel := Dir + "/" + env
	var errs Errors
	layout := func(p, format string, args ...any) {
		errs = append(errs, &Error{Path: p, Rule: "secrets.layout", Message: fmt.Sprintf(format, args...), Source: srcLayout})
	}
	for _, p := range []string{Dir, rel} {
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			layout(p, "is a symbolic link; katonic reads only a real directory")
			return nil, errs
		case !fi.IsDir():
			layout(p, "is not a directory")
			return nil, errs
		}
	}
	dir := filepath.Join(root, Dir, env)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	defer r.Close()

	var files []File
	folded := map[string]string{}
	seen := map[string]refAt{}
	for _, e := range entries {
		name := e.Name()
		p := rel + "/" + name
		if strings.HasPrefix(name, ".") {
			continue
		}
		ext := path.Ext(name)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			layout(p, "is a symbolic link; put the encrypted Secret itself here")
			continue
		case e.IsDir():
			layout(p, "is a directory; katonic reads only the files directly in %s/ (move its Secrets up)", rel)
			continue
		case ext != ".yaml" && ext != ".yml":
			continue
		case !e.Type().IsRegular():
			layout(p, "is not a regular file")
			continue
		case !validFileName.MatchString(name):
			layout(p, "file name %q: use only letters, digits, \".\", \"_\" and \"-\"", name)
			continue
		case strings.EqualFold(name, "kustomization.yaml") || strings.EqualFold(name, "kustomization.yml"):
			layout(p, "%s is reserved: katonic writes the kustomization.yaml of the rendered secrets directory; rename the file", name)
			continue
		}
		if other, ok := folded[strings.ToLower(name)]; ok {
			layout(p, "differs from %s only in case; the two collide on case-insensitive file systems", other)
			continue
		}
		folded[strings.ToLower(name)] = p
		data, err := readFile(r, name)
		if err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				ce.Path = p
				errs = append(errs, ce)
				continue
			}
			return nil, fmt.Errorf("secrets: %s: %w", p, err)
		}
		f, refs, ferrs := checkFile(p, data)
		if len(ferrs) > 0 {
			errs = append(errs, ferrs...)
			continue
		}
		for _, ra := range refs {
			id := ra.ref.String()
			if first, dup := seen[id]; dup {
				errs = append(errs, &Error{Path: p, Line: ra.line, Column: ra.col, Rule: "secrets.duplicate",
					Message: fmt.Sprintf("Secret %s is already defined in %s:%d:%d", id, first.path, first.line, first.col),
					Fix:     "keep one of the two files", Source: srcDuplicate})
				continue
			}
			seen[id] = ra
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

var validFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// readFile reads name from r, refusing a file swapped for a link or a
// special file after the directory was listed, and one over MaxFileSize.
func readFile(r *os.Root, name string) ([]byte, error) {
	before, err := r.Lstat(name)
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, &Error{Rule: "secrets.layout", Message: "is not a regular file", Source: srcLayout}
	}
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(before, after) {
		return nil, fmt.Errorf("changed while it was read")
	}
	if after.Size() > MaxFileSize {
		return nil, &Error{Rule: "secrets.layout", Message: fmt.Sprintf("is %d bytes, over the %d bytes katonic reads", after.Size(), MaxFileSize), Source: srcLayout}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Rule: "secrets.layout", Message: fmt.Sprintf("is over the %d bytes katonic reads", MaxFileSize), Source: srcLayout}
	}
	return data, nil
}

// CheckFile checks the contents of one file of secrets/<env>/, p being its
// slash path from the repository root (used in errors, and its base name as
// File.Name). It returns the accepted File (Data is data itself), or an
// Errors of every rule the file breaks. The layout rules (file names,
// links) and duplicates across files are Scan's.
func CheckFile(p string, data []byte) (File, error) {
	f, _, errs := checkFile(p, data)
	if len(errs) > 0 {
		return File{}, errs
	}
	return f, nil
}

// refAt is a Ref with where its metadata.name is.
type refAt struct {
	ref       Ref
	path      string
	line, col int
}

func checkFile(p string, data []byte) (File, []refAt, Errors) {
	c := &checker{path: p}
	refs := c.file(data)
	if len(c.errs) > 0 {
		c.errs.sort()
		return File{}, nil, c.errs
	}
	f := File{Path: p, Name: path.Base(p), Data: data}
	for _, r := range refs {
		f.Secrets = append(f.Secrets, r.ref)
	}
	return f, refs, nil
}

// checker collects the errors of one file.
type checker struct {
	path string
	errs Errors
	// encrypted: the document has sops metadata (which fix to suggest).
	encrypted bool
}

func (c *checker) add(n *yaml.Node, rule, source, fix, format string, args ...any) {
	e := &Error{Path: c.path, Rule: rule, Message: fmt.Sprintf(format, args...), Fix: fix, Source: source}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	c.errs = append(c.errs, e)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func (c *checker) file(data []byte) []refAt {
	if len(data) > MaxFileSize {
		c.add(nil, "secrets.layout", srcLayout, "", "is over the %d bytes katonic reads", MaxFileSize)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			e := &Error{Path: c.path, Rule: "secrets.yaml", Message: "invalid YAML: " + err.Error(), Source: srcYAML}
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				e.Line, _ = strconv.Atoi(m[1])
				e.Message = "invalid YAML: " + strings.TrimPrefix(err.Error(), m[0])
			}
			c.errs = append(c.errs, e)
			return nil
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
			continue // an empty document, as after a trailing "---"
		}
		docs = append(docs, &n)
	}
	switch len(docs) {
	case 0:
		c.add(nil, "secrets.document", srcDocument, "", "holds no Secret")
		return nil
	case 1:
	default:
		c.add(docs[1], "secrets.document", srcDocument,
			"put each Secret in a file of its own and encrypt each with sops",
			"holds %d YAML documents; SOPS's MAC covers the whole file but Flux decrypts each Secret on its own, so it would never verify", len(docs))
		return nil
	}
	if r, ok := c.document(docs[0].Content[0]); ok {
		return []refAt{r}
	}
	return nil
}

// document checks one Secret; ok is false when it broke a rule.
func (c *checker) document(root *yaml.Node) (refAt, bool) {
	before := len(c.errs)
	if root.Kind != yaml.MappingNode {
		c.add(root, "secrets.kind", srcKind, "", "is not a Kubernetes object (a YAML mapping)")
		return refAt{}, false
	}
	c.syntax(root)
	if len(c.errs) > before {
		return refAt{}, false
	}
	apiVersion, kind := lookup(root, "apiVersion"), lookup(root, "kind")
	for _, f := range []struct {
		name string
		n    *yaml.Node
	}{{"apiVersion", apiVersion}, {"kind", kind}} {
		if f.n != nil && f.n.Kind == yaml.ScalarNode && encRe.MatchString(f.n.Value) {
			c.add(f.n, "secrets.cleartext", srcCleartext, fixReencrypt(c.path),
				"%s is encrypted: the whole document was encrypted, but Flux and katonic must read apiVersion, kind and metadata", f.name)
			return refAt{}, false
		}
	}
	if scalar(apiVersion) != "v1" || scalar(kind) != "Secret" {
		at := kind
		if at == nil {
			at = root
		}
		c.add(at, "secrets.kind", srcKind, "keep only Secrets in "+path.Dir(c.path)+"/",
			"is %s, not a v1 Secret", describe(apiVersion, kind))
		return refAt{}, false
	}

	sopsNode := lookup(root, "sops")
	c.encrypted = sopsNode != nil
	ref, refOK := c.metadata(root)
	ref.ref.Keys = c.dataShape(root)

	if sopsNode == nil {
		name := "the Secret"
		switch {
		case ref.ref.Namespace != "" && ref.ref.Name != "":
			name = "Secret " + ref.ref.String()
		case ref.ref.Name != "":
			name = "Secret " + ref.ref.Name
		}
		c.add(kind, "secrets.plaintext", srcPlaintext, fixEncrypt(c.path),
			"%s is not encrypted with SOPS (it has no sops metadata)", name)
		return refAt{}, false
	}
	c.values(root, nil, c.sopsMetadata(sopsNode))
	return ref, refOK && len(c.errs) == before
}

// syntax refuses duplicate and non-string keys, anchors and aliases.
func (c *checker) syntax(n *yaml.Node) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		c.add(n, "secrets.yaml", srcYAML, "write the value out", "YAML anchors and aliases are not supported in a secrets file")
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			switch {
			case k.Kind != yaml.ScalarNode:
				c.add(k, "secrets.yaml", srcYAML, "use a string key", "a key is not a string")
				continue
			case k.Tag == "!!merge":
				c.add(k, "secrets.yaml", srcYAML, "write the values out", "YAML merge keys are not supported in a secrets file")
				continue
			}
			if seen[k.Value] {
				c.add(k, "secrets.yaml", srcYAML, "remove one of them", "duplicate key %q", k.Value)
			}
			seen[k.Value] = true
			c.syntax(k)
			c.syntax(n.Content[i+1])
		}
	case yaml.SequenceNode:
		for _, v := range n.Content {
			c.syntax(v)
		}
	}
}

// metadata checks metadata.name and metadata.namespace.
func (c *checker) metadata(root *yaml.Node) (refAt, bool) {
	md := lookup(root, "metadata")
	if md == nil || md.Kind != yaml.MappingNode {
		at := md
		if at == nil {
			at = root
		}
		c.add(at, "secrets.metadata", srcMetadata, c.fixAdd("metadata.name and metadata.namespace"), "the Secret has no metadata mapping")
		return refAt{}, false
	}
	ok := true
	var r refAt
	for _, f := range []struct {
		key   string
		check func(string) []string
		dst   *string
	}{
		{"name", validation.IsDNS1123Subdomain, &r.ref.Name},
		{"namespace", validation.IsDNS1123Label, &r.ref.Namespace},
	} {
		n := lookup(md, f.key)
		switch {
		case n == nil || (n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")):
			ok = false
			at := n
			if at == nil {
				at = md
			}
			why := ""
			if f.key == "namespace" {
				why = " (Flux applies it with no default namespace, and katonic cannot add one: SOPS's MAC covers every value)"
			}
			c.add(at, "secrets.metadata", srcMetadata, c.fixAdd("metadata."+f.key),
				"the Secret has no metadata.%s%s", f.key, why)
		case n.Kind != yaml.ScalarNode:
			ok = false
			c.add(n, "secrets.metadata", srcMetadata, "", "metadata.%s is not a string", f.key)
		case encRe.MatchString(n.Value):
			ok = false
			c.add(n, "secrets.cleartext", srcCleartext, fixReencrypt(c.path),
				"metadata.%s is encrypted, but Flux and katonic must read it", f.key)
		default:
			if errs := f.check(n.Value); len(errs) > 0 {
				ok = false
				c.add(n, "secrets.metadata", srcMetadata, "", "metadata.%s %q: %s", f.key, n.Value, strings.Join(errs, "; "))
			}
			*f.dst = n.Value
			if f.key == "name" {
				r.line, r.col = n.Line, n.Column
			}
		}
	}
	r.path = c.path
	return r, ok
}

// dataShape checks that data and stringData are mappings of scalars and
// returns their keys, sorted and unique.
func (c *checker) dataShape(root *yaml.Node) []string {
	set := map[string]bool{}
	for _, field := range []string{"data", "stringData"} {
		m := lookup(root, field)
		if m == nil || (m.Kind == yaml.ScalarNode && m.Tag == "!!null") {
			continue
		}
		if m.Kind != yaml.MappingNode {
			c.add(m, "secrets.kind", srcKind, "", "%s is not a mapping of strings", field)
			continue
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				c.add(v, "secrets.kind", srcKind, "", "%s.%s is not a string", field, k.Value)
			}
			set[k.Value] = true
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The master key kinds of SOPS's metadata (stores/stores.go).
var masterKeyKinds = []string{"age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"}

// sopsMetadata checks the sops mapping and returns the file's rules.
func (c *checker) sopsMetadata(n *yaml.Node) rules {
	bad := func(at *yaml.Node, format string, args ...any) {
		c.add(at, "secrets.sops", srcSops, "encrypt the plaintext Secret again with sops instead of editing the sops metadata by hand", format, args...)
	}
	if n.Kind != yaml.MappingNode {
		bad(n, "sops is not a mapping")
		return rules{}
	}
	str := func(key string) (string, *yaml.Node) {
		v := lookup(n, key)
		if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			return "", v
		}
		return v.Value, v
	}
	if mac, at := str("mac"); !encRe.MatchString(mac) {
		if at == nil {
			at = n
		}
		bad(at, "sops.mac is missing or not an ENC[AES256_GCM,...] value")
	}
	if lm, at := str("lastmodified"); lm == "" {
		bad(n, "sops.lastmodified is missing")
	} else if _, err := time.Parse(time.RFC3339, lm); err != nil {
		bad(at, "sops.lastmodified %q is not an RFC 3339 time", lm)
	}
	if v, _ := str("version"); v == "" {
		bad(n, "sops.version is missing")
	}

	// master keys
	flat, flatAge := c.keyGroup(n, "sops")
	age := flatAge
	if flat == 0 {
		groups := lookup(n, "key_groups")
		nGroups, ageGroups := 0, 0
		if groups != nil && groups.Kind == yaml.SequenceNode {
			for i, g := range groups.Content {
				if g.Kind != yaml.MappingNode {
					bad(g, "sops.key_groups[%d] is not a mapping", i)
					continue
				}
				keys, hasAge := c.keyGroup(g, fmt.Sprintf("sops.key_groups[%d]", i))
				if keys > 0 {
					nGroups++
				}
				if hasAge {
					ageGroups++
				}
			}
		}
		if nGroups == 0 {
			bad(n, "sops has no master key (age, pgp, kms, gcp_kms, azure_kv, hc_vault, hckms or key_groups)")
			return rules{}
		}
		threshold := nGroups
		if t, at := str("shamir_threshold"); t != "" {
			v, err := strconv.Atoi(t)
			if err != nil || v < 1 {
				bad(at, "sops.shamir_threshold %q is not a positive integer", t)
			} else {
				threshold = v
			}
		}
		age = ageGroups >= threshold
		if !age && ageGroups > 0 {
			c.add(groups, "secrets.age", srcAge, "add age recipients to more key groups: sops updatekeys "+c.path,
				"only %d of the %d key groups Flux needs (shamir_threshold) have an age recipient; Flux decrypts with the age key in %s/%s alone",
				ageGroups, threshold, KeySecretNamespace, KeySecretName)
			age = true // reported
		}
	}
	if !age {
		c.add(n, "secrets.age", srcAge, "add an age recipient: sops --rotate --add-age <age recipient> --in-place "+c.path+
			" (or add it to the creation rule of .sops.yaml and run sops updatekeys "+c.path+")",
			"the file is not encrypted to an age recipient; Flux decrypts with the age key in %s/%s (entry %s)",
			KeySecretNamespace, KeySecretName, KeySecretKey)
	}

	// encryption rules
	r := rules{known: true}
	count := 0
	for _, key := range []string{"unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex"} {
		v, at := str(key)
		if v == "" {
			continue
		}
		count++
		switch key {
		case "unencrypted_suffix":
			r.unencSuffix = v
		case "encrypted_suffix":
			r.encSuffix = v
		default:
			re, err := regexp.Compile(v)
			if err != nil {
				bad(at, "sops.%s %q does not compile: %v", key, v, err)
				r.known = false
				continue
			}
			if key == "unencrypted_regex" {
				r.unencRe = re
			} else {
				r.encRe = re
			}
		}
	}
	if count > 1 {
		bad(n, "sops uses more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex and encrypted_regex, which SOPS refuses")
		r.known = false
	}
	if count == 0 {
		r.unencSuffix = defaultUnencryptedSuffix
	}
	for _, key := range []string{"unencrypted_comment_regex", "encrypted_comment_regex"} {
		if v, at := str(key); v != "" {
			if _, err := regexp.Compile(v); err != nil {
				bad(at, "sops.%s %q does not compile: %v", key, v, err)
			}
			r.known = false
		}
	}
	return r
}

// keyGroup counts the master keys of one group (the sops mapping itself, or
// an entry of key_groups) and tells whether one is an age key.
func (c *checker) keyGroup(g *yaml.Node, where string) (keys int, age bool) {
	for _, kind := range masterKeyKinds {
		l := lookup(g, kind)
		if l == nil || (l.Kind == yaml.ScalarNode && l.Tag == "!!null") {
			continue
		}
		if l.Kind != yaml.SequenceNode {
			c.add(l, "secrets.sops", srcSops, "", "%s.%s is not a list", where, kind)
			continue
		}
		for _, k := range l.Content {
			if k.Kind != yaml.MappingNode || scalar(lookup(k, "enc")) == "" {
				c.add(k, "secrets.sops", srcSops, "", "%s.%s has an entry without an encrypted data key (enc)", where, kind)
				continue
			}
			if kind == "age" && scalar(lookup(k, "recipient")) == "" {
				c.add(k, "secrets.sops", srcSops, "", "%s.age has an entry without a recipient", where)
				continue
			}
			keys++
			if kind == "age" {
				age = true
			}
		}
	}
	return keys, age
}

// defaultUnencryptedSuffix is SOPS's rule when a file names none
// (sops.DefaultUnencryptedSuffix): every value is encrypted but those under
// a key ending in it.
const defaultUnencryptedSuffix = "_unencrypted"

// rules are a file's SOPS encryption rules.
type rules struct {
	// known is false when which values SOPS encrypts cannot be told from
	// the keys alone (comment rules) or the rules are broken.
	known                  bool
	unencSuffix, encSuffix string
	unencRe, encRe         *regexp.Regexp
}

// encrypted reports whether SOPS encrypts the value at path (the keys from
// the document root; sequences add none), as sops.go shouldBeEncrypted for
// a value that is not a comment, without the comment rules.
func (r rules) encrypted(keys []string) bool {
	enc := true
	if r.unencSuffix != "" {
		for _, k := range keys {
			if strings.HasSuffix(k, r.unencSuffix) {
				enc = false
				break
			}
		}
	}
	if r.encSuffix != "" {
		enc = false
		for _, k := range keys {
			if strings.HasSuffix(k, r.encSuffix) {
				enc = true
				break
			}
		}
	}
	if r.unencRe != nil {
		for _, k := range keys {
			if r.unencRe.MatchString(k) {
				enc = false
				break
			}
		}
	}
	if r.encRe != nil {
		enc = false
		for _, k := range keys {
			if r.encRe.MatchString(k) {
				enc = true
				break
			}
		}
	}
	return enc
}

// values checks every value of the document but the sops mapping.
func (c *checker) values(n *yaml.Node, keys []string, r rules) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if len(keys) == 0 && k.Value == "sops" {
				continue
			}
			next := append(keys[:len(keys):len(keys)], k.Value)
			if len(keys) == 1 && isDataField(keys[0]) {
				if r.known && r.encrypted(keys) {
					// SOPS encrypts the comments of the data branch too.
					c.comments(k, next)
					c.comments(v, next)
				}
				if r.known && !r.encrypted(next) && scalar(v) != "" {
					c.add(k, "secrets.rules", srcRules, fixReencrypt(c.path),
						"the file's sops rules (%s) leave %s unencrypted", r, strings.Join(next, "."))
					continue
				}
			}
			c.values(v, next, r)
		}
	case yaml.SequenceNode:
		for _, v := range n.Content {
			c.values(v, keys, r)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!null" || n.Value == "" || encRe.MatchString(n.Value) {
			return // SOPS leaves null and empty values as they are
		}
		p := strings.Join(keys, ".")
		switch {
		case len(keys) > 0 && isDataField(keys[0]):
			c.add(n, "secrets.unencrypted", srcUnenc, fixEdit(c.path, "remove the plaintext value and add it"),
				"%s is not encrypted", p)
		case r.known && r.encrypted(keys):
			c.add(n, "secrets.unencrypted", srcUnenc, fixEdit(c.path, "remove the plaintext value and add it"),
				"%s is not encrypted although the file's sops rules (%s) encrypt it: it was added after encryption, and decryption would fail", p, r)
		}
	}
}

// comments checks that the comments on a node inside data or stringData are
// encrypted, as SOPS encrypts them.
func (c *checker) comments(n *yaml.Node, keys []string) {
	for _, text := range []string{n.HeadComment, n.LineComment, n.FootComment} {
		for line := range strings.SplitSeq(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || encRe.MatchString(strings.TrimSpace(strings.TrimPrefix(line, "#"))) {
				continue
			}
			c.add(n, "secrets.unencrypted", srcUnenc, fixEdit(c.path, "remove the comment, or add it"),
				"a comment at %s is not encrypted", strings.Join(keys, "."))
			return
		}
	}
}

// String describes the rules for messages.
func (r rules) String() string {
	switch {
	case r.encRe != nil:
		return "encrypted_regex " + r.encRe.String()
	case r.unencRe != nil:
		return "unencrypted_regex " + r.unencRe.String()
	case r.encSuffix != "":
		return "encrypted_suffix " + r.encSuffix
	default:
		return "unencrypted_suffix " + r.unencSuffix
	}
}

func isDataField(k string) bool { return k == "data" || k == "stringData" }

// encRe is an encrypted SOPS value (aes/cipher.go: data, iv and tag in
// base64, then the plaintext's type).
var encRe = regexp.MustCompile(`^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]+,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]$`)

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalar returns n's value when n is a string scalar, else "".
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

func describe(apiVersion, kind *yaml.Node) string {
	a, k := scalar(apiVersion), scalar(kind)
	switch {
	case a == "" && k == "":
		return "an object without apiVersion and kind"
	case a == "":
		return k + " without apiVersion"
	case k == "":
		return a + " without kind"
	}
	return a + " " + k
}
