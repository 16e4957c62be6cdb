package diff

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/katonic/katonic/internal/config"
)

// onlyEnvs returns the part of s of the environments keep holds.
func onlyEnvs(s Side, keep map[string]bool) Side {
	out := Side{Files: map[string][]byte{}, Envs: map[string]*config.Environment{}}
	for p, b := range s.Files {
		if env, _, _, ok := classify(p); ok && keep[env] {
			out.Files[p] = b
		}
	}
	for n, e := range s.Envs {
		if keep[n] {
			out.Envs[n] = e
		}
	}
	return out
}

// shardReports compares the origin scenario whole and in two shards (by
// hand: acme-azure and ghost in 1/2, the rest in 2/2), each through JSON
// as CI jobs pass them on.
func shardReports(t *testing.T) (whole *Report, shards []*Report) {
	t.Helper()
	old, rendered, cur := originScenario(t)
	whole, err := Compare(old, cur, Options{OldRendered: &rendered})
	if err != nil {
		t.Fatal(err)
	}
	whole.Mode, whole.Base = ModeCommitted, "main"
	for i, envs := range []map[string]bool{
		{"acme-azure": true, "ghost": true},
		{"globex-cloud": true, "tesla-onprem": true},
	} {
		r := onlyEnvs(rendered, envs)
		rep, err := Compare(onlyEnvs(old, envs), onlyEnvs(cur, envs), Options{OldRendered: &r})
		if err != nil {
			t.Fatal(err)
		}
		rep.Mode, rep.Base, rep.Shard = ModeCommitted, "main", []string{"1/2", "2/2"}[i]
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		back, err := ReadJSON(&b)
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, back)
	}
	return whole, shards
}

func TestMerge(t *testing.T) {
	whole, shards := shardReports(t)
	merged, err := Merge([]*Report{shards[1], shards[0]})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(merged, whole) {
		t.Errorf("merged shards differ from the whole report:\nmerged %+v\nwhole  %+v", merged, whole)
	}
	// What the shards carry beyond objects: a kustomize file with its
	// origin (acme-azure, shard 1/2) and removed environments with their
	// environment risk and origin (ghost in 1/2, tesla-onprem in 2/2).
	envRisks := map[string]string{}
	for _, e := range merged.Envs {
		for _, x := range e.Risks {
			envRisks[e.Name] = x.Class + " " + e.Origin
		}
		for _, f := range e.Files {
			if f.Origin != OriginKatonic {
				t.Errorf("merged %s: origin %q, want %q", f.File, f.Origin, OriginKatonic)
			}
		}
	}
	if merged.FileCount() != 1 {
		t.Errorf("merged report: %d kustomize files, want 1", merged.FileCount())
	}
	if want := map[string]string{"ghost": "environment katonic", "tesla-onprem": "environment configuration"}; !reflect.DeepEqual(envRisks, want) {
		t.Errorf("merged environment risks %v, want %v", envRisks, want)
	}
	mt, mm, mj := outputs(t, merged)
	wt, wm, wj := outputs(t, whole)
	if mt != wt || mm != wm || mj != wj {
		t.Error("the merged report's outputs differ from the whole report's")
	}
	if shards[0].Shard != "1/2" {
		t.Errorf("Merge changed its input: shard %q", shards[0].Shard)
	}
	text, md, _ := outputs(t, shards[0])
	if !strings.HasPrefix(text, "committed out/ at main → the working tree rendered by this katonic (shard 1/2 of the environments)\n") {
		t.Errorf("a shard's text does not say which shard it is:\n%s", text)
	}
	if !strings.Contains(md, "what the cluster gets. Shard 1/2 of the environments.\n") {
		t.Errorf("a shard's Markdown does not say which shard it is:\n%s", md)
	}
}

func TestMergeAttribution(t *testing.T) {
	_, shards := shardReports(t)
	shards[1].Attribution, shards[1].Note = AttributionUnavailable, "the configuration at main does not render with this katonic"
	shards[0].Note = shards[1].Note
	merged, err := Merge(shards)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Attribution != AttributionUnavailable || merged.Note != shards[1].Note {
		t.Errorf("attribution %q, note %q: want unavailable and the note once", merged.Attribution, merged.Note)
	}
}

func TestMergeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(a, b *Report) []*Report
		want string
	}{
		{"none", func(a, b *Report) []*Report { return nil }, "no reports to merge"},
		{"missing", func(a, b *Report) []*Report { return []*Report{a} }, "shard 2/2 missing: the merged report would leave out its environments"},
		{"twice", func(a, b *Report) []*Report { return []*Report{a, b, a} }, "shard 1/2 is given twice"},
		{"not a shard", func(a, b *Report) []*Report { b.Shard = ""; return []*Report{a, b} }, "report 2 is not of a shard"},
		{"bad shard", func(a, b *Report) []*Report { b.Shard = "3/2"; return []*Report{a, b} }, `report 2: shard "3/2": want K/N`},
		{"other split", func(a, b *Report) []*Report { b.Shard = "2/3"; return []*Report{a, b} }, "split the fleet differently"},
		{"other base", func(a, b *Report) []*Report { b.Base = "develop"; return []*Report{a, b} }, "shard 1/2 compares committed from main, shard 2/2 committed from develop: reports of different diffs cannot be merged"},
		{"other mode", func(a, b *Report) []*Report { b.Mode = ModeSameKatonic; return []*Report{a, b} }, "reports of different diffs cannot be merged"},
		{"environment twice", func(a, b *Report) []*Report { b.Envs = append(b.Envs, a.Envs[0]); return []*Report{a, b} }, "environment acme-azure is in shard 1/2 and in shard 2/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, shards := shardReports(t)
			_, err := Merge(tc.edit(shards[0], shards[1]))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestReadJSONErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "not a katonic diff report (JSON)"},
		{"### katonic diff\n", "not a katonic diff report (JSON)"},
		{`{"schemaVersion": 2, "environments": []}`, "schemaVersion 2: this katonic reads schemaVersion 1"},
		{`{"schemaVersion": 1}`, `no "environments"`},
		{`{"schemaVersion": 1, "environments": []} {}`, "more than one JSON document"},
		{`{"schemaVersion": 1, "environments": [{"name": ""}]}`, "an environment without a name"},
		{`{"schemaVersion": 1, "environments": [{"name": "a", "objects": [{"environment": "b", "kind": "Namespace", "name": "x"}]}]}`, `environment a holds Namespace/x of environment "b"`},
		{`{"schemaVersion": 1, "environments": [{"name": "a", "files": [{"file": "environments/b/platform/kustomization.yaml", "change": "changed"}]}]}`, `environment a holds kustomize file "environments/b/platform/kustomization.yaml", not one of its files`},
		{`{"schemaVersion": 1, "environments": [{"name": "a", "files": [{"file": "kustomization.yaml", "change": "added"}]}]}`, `environment a holds kustomize file "kustomization.yaml"`},
	} {
		_, err := ReadJSON(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadJSON(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}
