package compile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/katonic/katonic/internal/compile"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/load"
	"github.com/katonic/katonic/internal/outdir"
	"github.com/katonic/katonic/internal/testrepo"
)

// unbound returns the repository's schema/environment.cue with the bound
// old replaced by new (which must be there).
func unbound(old, new string) string {
	b, err := os.ReadFile(filepath.Join(repoRoot, "schema", "environment.cue"))
	if err != nil || !bytes.Contains(b, []byte(old)) {
		panic(fmt.Sprintf("schema/environment.cue has no %q (%v)", old, err))
	}
	return strings.Replace(string(b), old, new, 1)
}

// corpusGood is the valid environment every corpus repository renders
// before the broken input is added.
const corpusGood = `package environments

environments: good: {
	profile:           "cloud"
	platformVersion:   "4.5"
	kubernetesVersion: "1.27"
	domain:            "good.example"
	nodePools: {
		platform: {minNodes: 2, maxNodes: 2, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 1, maxNodes: 2, cpu: 8, memoryGiB: 32}
		deployment: {minNodes: 1, maxNodes: 2, cpu: 8, memoryGiB: 32}
	}
}
`

// cloudEnv is a valid cloud environment named name (line 3 declares it;
// line 4 is its profile, line 8 its domain, line 10 its platform pool),
// with old replaced by new to break it.
func cloudEnv(name, old, new string) string {
	body := fmt.Sprintf(`package environments

environments: %q: {
	profile:           "cloud"
	provider:          "aws"
	platformVersion:   "4.5"
	kubernetesVersion: "1.27"
	domain:            "bad.example"
	nodePools: {
		platform: {minNodes: 2, maxNodes: 2, cpu: 4, memoryGiB: 16}
		compute: {minNodes: 1, maxNodes: 2, cpu: 8, memoryGiB: 32}
		deployment: {minNodes: 1, maxNodes: 2, cpu: 8, memoryGiB: 32}
	}
}
`, name)
	if old == "" {
		return body
	}
	if !strings.Contains(body, old) {
		panic("corpus bug: " + old + " not in the environment")
	}
	return strings.Replace(body, old, new, 1)
}

// found is one expected diagnostic: its position as printed (relative to
// the repository), its rule, and part of its message.
type found struct{ pos, rule, msg string }

// corpusCase is one broken input.
type corpusCase struct {
	name string
	// files are added to the repository (paths relative to it).
	files map[string]string
	// setup makes what files cannot: pipes, symlinks, directories.
	setup func(t *testing.T, dir string)
	// want are the diagnostics, all errors, exactly (no more).
	want []found
	// named are environments to compile alone as well: the broken one
	// still fails with the same diagnostics (exit 1), never as an unknown
	// environment (exit 2). Default: "bad", and "good" too when every
	// diagnostic is the load's (a broken file fails every run).
	named []string
}

// corpus is the bad input katonic must refuse. Each case gets exactly the diagnostics
// listed: one, except where more are natural (commented).
var corpus = []corpusCase{
	// Syntax.
	{name: "syntax error",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: bad: {\n\tprofile: \"cloud\"\n\tdomain \"x.example\"\n}\n"},
		want:  []found{{"environments/bad.cue:5:9", "cue", "expected label or ':'"}}},
	{name: "unclosed brace",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: bad: {\n\tprofile: \"cloud\"\n"},
		want:  []found{{"environments/bad.cue:4:19", "cue", "expected '}', found 'EOF'"}}},
	// A stray file in the repository root: CUE's loader merges it into
	// schema/ (a package of that name), so schema/ itself fails to load.
	// It used to crash compile (no repository, no error).
	{name: "stray schema file in the root",
		files: map[string]string{"stray.cue": "package schema\n\nfoo: {\n"},
		want:  []found{{"stray.cue:3:8", "schema", "expected '}', found 'EOF'"}}},
	{name: "NUL byte",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: bad: {profile: \"cl\x00oud\"}\n"},
		want:  []found{{"environments/bad.cue:3:33", "cue", "illegal character NUL"}}},

	// Types, unknown fields, values out of bounds.
	{name: "wrong type",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "compute: {minNodes: 1,", `compute: {minNodes: "one",`)},
		want:  []found{{"environments/bad.cue:11:23", "schema", `conflicting values "one" and int`}}},
	{name: "float for an integer",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "cpu: 4,", "cpu: 4.5,")},
		want:  []found{{"environments/bad.cue:10:45", "schema", "conflicting values 4.5 and int"}}},
	{name: "unknown field",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tdomain:", "\tregion: \"us-east-1\"\n\tdomain:")},
		want:  []found{{"environments/bad.cue:8:2", "schema", "field not allowed"}}},
	{name: "unknown node pool",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "nodePools: {", "nodePools: {\n\t\tbatch: {minNodes: 1, maxNodes: 2}")},
		want:  []found{{"environments/bad.cue:10:3", "schema", "field not allowed"}}},
	{name: "value outside an enum",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `provider:          "aws"`, `provider:          "aws"
	loadBalancer:      "public"`)},
		want: []found{{"environments/bad.cue:6:21", "schema", `"public" is none of the values the schema allows ("external", "internal")`}}},
	{name: "unknown profile",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `"cloud"`, `"edge"`)},
		want:  []found{{"environments/bad.cue:4:21", "schema", `"edge" is none of the values the schema allows ("azure-private", "cloud", "onprem")`}}},
	{name: "misspelt profile",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `"cloud"`, `"clod"`)},
		want:  []found{{"environments/bad.cue:4:21", "schema", `"clod" is none of the values the schema allows ("azure-private", "cloud", "onprem"): did you mean "cloud"?`}}},
	{name: "profile missing",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tprofile:           \"cloud\"\n", "")},
		want:  []found{{"environments/bad.cue:3:22", "schema", `profile is missing: every environment names its profile ("azure-private", "cloud", "onprem")`}}},
	// CUE evaluates nothing else without a profile: the unknown field is
	// reported once the profile is given.
	{name: "profile missing and an unknown field",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tprofile:           \"cloud\"\n", "\tregion: \"us-east-1\"\n")},
		want:  []found{{"environments/bad.cue:3:22", "schema", "profile is missing"}}},
	{name: "profile not one value",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `"cloud"`, `"cloud" | "onprem"`)},
		want:  []found{{"environments/bad.cue:4:21", "schema", "profile must be exactly one of"}}},
	{name: "negative node count",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "compute: {minNodes: 1,", "compute: {minNodes: -1,")},
		want:  []found{{"environments/bad.cue:11:23", "schema", "-1 is out of range: it must be at least 0"}}},
	{name: "integer too large",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "memoryGiB: 32}\n\t\tdeployment", "memoryGiB: 99999999999999999999999}\n\t\tdeployment")},
		want:  []found{{"environments/bad.cue:11:58", "schema", "99999999999999999999999 is out of range: it must be at most 65536"}}},
	// Were the schema to lose a bound, decoding would fail without saying
	// where: katonic's own check names the field.
	{name: "integer too large for a schema without the bound",
		files: map[string]string{
			"schema/environment.cue": unbound("memoryGiB?:  int & >0 & <=65536", "memoryGiB?:  int & >0"),
			"environments/bad.cue":   cloudEnv("bad", "memoryGiB: 32}\n\t\tdeployment", "memoryGiB: 99999999999999999999999}\n\t\tdeployment"),
		},
		want: []found{{"environments/bad.cue:11:58", "schema", "99999999999999999999999 is too large: the most katonic accepts is 9223372036854775807"}}},
	{name: "below a hard minimum",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "platform: {minNodes: 2,", "platform: {minNodes: 1,")},
		want:  []found{{"environments/bad.cue:10:24", "nodepool.min", "the platform pool needs minNodes >= 2 nodes, got 1"}}},
	{name: "explicit bottom",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: bad: _|_\n"},
		want:  []found{{"environments/bad.cue:3:20", "schema", "explicit error (_|_ literal)"}}},
	// Every required field missing: one "is missing" per field (the
	// profile is given, so the others can be checked).
	{name: "required fields missing",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: bad: profile: \"cloud\"\n"},
		want: []found{
			{"environments/bad.cue:3:15", "schema", "domain is missing: the schema requires a value (string)"},
			{"environments/bad.cue:3:15", "schema", `kubernetesVersion is missing: the schema requires a value (a string matching "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$")`},
			{"environments/bad.cue:3:15", "schema", "platformVersion is missing: the schema requires a value (string)"},
		}},

	// Pools a profile does not have or needs.
	{name: "master pool on cloud",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "nodePools: {", "nodePools: {\n\t\tmaster: {minNodes: 1, maxNodes: 3, cpu: 2, memoryGiB: 8}")},
		want:  []found{{"environments/bad.cue:10:11", "profile.pools", "profile cloud has no master pool"}}},
	{name: "storage pool on cloud",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "nodePools: {", "nodePools: {\n\t\tstorage: {minNodes: 3, maxNodes: 3, cpu: 2, memoryGiB: 8}")},
		want:  []found{{"environments/bad.cue:10:12", "profile.pools", "profile cloud has no storage pool"}}},
	{name: "compute pool missing",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\t\tcompute: {minNodes: 1, maxNodes: 2, cpu: 8, memoryGiB: 32}\n", "")},
		want:  []found{{"environments/bad.cue:9:13", "profile.pools", "profile cloud requires a compute pool"}}},

	// Names: environment keys.
	{name: "name ../x",
		files: map[string]string{"environments/bad.cue": cloudEnv("../x", "", "")},
		want:  []found{{"environments/bad.cue:3:23", "environment.name", `environment name "../x" is not a DNS-1123 label`}}, named: []string{"../x"}},
	{name: "name a/b",
		files: map[string]string{"environments/bad.cue": cloudEnv("a/b", "", "")},
		want:  []found{{"environments/bad.cue:3:22", "environment.name", `environment name "a/b" is not a DNS-1123 label`}}, named: []string{"a/b"}},
	{name: "name with a dot, in its own file",
		files: map[string]string{"environments/x.y.cue": cloudEnv("x.y", "", "")},
		want:  []found{{"environments/x.y.cue:3:22", "environment.name", "must not contain dots"}}, named: []string{"x.y"}},
	{name: "name with upper case and underscore",
		files: map[string]string{"environments/Acme_1.cue": cloudEnv("Acme_1", "", "")},
		want:  []found{{"environments/Acme_1.cue:3:25", "environment.name", `environment name "Acme_1" is not a DNS-1123 label`}}, named: []string{"Acme_1"}},
	{name: "name with a newline",
		files: map[string]string{"environments/bad.cue": cloudEnv("a\nb", "", "")},
		want:  []found{{"environments/bad.cue:3:23", "environment.name", `environment name "a\nb" is not a DNS-1123 label`}}, named: []string{"a\nb"}},
	{name: "name longer than 63",
		files: map[string]string{"environments/" + strings.Repeat("a", 64) + ".cue": cloudEnv(strings.Repeat("a", 64), "", "")},
		want:  []found{{"environments/" + strings.Repeat("a", 64) + ".cue:3:83", "environment.name", "must be no more than 63 characters"}}, named: []string{strings.Repeat("a", 64)}},
	// A name wrong in several ways is still one error.
	{name: "name too long and upper case",
		files: map[string]string{"environments/bad.cue": cloudEnv(strings.Repeat("0", 38)+"A"+strings.Repeat("0", 25), "", "")},
		want: []found{{"environments/bad.cue:3:83", "environment.name",
			"is not a DNS-1123 label: must be no more than 63 characters; a lowercase RFC 1123 label must consist of lower case alphanumeric characters"}},
		named: []string{strings.Repeat("0", 38) + "A" + strings.Repeat("0", 25)}},
	{name: "empty name",
		files: map[string]string{"environments/bad.cue": cloudEnv("", "", "")},
		want:  []found{{"environments/bad.cue:3:15", "environments.layout", "an environment name must not be empty"}}},
	{name: "computed name",
		files: map[string]string{"environments/bad.cue": "package environments\n\n_n: \"bad\"\nenvironments: \"\\(_n)\": {}\n"},
		want: []found{{"environments/bad.cue:3:1", "environments.isolation", "the hidden field _n at the top level"},
			{"environments/bad.cue:4:15", "environments.layout", "environment names must be literal strings"}}},
	{name: "pattern over every environment",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: [Name=_]: domain: Name\n"},
		want:  []found{{"environments/bad.cue:3:15", "environments.layout", "environment names must be literal strings"}}},
	{name: "comprehension",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: {for n in [\"bad\"] {(n): {}}}\n"},
		want:  []found{{"environments/bad.cue:3:16", "environments.layout", "environment names must be literal strings"}}},
	{name: "environments not a struct",
		files: map[string]string{"environments/bad.cue": "package environments\n\nenvironments: 5\n"},
		want:  []found{{"environments/bad.cue:3:15", "environments.layout", "environments must be a struct literal"}}},
	// Isolation: each environment file is a CUE instance of its own, so
	// nothing in one file may reach another environment; what would is
	// refused at its position.
	{name: "embedding that changes another environment",
		files: map[string]string{"environments/bad.cue": "package environments\n\n{environments: \"good\": services: mlflow: enabled: false}\n"},
		want:  []found{{"environments/bad.cue:3:1", "environments.isolation", "an embedding at the top level"}}},
	{name: "comprehension at the top level",
		files: map[string]string{"environments/bad.cue": "package environments\n\nif true {environments: good: domain: \"evil.example\"}\n"},
		want:  []found{{"environments/bad.cue:3:1", "environments.isolation", "a comprehension at the top level"}}},
	{name: "hidden field at the top level",
		files: map[string]string{"environments/bad.cue": "package environments\n\n_domain: \"bad.example\"\n"},
		want:  []found{{"environments/bad.cue:3:1", "environments.isolation", "the hidden field _domain at the top level"}}},
	{name: "definition at the top level",
		files: map[string]string{"environments/bad.cue": "package environments\n\n#Base: {profile: \"cloud\"}\n"},
		want:  []found{{"environments/bad.cue:3:1", "environments.isolation", "the definition #Base at the top level"}}},
	{name: "let at the top level",
		files: map[string]string{"environments/bad.cue": "package environments\n\nlet d = \"bad.example\"\nenvironments: bad: domain: d\n"},
		want:  []found{{"environments/bad.cue:3:1", "environments.isolation", "a let clause at the top level"}}},
	{name: "import of another package",
		files: map[string]string{"environments/bad.cue": "package environments\n\nimport \"example.com/shared\"\n\nenvironments: bad: shared.base\n"},
		want:  []found{{"environments/bad.cue:3:8", "environments.isolation", `import "example.com/shared": an environment file may import CUE's standard library and the project's schema and profiles only`}}},
	{name: "build attribute",
		files: map[string]string{"environments/bad.cue": "@if(prod)\n\npackage environments\n\nenvironments: bad: domain: \"bad.example\"\n"},
		want:  []found{{"environments/bad.cue:1:1", "environments.isolation", "the file-level attribute @if(prod)"}}},
	{name: "another top-level field",
		files: map[string]string{"environments/bad.cue": "package environments\n\nsettings: debug: true\n"},
		want:  []found{{"environments/bad.cue:3:1", "environments.layout", `field "settings" is not allowed at the top level`}}},

	// Names: files.
	{name: "environment in a file named otherwise",
		files: map[string]string{"environments/Other_File.cue": cloudEnv("bad", "", "")},
		want:  []found{{"environments/Other_File.cue:3:15", "environments.layout", `environment "bad" must be declared in environments/bad.cue, not in Other_File.cue`}}},
	{name: "file name katonic reserves",
		files: map[string]string{"environments/katonic_apply.cue": cloudEnv("bad", "", "")},
		want:  []found{{"environments/katonic_apply.cue:1:1", "environments.file", "katonic_apply.cue is a name katonic reserves"}}, named: []string{"katonic_apply", "good"}},
	{name: "duplicate environment across files",
		files: map[string]string{"environments/zz.cue": strings.Replace(corpusGood, "good.example", "other.example", 1)},
		want:  []found{{"environments/zz.cue:3:15", "environments.duplicate", `environment "good" is declared twice: also at environments/good.cue:3:15`}}, named: []string{"good", "zz"}},
	// The file named after the environment owns it, even when another
	// file sorts first.
	{name: "duplicate environment in a file sorting first",
		files: map[string]string{"environments/aa.cue": strings.Replace(corpusGood, "good.example", "other.example", 1)},
		want:  []found{{"environments/aa.cue:3:15", "environments.duplicate", `environment "good" is declared twice: also at environments/good.cue:3:15`}}, named: []string{"good", "aa"}},

	// Files that are not environment files.
	{name: "empty file",
		files: map[string]string{"environments/bad.cue": ""},
		want:  []found{{"environments/bad.cue:1:1", "environments.layout", "bad.cue is empty"}}},
	{name: "only a package clause",
		files: map[string]string{"environments/bad.cue": "package environments\n"},
		want:  []found{{"environments/bad.cue:1:1", "environments.layout", `bad.cue declares no environment: declare environments."bad" in it`}}},
	{name: "only imports",
		files: map[string]string{"environments/bad.cue": "package environments\n\nimport \"strings\"\n"},
		want:  []found{{"environments/bad.cue:1:1", "environments.layout", "bad.cue declares no environment"}}},
	{name: "no package clause",
		files: map[string]string{"environments/bad.cue": "environments: bad: {}\n"},
		want:  []found{{"environments/bad.cue:1:1", "environments.layout", "bad.cue has no package clause"}}},
	{name: "another package",
		files: map[string]string{"environments/bad.cue": "package other\n\nenvironments: bad: {}\n"},
		want:  []found{{"environments/bad.cue:1:9", "environments.layout", "bad.cue is in package other"}}},
	{name: "non-CUE file",
		files: map[string]string{"environments/notes.txt": "not CUE {{{\n"},
		want:  []found{{"environments/notes.txt:1:1", "environments.layout", "notes.txt is not a CUE file"}}, named: []string{"notes", "good"}},
	{name: "YAML environment",
		files: map[string]string{"environments/bad.yaml": "environments:\n  bad:\n    profile: cloud\n"},
		want:  []found{{"environments/bad.yaml:1:1", "environments.layout", "bad.yaml is not a CUE file"}}},
	{name: "directory named like an environment",
		files: map[string]string{"environments/bad/bad.cue": cloudEnv("bad", "", "")},
		want:  []found{{"environments/bad", "environments.layout", "environments/bad is a directory"}}},
	{name: "directory named like an environment file",
		files: map[string]string{"environments/bad.cue/x.cue": "package environments\n"},
		want:  []found{{"environments/bad.cue", "environments.layout", "environments/bad.cue is a directory"}}},
	{name: "hidden and underscore files are ignored, as by CUE",
		files: map[string]string{"environments/.gitkeep": "", "environments/_draft.cue": "not CUE {{{", "environments/.bad.cue": "{{{"},
		setup: func(t *testing.T, dir string) {
			// The corpus wants at least one error: add one elsewhere.
			write(t, filepath.Join(dir, "environments", "bad.cue"), "")
		},
		want: []found{{"environments/bad.cue:1:1", "environments.layout", "bad.cue is empty"}}},

	// Encoding.
	{name: "invalid UTF-8 in a string",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `"bad.example"`, "\"bad\xff.example\"")},
		want:  []found{{"environments/bad.cue:8:25", "environments.file", "bad.cue is not valid UTF-8 (byte 0xff)"}}},
	{name: "invalid UTF-8 in a comment",
		files: map[string]string{"environments/bad.cue": "package environments\n\n// caf\xe9\n" + cloudEnv("bad", "", "")[len("package environments\n\n"):]},
		want:  []found{{"environments/bad.cue:3:7", "environments.file", "bad.cue is not valid UTF-8 (byte 0xe9)"}}},
	{name: "UTF-16",
		files: map[string]string{"environments/bad.cue": "\xff\xfep\x00a\x00c\x00k\x00"},
		want:  []found{{"environments/bad.cue:1:1", "environments.file", "not valid UTF-8 (byte 0xff)"}}},

	// Size and depth.
	{name: "10 MB file",
		setup: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "environments", "big.cue"), hiddenFields(10<<20))
		},
		want: []found{{"environments/big.cue:1:1", "environments.file", "big.cue has 10485"}}, named: []string{"big", "good"}},
	{name: "one byte over the limit",
		setup: func(t *testing.T, dir string) {
			s := "package environments\n\n// "
			s += strings.Repeat("x", load.MaxFileSize-len(s)) + "\n"
			write(t, filepath.Join(dir, "environments", "big.cue"), s)
		},
		want: []found{{"environments/big.cue:1:1", "environments.file", "big.cue has 1048577 bytes"}}, named: []string{"big", "good"}},
	{name: "nesting deeper than CUE's parser allows",
		files: map[string]string{"environments/bad.cue": "package environments\n\n_x: " + strings.Repeat("{a: ", 100000) + "1" + strings.Repeat("}", 100000) + "\n"},
		want:  []found{{"environments/bad.cue:3:40002", "cue", "exceeds maximum nesting depth of 10000"}}},
	{name: "deep nesting in an unknown field",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tdomain:", "\tx: "+strings.Repeat("[", 9000)+strings.Repeat("]", 9000)+"\n\tdomain:")},
		want:  []found{{"environments/bad.cue:8:2", "schema", "field not allowed"}},
		named: []string{}}, // seconds under the race detector: once is enough

	// DNS.
	{name: "domain with a final dot",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `"bad.example"`, `"bad.example."`)},
		want:  []found{{"environments/bad.cue:8:21", "dns.name", "it must not end with a dot"}}},
	{name: "domain an IP address",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `"bad.example"`, `"10.0.0.1"`)},
		want:  []found{{"environments/bad.cue:8:21", "dns.name", "it is an IP address"}}},

	// Two installations cannot serve one host: each gets an error.
	{name: "domain of another environment",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `"bad.example"`, `"good.example"`)},
		want: []found{
			{"environments/bad.cue:8:21", "dns.unique", `domain "good.example": the FQDN good.example is also the FQDN of environment good (environments/good.cue:7:21)`},
			{"environments/good.cue:7:21", "dns.unique", `domain "good.example": the FQDN good.example is also the FQDN of environment bad (environments/bad.cue:8:21)`},
		},
		named: []string{}}, // alone, each is valid

	// Credentials never reach out/.
	{name: "chart mirror with credentials",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tdomain:", "\tcharts: mirror: \"https://admin:pw@charts.example\"\n\tdomain:")},
		want:  []found{{"environments/bad.cue:8:18", "mirror.credentials", `charts.mirror "https://admin:xxxxx@charts.example" carries credentials`}}},
	{name: "chart mirror with an escape sequence",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tdomain:", "\tcharts: mirror: \"https://charts.example\\u001b[2K/x\"\n\tdomain:")},
		want:  []found{{"environments/bad.cue:8:18", "mirror.url", `charts.mirror has the character U+001B at byte 22`}}},
	{name: "chart mirror with a token in its query",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tdomain:", "\tcharts: mirror: \"https://charts.example/x?token=abc\"\n\tdomain:")},
		want:  []found{{"environments/bad.cue:8:18", "mirror.credentials", `charts.mirror "https://charts.example/x?xxxxx" has a query string or fragment`}}},

	// Attributes that read files: the file could be any the process can
	// read, and its content would reach messages or out/.
	{name: "embed of a file",
		files: map[string]string{
			"environments/bad.cue": "@extern(embed)\n\npackage environments\n\nenvironments: bad: {domain: _ @embed(file=_x.txt, type=text)}\n",
			"environments/_x.txt":  "leaked-content\n",
		},
		want: []found{{"environments/bad.cue:1:1", "environments.attribute", "bad.cue uses @extern, which reads other files into the configuration"}}},
	{name: "embed without extern",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", `domain:            "bad.example"`, `domain:            _ @embed(file=_x.txt, type=text)`)},
		want:  []found{{"environments/bad.cue:8:23", "environments.attribute", "bad.cue uses @embed"}}},

	// Secrets no environment owns would never be deployed.
	{name: "secrets of an environment that does not exist",
		files: map[string]string{"secrets/ghost/db.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: application}\nstringData: {password: hunter2}\n"},
		want:  []found{{"secrets/ghost", "secrets.layout", "belongs to no environment: environments/ghost.cue does not exist"}},
		named: []string{}},
	{name: "a file beside the secrets folders",
		files: map[string]string{"secrets/db.yaml": "apiVersion: v1\nkind: Secret\n", "secrets/.sops.yaml": "creation_rules: []\n"},
		want:  []found{{"secrets/db.yaml", "secrets.layout", "is not in an environment's folder"}},
		named: []string{}},

	// A size of another cloud.
	{name: "vmSize of another provider",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "platform: {minNodes: 2, maxNodes: 2, cpu: 4, memoryGiB: 16}", `platform: {minNodes: 2, maxNodes: 2, vmSize: "Standard_D4s_v3"}`)},
		want:  []found{{"environments/bad.cue:10:48", "nodepool.vm-size-provider", `the platform pool's vmSize "Standard_D4s_v3" is a size of Azure, and this environment runs on AWS; "m5.xlarge" has the same 4 vCPU and 16 GiB`}}},

	// A waiver is reviewed by its reason, as reports print it.
	{name: "waiver reason with a carriage return",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tdomain:", "\twaivers: \"namespace-team-label\": \"ok\\rfine\"\n\tdomain:")},
		want:  []found{{"environments/bad.cue:8:35", "policy.waiver", `the waiver of policy "namespace-team-label" has the control character U+000D in its reason (byte 2)`}}},
	{name: "waiver with a blank reason",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "\tdomain:", "\twaivers: \"namespace-team-label\": \" \\t\"\n\tdomain:")},
		want:  []found{{"environments/bad.cue:8:35", "policy.waiver", `the waiver of policy "namespace-team-label" has a blank reason`}}},

	// Sizes no cluster has: bounded by the schema, so nothing downstream
	// computes with them (a platform pool of 2^63-1 vCPU made the render's
	// sizing loop for ever).
	{name: "platform cpu beyond any machine",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "platform: {minNodes: 2, maxNodes: 2, cpu: 4", "platform: {minNodes: 2, maxNodes: 2, cpu: 9223372036854775807")},
		want:  []found{{"environments/bad.cue:10:45", "schema", "9223372036854775807 is out of range: it must be at most 4096"}}},
	{name: "more nodes than Kubernetes supports",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "compute: {minNodes: 1, maxNodes: 2", "compute: {minNodes: 1, maxNodes: 6000")},
		want:  []found{{"environments/bad.cue:11:36", "schema", "6000 is out of range: it must be at most 5000"}}},

	// Values that become labels.
	{name: "gpuType not a label value",
		files: map[string]string{"environments/bad.cue": cloudEnv("bad", "nodePools: {", "nodePools: {\n\t\tgpu: {minNodes: 0, maxNodes: 1, cpu: 8, memoryGiB: 16, bootDiskGiB: 512, gpuType: \"Tesla V100\"}")},
		want:  []found{{"environments/bad.cue:10:85", "label.value", `gpuType "Tesla V100" becomes the value of the node label and taint`}}},

	// Networks Azure refuses.
	{name: "vnet of every address",
		files: map[string]string{"environments/bad.cue": `package environments

environments: bad: {
	profile:           "azure-private"
	platformVersion:   "5.0.9"
	kubernetesVersion: "1.29.5"
	domain:            "bad.example"
	nodePools: {
		platform: {minNodes: 2, maxNodes: 3, vmSize: "Standard_DS3_v2"}
		compute: {minNodes: 1, maxNodes: 10, vmSize: "Standard_D8s_v3"}
	}
	network: {
		vnetCIDR:           "0.0.0.0/0"
		clusterSubnetCIDR:  "10.20.0.0/23"
		jumphostSubnetCIDR: "10.20.8.0/29"
	}
}
`},
		want: []found{{"environments/bad.cue:13:23", "azure.reserved-range", "vnetCIDR 0.0.0.0/0 overlaps 224.0.0.0/4 (multicast), which Azure does not allow in a virtual network"}}},
}

// corpusSpecial are the cases that need the operating system's help.
var corpusSpecial = []corpusCase{
	{name: "named pipe",
		setup: func(t *testing.T, dir string) {
			if err := mkfifo(filepath.Join(dir, "environments", "bad.cue")); err != nil {
				t.Skip("no named pipes here:", err)
			}
		},
		want: []found{{"environments/bad.cue", "environments.file", "bad.cue is a named pipe, not a regular file"}}},
	// A newline in a file name could forge lines of a CI log: the name is
	// quoted, the error placed at the directory.
	{name: "file name with a newline",
		setup: func(t *testing.T, dir string) {
			if runtime.GOOS == "windows" {
				t.Skip("no newlines in Windows file names")
			}
			write(t, filepath.Join(dir, "environments", "bad\n.cue"), cloudEnv("bad", "", ""))
		},
		want:  []found{{"environments", "environments.layout", `environments/ has an entry named "bad\n.cue": file names must be printable UTF-8`}},
		named: []string{"good"}},
	{name: "symlink to /dev/zero",
		setup: func(t *testing.T, dir string) {
			if _, err := os.Stat("/dev/zero"); err != nil {
				t.Skip("no /dev/zero here")
			}
			if err := os.Symlink("/dev/zero", filepath.Join(dir, "environments", "bad.cue")); err != nil {
				t.Skip("no symlinks here:", err)
			}
		},
		// Refused before it is opened: it resolves out of the repository.
		want: []found{{"environments/bad.cue", "environments.layout", "bad.cue is a symbolic link to /dev/zero, outside the repository"}}},
	{name: "symlink to a file out of the repository",
		setup: func(t *testing.T, dir string) {
			elsewhere, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(elsewhere, "bad.cue"), cloudEnv("bad", "", ""))
			if err := os.Symlink(filepath.Join(elsewhere, "bad.cue"), filepath.Join(dir, "environments", "bad.cue")); err != nil {
				t.Skip("no symlinks here:", err)
			}
		},
		want: []found{{"environments/bad.cue", "environments.layout", "bad.cue is a symbolic link to "}}},
	{name: "dangling symlink",
		setup: func(t *testing.T, dir string) {
			if err := os.Symlink(filepath.Join(dir, "nowhere.cue"), filepath.Join(dir, "environments", "bad.cue")); err != nil {
				t.Skip("no symlinks here:", err)
			}
		},
		want: []found{{"environments/bad.cue", "environments.file", "cannot read bad.cue:"}}},
	{name: "unreadable file",
		setup: func(t *testing.T, dir string) {
			if runtime.GOOS == "windows" || os.Geteuid() == 0 {
				t.Skip("file modes do not stop this user from reading")
			}
			p := filepath.Join(dir, "environments", "bad.cue")
			write(t, p, cloudEnv("bad", "", ""))
			if err := os.Chmod(p, 0); err != nil {
				t.Fatal(err)
			}
		},
		want: []found{{"environments/bad.cue:1:1", "environments.file", "cannot read bad.cue: permission denied"}}},
}

// hiddenFields is an environment file of about n bytes of hidden fields:
// valid CUE that takes CUE's evaluator seconds at 10 MB.
func hiddenFields(n int) string {
	var b strings.Builder
	b.WriteString("package environments\n\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "_h%d: %q\n", i, strings.Repeat("y", 100))
	}
	return b.String()
}

func write(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot reads every file under dir.
func snapshot(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// renderOnce is what `katonic render` does: compile, and write only a
// render that succeeded.
func renderOnce(dir string, envs ...string) (*compile.Result, error) {
	res, err := compile.Compile(compile.Options{Dir: dir, Envs: envs, Render: true})
	if err != nil {
		return res, err
	}
	_, err = outdir.Write(filepath.Join(dir, "out"), res.Files, res.Scope)
	return res, err
}

// TestCorpus renders a good repository, adds each broken input of issue
// #5 to a copy of it and renders again: every case must fail as invalid
// configuration (exit 1, never an unknown environment), with exactly the
// listed diagnostics — positioned relative to the repository, one line
// each — within a few seconds and without reading more than a bounded
// amount, and leave out/ byte for byte as it was.
func TestCorpus(t *testing.T) {
	base := testrepo.New(t, repoRoot, map[string]string{"environments/good.cue": corpusGood})
	if res, err := renderOnce(base); err != nil {
		t.Fatalf("rendering the good repository: %v\n%v", err, res.Diags)
	}
	cases := append(append([]corpusCase(nil), corpus...), corpusSpecial...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := testrepo.CopyDir(base, dir); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, filepath.Join(dir, "out"))
			for name, body := range tc.files {
				write(t, filepath.Join(dir, filepath.FromSlash(name)), body)
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}

			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			start := time.Now()
			res, err := renderOnce(dir)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&m1)
			budget := 5 * time.Second
			if raceEnabled {
				budget *= 10
			}
			if elapsed > budget {
				t.Errorf("render took %v; bad input must fail within a few seconds", elapsed)
			}
			if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 512<<20 {
				t.Errorf("render allocated %d MiB", alloc>>20)
			}
			if !errors.Is(err, compile.ErrInvalid) {
				t.Fatalf("render: want the configuration to be invalid (exit 1), got %v", err)
			}
			if len(res.Files) != 0 {
				t.Errorf("an invalid configuration rendered %d files", len(res.Files))
			}
			checkDiags(t, dir, res.Diags, tc.want)
			sameDiags(t, dir, res.Diags)

			named := tc.named
			if named == nil {
				named = []string{"bad"}
				if loadLevel(tc.want) {
					named = append(named, "good")
				}
			}
			for _, n := range named {
				nres, err := renderOnce(dir, n)
				var unknown *compile.UnknownEnvError
				switch {
				case errors.As(err, &unknown):
					t.Errorf("render %s: %v (exit 2); the broken input must be reported (exit 1)", n, err)
				case !errors.Is(err, compile.ErrInvalid):
					t.Errorf("render %s: want the configuration to be invalid, got %v", n, err)
				default:
					checkDiags(t, dir, nres.Diags, tc.want)
				}
			}

			after := snapshot(t, filepath.Join(dir, "out"))
			if len(after) != len(before) {
				t.Errorf("out/ has %d files, had %d", len(after), len(before))
			}
			for p, b := range before {
				if !bytes.Equal(after[p], b) {
					t.Errorf("%s changed", p)
				}
			}
		})
	}
}

// sameDiags: a render builds the environments itself (compile's
// buildAndValidate, on the load's builder for a few of them), vet lets the
// load build them, and a render forced onto builders of its own, retired
// after each environment, builds them on every core: all three must find
// exactly the diagnostics got.
func sameDiags(t *testing.T, dir string, got diag.List) {
	t.Helper()
	vet, err := compile.Compile(compile.Options{Dir: dir})
	if !errors.Is(err, compile.ErrInvalid) || !reflect.DeepEqual(vet.Diags, got) {
		t.Errorf("vet (the load's builds) gave %v and\n%v\nwhere render gave\n%v", err, vet.Diags, got)
	}
	t.Run("parallel", func(t *testing.T) {
		compile.ForceParallelBuilds(t)
		par, err := compile.Compile(compile.Options{Dir: dir, Render: true})
		if !errors.Is(err, compile.ErrInvalid) || !reflect.DeepEqual(par.Diags, got) {
			t.Errorf("a render on builders of its own gave %v and\n%v\nwhere render gave\n%v", err, par.Diags, got)
		}
	})
}

// loadLevel tells whether every diagnostic of want is the load's: about
// files and layout, not about one environment's values.
func loadLevel(want []found) bool {
	for _, w := range want {
		if w.rule != "cue" && !strings.HasPrefix(w.rule, "environments.") {
			return false
		}
	}
	return true
}

// checkDiags wants exactly the diagnostics want, errors, in order.
// internalWords are what a message a user reads must not hold: issue
// numbers, Go identifiers of a package (netip.ParsePrefix, strconv.Atoi),
// CUE's raw bound and regular-expression notation, and Go's panics.
var internalWords = regexp.MustCompile(`(?i)issue #?\d+|\b(netip|strconv|json|yaml|cue|ast|os|filepath|fmt|errors|load|validate|compile)\.[A-Z]\w*|out of bound|=~|runtime error|panic:|goroutine \d+`)

func checkDiags(t *testing.T, dir string, got diag.List, want []found) {
	t.Helper()
	var lines []string
	for _, d := range got {
		lines = append(lines, d.Format(dir))
	}
	all := strings.Join(lines, "\n")
	if len(got) != len(want) {
		t.Fatalf("%d diagnostics, want %d:\n%s", len(got), len(want), all)
	}
	for i, d := range got {
		line := d.Format(dir)
		if strings.ContainsAny(line, "\n\r") {
			t.Errorf("diagnostic is not one line: %q", line)
		}
		if d.Severity != diag.Error {
			t.Errorf("not an error: %s", line)
		}
		if filepath.IsAbs(d.Pos.String(dir)) || strings.HasPrefix(d.Pos.String(dir), "..") {
			t.Errorf("position not relative to the repository: %s", line)
		}
		if internal := internalWords.FindString(line); internal != "" {
			t.Errorf("diagnostic speaks katonic's or a library's internals (%q), not the user's words: %s", internal, line)
		}
		w := want[i]
		if d.Pos.String(dir) != w.pos || d.Rule != w.rule || !strings.Contains(d.Message, w.msg) {
			t.Errorf("diagnostic %d:\n got %s\nwant %s: error: ...%s... [rule %s; ...]", i, line, w.pos, w.msg, w.rule)
		}
	}
}
