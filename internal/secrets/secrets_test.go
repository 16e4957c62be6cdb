package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// The fixtures are Secrets as `sops --encrypt --age <recipient>
// --encrypted-regex '^(data|stringData)$'` writes them: SOPS 3.10's
// metadata (only the key kinds in use) and SOPS 3.8's (every kind, empty
// lists). The ciphertexts are random bytes of realistic lengths: the
// checks never decrypt.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// edit replaces old by new in s, failing when old is absent so that a
// fixture change cannot silently turn a case into a copy of the valid one.
func edit(t testing.TB, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("fixture lacks %q", old)
	}
	return strings.Replace(s, old, new, 1)
}

const (
	encPassword = "ENC[AES256_GCM,data:u37Q2pnMQ/TlOizLzrGB0vHMQnx2O76h,iv:ZfpPVRxhbNBrIpsAlbykDa6ZZWlAAzXXQS0aYAgt/zE=,tag:VRhwAelT5qATIlOubVI4cg==,type:str]"
	encComment  = "#ENC[AES256_GCM,data:u1aQFd1u/EPDj6E33vZ48xnY,iv:W27tWn0s+oVVGqwPjaP1/3ISwHZtlYRmfroKnuNNK4E=,tag:o1amwvIjNCkl9KZ7Yb9HmQ==,type:comment]"
	ageGroup    = `    age:
        - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
`
	pgpOnly = `    pgp:
        - created_at: "2025-06-02T09:14:27Z"
          enc: |
            -----BEGIN PGP MESSAGE-----
            hQIMA0t4uZHfl9qgAQ//UvGA0K2O7ZKc9aZ+CxOZC/Sl3v6B3S8ZEdyShTd2qn1x
            -----END PGP MESSAGE-----
          fp: 1F3D1CED2F865F5E59CA564553241F147E7C5FA4
`
)

func TestCheckFile(t *testing.T) {
	pg := fixture(t, "postgres-credentials.yaml")
	tls := fixture(t, "superset-tls.yaml")
	const path = "secrets/acme/db.yaml"
	ageBlock := pg[strings.Index(pg, "    age:\n"):strings.Index(pg, "    lastmodified:")]
	cases := []struct {
		name     string
		data     string
		wantRef  string   // namespace/name when accepted
		wantKeys []string // data and stringData keys when accepted
		rule     string   // the rule broken, when refused
		at       string   // "line:column" of the error, when it matters
		msg      []string // substrings of the error
	}{
		{name: "encrypted, sops 3.10", data: pg, wantRef: "flux-system/postgres-credentials", wantKeys: []string{"postgres-password"}},
		{name: "encrypted, sops 3.8 (empty key lists, data)", data: tls, wantRef: "istio-system/superset-tls", wantKeys: []string{"tls.crt", "tls.key"}},
		{name: "trailing document separator", data: pg + "---\n", wantRef: "flux-system/postgres-credentials", wantKeys: []string{"postgres-password"}},
		{name: "empty and null values stay as sops leaves them",
			data:    edit(t, pg, "    postgres-password: ", "    empty: \"\"\n    none: null\n    postgres-password: "),
			wantRef: "flux-system/postgres-credentials", wantKeys: []string{"empty", "none", "postgres-password"}},
		{name: "unencrypted_regex keeping metadata in clear",
			data: edit(t, edit(t, pg, "    encrypted_regex: ^(data|stringData)$\n", "    unencrypted_regex: ^(apiVersion|kind|metadata|type)$\n"),
				"#ENC[", "#ENC["),
			wantRef: "flux-system/postgres-credentials", wantKeys: []string{"postgres-password"}},
		{name: "key groups, all with age",
			data: edit(t, pg, ageBlock, "    key_groups:\n        - age:\n"+indent(ageBlock[len("    age:\n"):], "    ")+
				"        - age:\n"+indent(ageBlock[len("    age:\n"):], "    ")+"    shamir_threshold: 2\n"),
			wantRef: "flux-system/postgres-credentials", wantKeys: []string{"postgres-password"}},

		{name: "plaintext Secret", data: `apiVersion: v1
kind: Secret
metadata:
  name: postgres-credentials
  namespace: flux-system
stringData:
  postgres-password: hunter2
`, rule: "secrets.plaintext", at: "2:7",
			msg: []string{"flux-system/postgres-credentials is not encrypted with SOPS",
				"sops --encrypt --age <age recipient> --encrypted-regex '^(data|stringData)$' --in-place secrets/acme/db.yaml"}},
		{name: "missing sops block", data: pg[:strings.Index(pg, "sops:\n")], rule: "secrets.plaintext", msg: []string{"no sops metadata", "sops --encrypt"}},
		{name: "not a Secret", data: edit(t, pg, "kind: Secret", "kind: ConfigMap"), rule: "secrets.kind", at: "2:7", msg: []string{"is v1 ConfigMap, not a v1 Secret", "keep only Secrets in secrets/acme/"}},
		{name: "not v1", data: edit(t, pg, "apiVersion: v1", "apiVersion: v2"), rule: "secrets.kind", msg: []string{"v2 Secret"}},
		{name: "not a mapping", data: "- a\n- b\n", rule: "secrets.kind", msg: []string{"not a Kubernetes object"}},
		{name: "partially encrypted", data: edit(t, pg, "    postgres-password: ENC", "    admin-password: hunter2\n    postgres-password: ENC"),
			rule: "secrets.unencrypted", at: "9:21", msg: []string{"stringData.admin-password is not encrypted", "sops edit secrets/acme/db.yaml"}},
		{name: "plaintext comment in stringData", data: edit(t, pg, encComment, "# the password is hunter2"),
			rule: "secrets.unencrypted", msg: []string{"a comment at stringData.postgres-password is not encrypted"}},
		{name: "plaintext value outside data that the rules encrypt",
			data: edit(t, edit(t, pg, "    encrypted_regex: ^(data|stringData)$\n", "    unencrypted_regex: ^(apiVersion|kind|metadata)$\n"), "type: Opaque", "type: hunter2"),
			rule: "secrets.unencrypted", at: "6:7", msg: []string{"type is not encrypted although the file's sops rules (unencrypted_regex ^(apiVersion|kind|metadata)$) encrypt it"}},
		{name: "rules leave data in clear", data: edit(t, pg, "encrypted_regex: ^(data|stringData)$", "encrypted_regex: ^(password)$"),
			rule: "secrets.rules", msg: []string{"leave stringData.postgres-password unencrypted", "sops --decrypt --in-place secrets/acme/db.yaml && sops --encrypt"}},
		{name: "whole document encrypted", data: edit(t, edit(t, pg, "kind: Secret", "kind: ENC[AES256_GCM,data:XaqSaA==,iv:PEKrk/y86r12Y0elCsLipoTuIUbkqkD1ND9qieWnp1A=,tag:rkxtQ6WlCh6IAh6Mr9J8ig==,type:str]"),
			"    encrypted_regex: ^(data|stringData)$\n", ""),
			rule: "secrets.cleartext", at: "2:7", msg: []string{"kind is encrypted", "--encrypted-regex '^(data|stringData)$'"}},
		{name: "encrypted namespace", data: edit(t, pg, "namespace: flux-system", "namespace: "+encPassword),
			rule: "secrets.cleartext", msg: []string{"metadata.namespace is encrypted"}},
		{name: "missing namespace", data: edit(t, pg, "    namespace: flux-system\n", ""), rule: "secrets.metadata", at: "4:5",
			msg: []string{"no metadata.namespace", "Flux applies it with no default namespace", "sops edit secrets/acme/db.yaml"}},
		{name: "plaintext without namespace", data: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pg\nstringData:\n  p: hunter2\n",
			rule: "secrets.metadata", at: "4:3", msg: []string{"no metadata.namespace", "add metadata.namespace before encrypting the file"}},
		{name: "missing name", data: edit(t, pg, "    name: postgres-credentials\n", ""), rule: "secrets.metadata", msg: []string{"no metadata.name"}},
		{name: "invalid name", data: edit(t, pg, "name: postgres-credentials", "name: Postgres_Credentials"), rule: "secrets.metadata", msg: []string{`metadata.name "Postgres_Credentials"`}},
		{name: "no age recipient", data: edit(t, pg, ageBlock, pgpOnly), rule: "secrets.age",
			msg: []string{"not encrypted to an age recipient", "flux-system/sops-age", "sops --rotate --add-age"}},
		{name: "key groups below the threshold with age",
			data: edit(t, pg, ageBlock, "    key_groups:\n        - age:\n"+indent(ageBlock[len("    age:\n"):], "    ")+
				"        - pgp:\n"+indent(pgpOnly[len("    pgp:\n"):], "    ")+"    shamir_threshold: 2\n"),
			rule: "secrets.age", msg: []string{"only 1 of the 2 key groups"}},
		{name: "no master key", data: edit(t, pg, ageBlock, ""), rule: "secrets.sops", msg: []string{"no master key"}},
		{name: "no mac", data: edit(t, pg, pg[strings.Index(pg, "    mac: "):strings.Index(pg, "    encrypted_regex")], ""), rule: "secrets.sops", msg: []string{"sops.mac is missing"}},
		{name: "bad lastmodified", data: edit(t, pg, `"2025-06-02T09:14:27Z"`, "yesterday"), rule: "secrets.sops", msg: []string{"not an RFC 3339 time"}},
		{name: "two encryption rules", data: edit(t, pg, "    version:", "    unencrypted_suffix: _unencrypted\n    version:"), rule: "secrets.sops", msg: []string{"more than one of"}},
		{name: "bad regex", data: edit(t, pg, "encrypted_regex: ^(data|stringData)$", "encrypted_regex: ^(data"), rule: "secrets.sops", msg: []string{"does not compile"}},
		{name: "two Secrets in one file", data: pg + "---\n" + tls, rule: "secrets.document", msg: []string{"holds 2 YAML documents", "a file of its own"}},
		{name: "empty file", data: "# nothing\n", rule: "secrets.document", msg: []string{"holds no Secret"}},
		{name: "invalid YAML", data: "apiVersion: v1\nkind: [Secret\n", rule: "secrets.yaml", msg: []string{"invalid YAML"}},
		{name: "duplicate key", data: edit(t, pg, "type: Opaque", "type: Opaque\ntype: Opaque"), rule: "secrets.yaml", at: "7:1", msg: []string{`duplicate key "type"`}},
		{name: "anchor", data: edit(t, pg, "type: Opaque", "type: &t Opaque"), rule: "secrets.yaml", msg: []string{"anchors and aliases"}},
		{name: "data not a mapping", data: edit(t, tls, "data:\n", "data: [x]\nx:\n"), rule: "secrets.kind", msg: []string{"data is not a mapping"}},
		{name: "data value not a string", data: edit(t, tls, "    tls.crt: ENC", "    tls.ca: [a]\n    tls.crt: ENC"), rule: "secrets.kind", msg: []string{"data.tls.ca is not a string"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := CheckFile(path, []byte(c.data))
			if c.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if f.Path != path || f.Name != "db.yaml" || !bytes.Equal(f.Data, []byte(c.data)) {
					t.Errorf("File = %q %q, data changed: %v", f.Path, f.Name, !bytes.Equal(f.Data, []byte(c.data)))
				}
				if len(f.Secrets) != 1 || f.Secrets[0].String() != c.wantRef || !reflect.DeepEqual(f.Secrets[0].Keys, c.wantKeys) {
					t.Errorf("Secrets = %+v, want %s %v", f.Secrets, c.wantRef, c.wantKeys)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("err = %v, want Errors with rule %s", err, c.rule)
			}
			var hit *Error
			for _, e := range errs {
				if e.Rule == c.rule {
					hit = e
					break
				}
			}
			if hit == nil {
				t.Fatalf("no %s error in:\n%v", c.rule, err)
			}
			if hit.Path != path {
				t.Errorf("Path = %q", hit.Path)
			}
			if c.at != "" {
				if got := fmt.Sprintf("%d:%d", hit.Line, hit.Column); got != c.at {
					t.Errorf("at %s, want %s: %v", got, c.at, hit)
				}
			}
			for _, m := range c.msg {
				if !strings.Contains(hit.Error(), m) {
					t.Errorf("error lacks %q:\n%v", m, hit)
				}
			}
			if hit.Source == "" {
				t.Errorf("no source: %v", hit)
			}
		})
	}
}

func indent(s, by string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "")
}

// writeRepo writes files (slash paths, contents) under a new root.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestScan(t *testing.T) {
	pg := fixture(t, "postgres-credentials.yaml")
	tls := fixture(t, "superset-tls.yaml")

	t.Run("missing directory", func(t *testing.T) {
		for _, files := range []map[string]string{{"README.md": "x"}, {"secrets/other/a.yaml": pg}} {
			got, err := Scan(writeRepo(t, files), "acme")
			if got != nil || err != nil {
				t.Errorf("Scan = %v, %v; want nil, nil", got, err)
			}
		}
	})

	t.Run("valid", func(t *testing.T) {
		root := writeRepo(t, map[string]string{
			"secrets/acme/superset-tls.yml":  tls,
			"secrets/acme/postgres.yaml":     pg,
			"secrets/acme/.sops.yaml":        "creation_rules: [{encrypted_regex: '^(data|stringData)$'}]\n",
			"secrets/acme/README.md":         "plaintext notes",
			"secrets/acme/.hidden/x.yaml":    "not read",
			"secrets/globex/postgres.yaml":   "not read",
			"environments/acme.cue":          "package environments\n",
			"secrets/acme/notes.yaml.sample": "ignored",
		})
		got, err := Scan(root, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Name != "postgres.yaml" || got[1].Name != "superset-tls.yml" {
			t.Fatalf("files %+v", got)
		}
		if got[0].Path != "secrets/acme/postgres.yaml" || got[0].Data == nil || string(got[0].Data) != pg || string(got[1].Data) != tls {
			t.Errorf("paths or bytes differ: %q", got[0].Path)
		}
		if got[1].Secrets[0].String() != "istio-system/superset-tls" {
			t.Errorf("refs %+v", got[1].Secrets)
		}
	})

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name  string
			files map[string]string
			setup func(t *testing.T, root string)
			rule  string
			path  string
			msg   string
		}{
			{name: "symlink", files: map[string]string{"elsewhere/pg.yaml": pg}, setup: func(t *testing.T, root string) {
				mkdir(t, filepath.Join(root, "secrets", "acme"))
				symlink(t, filepath.Join(root, "elsewhere", "pg.yaml"), filepath.Join(root, "secrets", "acme", "pg.yaml"))
			}, rule: "secrets.layout", path: "secrets/acme/pg.yaml", msg: "symbolic link"},
			{name: "symlinked environment directory", files: map[string]string{"elsewhere/pg.yaml": pg}, setup: func(t *testing.T, root string) {
				mkdir(t, filepath.Join(root, "secrets"))
				symlink(t, filepath.Join(root, "elsewhere"), filepath.Join(root, "secrets", "acme"))
			}, rule: "secrets.layout", path: "secrets/acme", msg: "symbolic link"},
			{name: "environment path is a file", files: map[string]string{"secrets/acme": "x"}, rule: "secrets.layout", path: "secrets/acme", msg: "not a directory"},
			{name: "subdirectory", files: map[string]string{"secrets/acme/db/pg.yaml": pg}, rule: "secrets.layout", path: "secrets/acme/db", msg: "is a directory"},
			{name: "reserved name", files: map[string]string{"secrets/acme/kustomization.yaml": pg}, rule: "secrets.layout", path: "secrets/acme/kustomization.yaml", msg: "reserved"},
			{name: "bad file name", files: map[string]string{"secrets/acme/my secret.yaml": pg}, rule: "secrets.layout", path: "secrets/acme/my secret.yaml", msg: "file name"},
			{name: "case collision", files: map[string]string{"secrets/acme/PG.yaml": pg, "secrets/acme/pg.yaml": tls}, rule: "secrets.layout", path: "secrets/acme/pg.yaml", msg: "only in case"},
			{name: "too large", files: map[string]string{"secrets/acme/pg.yaml": pg + "#" + strings.Repeat("x", MaxFileSize)}, rule: "secrets.layout", path: "secrets/acme/pg.yaml", msg: "bytes"},
			{name: "duplicate Secret", files: map[string]string{"secrets/acme/a.yaml": pg, "secrets/acme/b.yaml": pg}, rule: "secrets.duplicate", path: "secrets/acme/b.yaml",
				msg: "flux-system/postgres-credentials is already defined in secrets/acme/a.yaml:4:11"},
			{name: "plaintext", files: map[string]string{"secrets/acme/a.yaml": pg, "secrets/acme/b.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: b, namespace: x}\nstringData: {p: q}\n"},
				rule: "secrets.plaintext", path: "secrets/acme/b.yaml", msg: "sops --encrypt --age <age recipient> --encrypted-regex '^(data|stringData)$' --in-place secrets/acme/b.yaml"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				root := writeRepo(t, c.files)
				if c.setup != nil {
					c.setup(t, root)
				}
				got, err := Scan(root, "acme")
				var errs Errors
				if got != nil || !errors.As(err, &errs) {
					t.Fatalf("Scan = %v, %v; want Errors", got, err)
				}
				for _, e := range errs {
					if e.Rule == c.rule && e.Path == c.path && strings.Contains(e.Error(), c.msg) {
						return
					}
				}
				t.Errorf("no %s error on %s with %q in:\n%v", c.rule, c.path, c.msg, err)
			})
		}
	})

	t.Run("every file's errors, sorted", func(t *testing.T) {
		root := writeRepo(t, map[string]string{
			"secrets/acme/b.yaml": "apiVersion: v1\nkind: ConfigMap\n",
			"secrets/acme/a.yaml": "{",
			"secrets/acme/c.yaml": pg,
		})
		_, err := Scan(root, "acme")
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 2 || errs[0].Path != "secrets/acme/a.yaml" || errs[1].Path != "secrets/acme/b.yaml" {
			t.Fatalf("err = %v", err)
		}
		if n := strings.Count(err.Error(), "\n"); n != 1 {
			t.Errorf("want one line per error:\n%v", err)
		}
	})

	t.Run("invalid environment", func(t *testing.T) {
		for _, env := range []string{"", "..", "a/b", `a\b`} {
			if _, err := Scan(t.TempDir(), env); err == nil {
				t.Errorf("env %q: no error", env)
			}
		}
	})
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

func TestDiagnostic(t *testing.T) {
	e := &Error{Path: "secrets/acme/db.yaml", Line: 3, Column: 5, Rule: "secrets.plaintext", Message: "m", Fix: "f", Source: "s"}
	d := e.Diagnostic("/repo")
	if d.Pos.Filename != filepath.Join("/repo", "secrets", "acme", "db.yaml") || d.Pos.Line != 3 || d.Message != "m; f" || d.Rule != e.Rule || d.Source != "s" {
		t.Errorf("Diagnostic = %+v", d)
	}
	if got := d.Format("/repo"); got != "secrets/acme/db.yaml:3:5: error: m; f [rule secrets.plaintext; s]" {
		t.Errorf("Format = %q", got)
	}
	if got := e.Error(); got != "secrets/acme/db.yaml:3:5: m; f [rule secrets.plaintext]" {
		t.Errorf("Error = %q", got)
	}
}

// FuzzScanFile: CheckFile never panics; what it accepts is one v1 Secret
// with a namespace, a name and SOPS metadata with a MAC; what it refuses
// comes with positioned, sourced errors.
func FuzzScanFile(f *testing.F) {
	pg := fixture(f, "postgres-credentials.yaml")
	tls := fixture(f, "superset-tls.yaml")
	for _, s := range []string{pg, tls, pg + "---\n" + tls, "", "{", "- a\n", "apiVersion: v1\nkind: Secret\n",
		strings.Replace(pg, "postgres-password: ENC", "x: y\n    postgres-password: ENC", 1),
		strings.Replace(pg, "encrypted_regex", "unencrypted_regex", 1),
		"a: &x 1\nb: *x\n", "kind: Secret\napiVersion: v1\nsops: {mac: x}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := CheckFile("secrets/acme/f.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not Errors: %v", err)
			}
			for _, e := range errs {
				if e.Path != "secrets/acme/f.yaml" || e.Rule == "" || e.Source == "" || e.Line < 0 || e.Column < 0 {
					t.Fatalf("malformed error %+v", e)
				}
			}
			return
		}
		if !bytes.Equal(file.Data, data) || len(file.Secrets) != 1 {
			t.Fatalf("accepted %+v", file)
		}
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name, Namespace string
			} `yaml:"metadata"`
			Sops map[string]any `yaml:"sops"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("accepted, but does not decode: %v", err)
		}
		mac, _ := doc.Sops["mac"].(string)
		if doc.APIVersion != "v1" || doc.Kind != "Secret" || !encRe.MatchString(mac) ||
			doc.Metadata.Namespace != file.Secrets[0].Namespace || doc.Metadata.Name != file.Secrets[0].Name || doc.Metadata.Namespace == "" {
			t.Fatalf("accepted %+v for %q", doc, data)
		}
	})
}
