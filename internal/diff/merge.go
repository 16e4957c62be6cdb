package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// ReadJSON reads a report written by WriteJSON. It returns an error when r
// does not hold one JSON document, when its schemaVersion is not
// SchemaVersion (a report of another major version of the schema may mean
// other things by the same fields), when "environments" is missing, or when
// an environment has no name or holds an object or a kustomize file of
// another environment (a file's environment is the second element of its
// path, as Compare reads it).
// Fields this katonic does not know are ignored, as schemaVersion allows.
func ReadJSON(r io.Reader) (*Report, error) {
	var raw struct {
		Report
		Envs *[]EnvDiff `json:"environments"`
	}
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a katonic diff report (JSON): %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("not a katonic diff report: more than one JSON document")
	}
	if raw.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("schemaVersion %d: this katonic reads schemaVersion %d", raw.SchemaVersion, SchemaVersion)
	}
	if raw.Envs == nil {
		return nil, fmt.Errorf("not a katonic diff report: no \"environments\"")
	}
	rep := raw.Report
	rep.Envs = *raw.Envs
	for _, e := range rep.Envs {
		if e.Name == "" {
			return nil, fmt.Errorf("an environment without a name")
		}
		for _, o := range e.Objects {
			if o.Env != e.Name {
				return nil, fmt.Errorf("environment %s holds %s of environment %q", e.Name, o.Ref(), o.Env)
			}
		}
		for _, f := range e.Files {
			if env, _, _, ok := classify(path.Clean(f.File)); !ok || env != e.Name {
				return nil, fmt.Errorf("environment %s holds kustomize file %q, not one of its files", e.Name, f.File)
			}
		}
	}
	return &rep, nil
}

// Merge joins the reports of the N shards of one diff (`katonic diff
// --shard K/N`, say one per CI job) into the report of the whole fleet, as
// one diff without --shard would have written it: the environments of all
// shards in name order, Shard "". It returns an error, and nothing else,
// when the reports cannot be the shards of one diff:
//   - a report is of no shard, or of another N than the first;
//   - a shard is given twice, or one of 1..N is missing (its environments
//     would be silently left out);
//   - the reports compare other sides (Mode, Base or Head differ);
//   - an environment is in two reports.
//
// Attribution is the shards' when they agree, else AttributionUnavailable
// (the old configuration rendered in some shards and not in others; each
// object keeps the origin its shard gave it). Notes are joined, each once,
// in shard order. The reports are not changed.
func Merge(reports []*Report) (*Report, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("no reports to merge")
	}
	first := reports[0]
	byIndex := map[int]*Report{}
	of := 0
	for i, r := range reports {
		k, n, ok := parseShard(r.Shard)
		switch {
		case !ok && r.Shard == "":
			return nil, fmt.Errorf("report %d is not of a shard (katonic diff --shard K/N writes the reports to merge)", i+1)
		case !ok:
			return nil, fmt.Errorf("report %d: shard %q: want K/N", i+1, r.Shard)
		case i == 0:
			of = n
		case n != of:
			return nil, fmt.Errorf("shard %s and shard %s split the fleet differently: reports of one diff have the same N", first.Shard, r.Shard)
		}
		if byIndex[k] != nil {
			return nil, fmt.Errorf("shard %s is given twice", r.Shard)
		}
		byIndex[k] = r
		if r.Mode != first.Mode || r.Base != first.Base || r.Head != first.Head {
			return nil, fmt.Errorf("shard %s compares %s, shard %s %s: reports of different diffs cannot be merged", first.Shard, first.describe(), r.Shard, r.describe())
		}
	}
	var missing []string
	for k := 1; k <= of; k++ {
		if byIndex[k] == nil {
			missing = append(missing, fmt.Sprintf("%d/%d", k, of))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("shard %s missing: the merged report would leave out its environments", strings.Join(missing, ", "))
	}
	out := &Report{SchemaVersion: SchemaVersion, Mode: first.Mode, Base: first.Base, Head: first.Head,
		Attribution: first.Attribution, Envs: []EnvDiff{}}
	var notes []string
	seenNote := map[string]bool{}
	owner := map[string]string{}
	for k := 1; k <= of; k++ {
		r := byIndex[k]
		if r.Attribution != out.Attribution {
			out.Attribution = AttributionUnavailable
		}
		if r.Note != "" && !seenNote[r.Note] {
			seenNote[r.Note] = true
			notes = append(notes, r.Note)
		}
		for _, e := range r.Envs {
			if prev, dup := owner[e.Name]; dup {
				return nil, fmt.Errorf("environment %s is in shard %s and in shard %s", e.Name, prev, r.Shard)
			}
			owner[e.Name] = r.Shard
			out.Envs = append(out.Envs, e)
		}
	}
	out.Note = strings.Join(notes, "; ")
	sort.Slice(out.Envs, func(i, j int) bool { return out.Envs[i].Name < out.Envs[j].Name })
	return out, nil
}

// describe names the sides of r for Merge's errors.
func (r *Report) describe() string {
	var b bytes.Buffer
	if r.Mode == "" {
		b.WriteString("unnamed sides")
	} else {
		b.WriteString(r.Mode)
	}
	if r.Base != "" {
		fmt.Fprintf(&b, " from %s", r.Base)
	}
	if r.Head != "" {
		fmt.Fprintf(&b, " to %s", r.Head)
	}
	return b.String()
}

// parseShard parses "K/N" (1 <= K <= N), as Report.Shard holds it.
func parseShard(s string) (k, n int, ok bool) {
	if _, err := fmt.Sscanf(s, "%d/%d", &k, &n); err != nil || fmt.Sprintf("%d/%d", k, n) != s {
		return 0, 0, false
	}
	return k, n, n >= 1 && k >= 1 && k <= n
}
