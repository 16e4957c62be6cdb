package installer

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/katonic/katonic/internal/render"
)

// Report says what became of every key of an installer file. No entry
// holds a credential's value; Adjusted.From holds the installer's value of
// a non-credential key. Entries are sorted by line, column and key (Added
// by field). JSON: {"schemaVersion": 1, "file", "format", "environment",
// "output", "mapped", "adjusted", "added", "unmapped", "credentials",
// "secrets", "warnings"}.
type Report struct {
	SchemaVersion int    `json:"schemaVersion"`
	File          string `json:"file"`
	Format        Format `json:"format"`
	Environment   string `json:"environment"`
	// Output is the file written, "" when the CUE went to stdout.
	Output   string     `json:"output"`
	Mapped   []Mapped   `json:"mapped"`
	Adjusted []Adjusted `json:"adjusted"`
	Added    []Added    `json:"added"`
	Unmapped []Unmapped `json:"unmapped"`
	// Credentials are the installer keys that hold a credential: never
	// copied, each with the Secret and key its value belongs in, or why it
	// has none.
	Credentials []Credential `json:"credentials"`
	// Secrets are the Secrets the imported environment needs (its render's
	// render.SecretRef list), each with the installer keys that supply it.
	Secrets []Secret `json:"secrets"`
	// Warnings are the vet warnings of the imported environment, formatted
	// as katonic vet prints them.
	Warnings []string `json:"warnings"`
}

// Mapped is an installer key whose value became a field of the
// environment (Field, a path under environments."<name>").
type Mapped struct {
	Key    string `json:"key"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Field  string `json:"field"`
	Note   string `json:"note,omitempty"`
}

// Adjusted is a value changed to follow one of katonic's rules: the
// installer's From became To; Rule and Source say which rule and where it
// comes from. Key is "" when the value was derived, not read.
type Adjusted struct {
	Key    string `json:"key"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Field  string `json:"field"`
	From   string `json:"from"`
	To     string `json:"to"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	Source string `json:"source"`
}

// Added is a field the installer file does not give and katonic needs.
type Added struct {
	Field  string `json:"field"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
	Source string `json:"source"`
}

// Unmapped is an installer key with no field in the environment, and why.
type Unmapped struct {
	Key    string `json:"key"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Reason string `json:"reason"`
}

// Credential is an installer key holding a credential. Its value is never
// copied. Secret ("namespace/name") and SecretKey say where the operator
// puts it; Reason says why it goes nowhere when Secret is "".
type Credential struct {
	Key       string `json:"key"`
	Line      int    `json:"line"`
	Column    int    `json:"column"`
	Empty     bool   `json:"empty"`
	Secret    string `json:"secret,omitempty"`
	SecretKey string `json:"secretKey,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Secret is one Secret the environment's render references (Namespace,
// Name, data Keys, the Service that needs it, its Purpose), with the
// installer keys (From) whose values go into it.
type Secret struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Keys      []string `json:"keys"`
	Service   string   `json:"service,omitempty"`
	Purpose   string   `json:"purpose"`
	From      []string `json:"from"`
}

func (r *Report) sort() {
	type pos struct {
		line, col int
		key       string
	}
	less := func(a, b pos) bool {
		if a.line != b.line {
			return a.line < b.line
		}
		if a.col != b.col {
			return a.col < b.col
		}
		return a.key < b.key
	}
	sort.SliceStable(r.Mapped, func(i, j int) bool {
		a, b := r.Mapped[i], r.Mapped[j]
		if a.Line == b.Line && a.Key == b.Key {
			return a.Field < b.Field
		}
		return less(pos{a.Line, a.Column, a.Key}, pos{b.Line, b.Column, b.Key})
	})
	sort.SliceStable(r.Adjusted, func(i, j int) bool {
		a, b := r.Adjusted[i], r.Adjusted[j]
		if a.Line == b.Line && a.Key == b.Key {
			return a.Field < b.Field
		}
		return less(pos{a.Line, a.Column, a.Key}, pos{b.Line, b.Column, b.Key})
	})
	sort.SliceStable(r.Added, func(i, j int) bool { return r.Added[i].Field < r.Added[j].Field })
	sort.SliceStable(r.Unmapped, func(i, j int) bool {
		a, b := r.Unmapped[i], r.Unmapped[j]
		return less(pos{a.Line, a.Column, a.Key}, pos{b.Line, b.Column, b.Key})
	})
	sort.SliceStable(r.Credentials, func(i, j int) bool {
		a, b := r.Credentials[i], r.Credentials[j]
		return less(pos{a.Line, a.Column, a.Key}, pos{b.Line, b.Column, b.Key})
	})
}

// SetSecrets fills r.Secrets from the Secrets the imported environment's
// render references, naming for each the installer credential keys whose
// values go into it. A credential whose Secret the render does not
// reference gets a Reason saying so.
func (r *Report) SetSecrets(refs []render.SecretRef) {
	r.Secrets = nil
	have := map[string]bool{}
	for _, ref := range refs {
		id := ref.Namespace + "/" + ref.Name
		have[id] = true
		s := Secret{Namespace: ref.Namespace, Name: ref.Name, Keys: append([]string{}, ref.Keys...),
			Service: ref.Service, Purpose: ref.Purpose, From: []string{}}
		for _, c := range r.Credentials {
			if c.Secret == id {
				s.From = append(s.From, c.Key)
			}
		}
		r.Secrets = append(r.Secrets, s)
	}
	sort.SliceStable(r.Secrets, func(i, j int) bool {
		a, b := r.Secrets[i], r.Secrets[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	for i, c := range r.Credentials {
		if c.Secret != "" && !have[c.Secret] && c.Reason == "" {
			r.Credentials[i].Reason = "the imported environment's render does not reference " + c.Secret + " (its service is off, or this katonic does not render it yet)"
		}
	}
}

// WriteJSON writes r as indented JSON (HTML characters unescaped) to w.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for people: a heading, then one section per kind of
// entry, each line starting with FILE:LINE:COLUMN where there is one.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	to := r.Output
	if to == "" {
		to = "stdout"
	}
	fmt.Fprintf(&b, "%s: %s\n", r.File, r.Format.Describe())
	fmt.Fprintf(&b, "environment %s -> %s\n", r.Environment, to)
	at := func(line, col int) string { return fmt.Sprintf("%s:%d:%d", r.File, line, col) }

	fmt.Fprintf(&b, "\nmapped (%d):\n", len(r.Mapped))
	for _, m := range r.Mapped {
		fmt.Fprintf(&b, "  %s: %s -> %s", at(m.Line, m.Column), m.Key, m.Field)
		if m.Note != "" {
			fmt.Fprintf(&b, " (%s)", m.Note)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\nadjusted to katonic's rules (%d):\n", len(r.Adjusted))
	for _, a := range r.Adjusted {
		b.WriteString("  ")
		if a.Key != "" {
			fmt.Fprintf(&b, "%s: %s -> ", at(a.Line, a.Column), a.Key)
		}
		fmt.Fprintf(&b, "%s: %s, not %s: %s [rule %s; %s]\n", a.Field, a.To, a.From, a.Reason, a.Rule, a.Source)
	}
	fmt.Fprintf(&b, "\nadded (%d):\n", len(r.Added))
	for _, a := range r.Added {
		fmt.Fprintf(&b, "  %s: %s: %s [%s]\n", a.Field, a.Value, a.Reason, a.Source)
	}
	fmt.Fprintf(&b, "\nunmapped (%d):\n", len(r.Unmapped))
	for _, u := range r.Unmapped {
		fmt.Fprintf(&b, "  %s: %s: %s\n", at(u.Line, u.Column), u.Key, u.Reason)
	}
	fmt.Fprintf(&b, "\ncredentials, not copied (%d):\n", len(r.Credentials))
	for _, c := range r.Credentials {
		fmt.Fprintf(&b, "  %s: %s", at(c.Line, c.Column), c.Key)
		if c.Empty {
			b.WriteString(" (empty)")
		}
		if c.Secret != "" {
			fmt.Fprintf(&b, ": goes into Secret %s, key %s", c.Secret, c.SecretKey)
		}
		if c.Reason != "" {
			fmt.Fprintf(&b, ": %s", c.Reason)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\nSecrets to create before Flux reconciles (%d):\n", len(r.Secrets))
	for _, s := range r.Secrets {
		fmt.Fprintf(&b, "  %s/%s [%s]: %s", s.Namespace, s.Name, strings.Join(s.Keys, ", "), s.Purpose)
		if len(s.From) > 0 {
			fmt.Fprintf(&b, "; the installer's %s goes into it", strings.Join(s.From, ", "))
		}
		b.WriteByte('\n')
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\nvet warnings (%d):\n", len(r.Warnings))
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
