package diff

import (
	"encoding/json"
	"io"
)

// WriteJSON writes r as one indented JSON document (two spaces, a final
// newline) in the schema of the package comment, versioned by
// schemaVersion. HTML characters are not escaped, so messages read as
// written. It returns an encoding error or the first error of w.
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	if out.Envs == nil {
		out.Envs = []EnvDiff{}
	}
	if out.SchemaVersion == 0 {
		out.SchemaVersion = SchemaVersion
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
