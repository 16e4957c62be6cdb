package diff

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// originScenario returns the three sides of an attributed diff: old is the
// output committed at a revision, rendered by an older katonic; rendered
// is that revision's configuration rendered by this katonic; cur the
// working tree's render. Starting from the examples' render on all three:
//   - katonic alone: the older katonic gave postgres one retry (changed),
//     did not render the airbyte Namespace (added), left redis.yaml out of
//     the platform's kustomization.yaml (a kustomize file changed) and left
//     a stale environment "ghost" (removed, environment and objects);
//   - the configuration alone: Superset's host changed, and tesla-onprem
//     is removed;
//   - both: the older katonic gave katonic-ui an interval of 10m, and the
//     configuration changed its timeout; it gave tesla-onprem's postgres
//     one retry, and the configuration removed it with its environment.
func originScenario(t *testing.T) (old, rendered, cur Side) {
	t.Helper()
	old, rendered, cur = base(t), base(t), base(t)
	replace(t, old, acmePostgres, "retries: 3", "retries: 1", 1)
	dropDoc(t, old, acmeNS, func(d string) bool { return strings.Contains(d+"\n", "  name: airbyte\n") })
	replace(t, old, acmeKPlat, "- redis.yaml\n", "", 1)
	renameEnv(old, "globex-cloud", "ghost")
	replace(t, cur, acmeSuperset, "dash-katonic.acme.example", "dash.katonic.acme.example", -1)
	replace(t, old, acmeUI, "interval: 30m0s", "interval: 10m0s", 1)
	replace(t, cur, acmeUI, "timeout: 15m0s", "timeout: 20m0s", 1)
	replace(t, old, teslaPG, "retries: 3", "retries: 1", 1)
	removeEnv(cur, "tesla-onprem")
	return old, rendered, cur
}

func TestOrigin(t *testing.T) {
	old, rendered, cur := originScenario(t)
	rep, err := Compare(old, cur, Options{OldRendered: &rendered})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Attribution != AttributionDone {
		t.Errorf("Attribution = %q, want %q", rep.Attribution, AttributionDone)
	}
	want := map[string]string{
		"acme-azure HelmRelease/flux-system/postgres":   OriginKatonic,
		"acme-azure Namespace/airbyte":                  OriginKatonic,
		"acme-azure HelmRelease/flux-system/superset":   OriginConfiguration,
		"acme-azure HelmRelease/flux-system/katonic-ui": OriginBoth,
	}
	envOrigin := map[string]string{"acme-azure": "", "ghost": OriginKatonic, "tesla-onprem": OriginConfiguration}
	ghost, tesla := 0, 0
	for _, e := range rep.Envs {
		if w, ok := envOrigin[e.Name]; !ok || e.Origin != w {
			t.Errorf("environment %s %s: origin %q, want %q", e.Name, e.Change, e.Origin, w)
		}
		for _, o := range e.Objects {
			switch {
			case e.Name == "ghost":
				ghost++
				if o.Origin != OriginKatonic || o.Change != ChangeRemoved {
					t.Errorf("ghost %s: %s, origin %q; want removed, %q", o.Ref(), o.Change, o.Origin, OriginKatonic)
				}
				continue
			case e.Name == "tesla-onprem":
				tesla++
				w := OriginConfiguration
				if o.Ref() == "HelmRelease/flux-system/postgres" {
					w = OriginBoth
				}
				if o.Origin != w || o.Change != ChangeRemoved {
					t.Errorf("tesla-onprem %s: %s, origin %q; want removed, %q", o.Ref(), o.Change, o.Origin, w)
				}
				continue
			}
			k := e.Name + " " + o.Ref()
			w, ok := want[k]
			if !ok {
				t.Errorf("unexpected change %s (%s, origin %q)", k, o.Change, o.Origin)
				continue
			}
			delete(want, k)
			if o.Origin != w {
				t.Errorf("%s: origin %q, want %q", k, o.Origin, w)
			}
		}
	}
	for k := range want {
		t.Errorf("no change reported for %s", k)
	}
	if ghost == 0 || tesla == 0 {
		t.Errorf("the removed environments' objects are not all reported: ghost %d, tesla-onprem %d", ghost, tesla)
	}
	var files []FileDiff
	for _, e := range rep.Envs {
		files = append(files, e.Files...)
	}
	if len(files) != 1 || files[0].File != acmeKPlat || files[0].Origin != OriginKatonic {
		t.Errorf("kustomize files %+v; want %s, origin %q", files, acmeKPlat, OriginKatonic)
	}
	katonic, both := rep.Origins()
	if katonic != 3+ghost || both != 2 {
		t.Errorf("Origins() = %d, %d; want %d, 2", katonic, both, 3+ghost)
	}

	rep.Mode, rep.Base = ModeCommitted, "main"
	text, md, js := outputs(t, rep)
	for _, s := range []string{
		"committed out/ at main → the working tree rendered by this katonic\n\n",
		"~ HelmRelease/flux-system/postgres (platform/postgres) (katonic)\n",
		"+ Namespace/airbyte (infrastructure/namespaces) (katonic)\n",
		"~ HelmRelease/flux-system/katonic-ui (platform/katonic-ui) (katonic and configuration)\n",
		"~ HelmRelease/flux-system/superset (addons/superset)\n",
		"~ platform/kustomization.yaml (kustomize file) (katonic)\n  resources: + redis.yaml\n",
		"environment ghost: removed, 55 objects (katonic)\n[HIGH environment] environment removed: ",
		"  removed: 1 GitRepository, 13 HelmRelease, 4 HelmRepository, 1 IngressClass, 4 Kustomization, 6 Namespace, 18 NetworkPolicy, 8 OCIRepository (-o json lists each object)\n\n",
		"environment tesla-onprem: removed, ",
		"(-o json lists each object)\n- HelmRelease/flux-system/postgres (platform/postgres) (katonic and configuration)\n\n",
		"changes come from katonic itself, not from the configuration (marked (katonic)): this katonic renders the configuration at main that way already; 2 changes come from both katonic and the configuration (marked (katonic and configuration)); ",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("text lacks %q:\n%s", s, text)
		}
	}
	for _, s := range []string{
		"### katonic diff\n\nCommitted `out/` at `main` → the working tree rendered by this katonic: what the cluster gets.\n\n",
		"not from the configuration (_katonic_) · 2 changes come from both (_katonic and configuration_) · ",
		"| `ghost` (removed) ⚠ | -k |",
		"<code>HelmRelease/flux-system/postgres</code> (platform/postgres) (<i>katonic</i>)</summary>",
		"<code>HelmRelease/flux-system/katonic-ui</code> (platform/katonic-ui) (<i>katonic and configuration</i>)</summary>",
		"· k every change of the cell comes from katonic itself\n",
		"- ⚠ **high** `environment` `ghost` (_katonic_): environment removed: ",
		"<details><summary>ghost (removed): 55 objects (<i>katonic</i>)</summary>",
		"<details><summary>acme-azure ~ <code>platform/kustomization.yaml</code> (kustomize file) (<i>katonic</i>)</summary>",
		"- HelmRelease/flux-system/postgres (platform/postgres) (katonic and configuration)\n- HelmRelease/flux-system/redis (platform/redis)\n",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	var back Report
	if err := json.Unmarshal([]byte(js), &back); err != nil {
		t.Fatal(err)
	}
	if back.Mode != ModeCommitted || back.Base != "main" || back.Attribution != AttributionDone {
		t.Errorf("JSON header: mode %q, base %q, attribution %q", back.Mode, back.Base, back.Attribution)
	}
	if k, b := back.Origins(); k != katonic || b != both {
		t.Errorf("JSON origins %d, %d; want %d, %d", k, b, katonic, both)
	}
	if !reflect.DeepEqual(back.Envs, rep.Envs) {
		t.Error("the environments read back from JSON differ (origins of environments and files)")
	}
}

// Without Options.OldRendered nothing is attributed, and the outputs are
// as they were before attribution existed: no origin, no marks.
func TestNoOrigin(t *testing.T) {
	old, _, cur := originScenario(t)
	rep, err := Compare(old, cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Attribution != "" {
		t.Errorf("Attribution = %q", rep.Attribution)
	}
	if k, b := rep.Origins(); k+b != 0 {
		t.Errorf("Origins() = %d, %d", k, b)
	}
	text, md, js := outputs(t, rep)
	for name, out := range map[string]string{"text": text, "markdown": md, "json": js} {
		for _, s := range []string{"katonic)", "katonic</i>", "katonic_", `"origin"`, `"attribution"`, `"mode"`, "from the configuration", "committed out/"} {
			if strings.Contains(out, s) {
				t.Errorf("%s holds %q without attribution", name, s)
			}
		}
	}
}

// The old rendered tree is read like the others: a document that is not
// an object there is an error naming it.
func TestOriginErrors(t *testing.T) {
	old, rendered, cur := originScenario(t)
	rendered.Files[acmeMLflow] = []byte("just: a mapping\n")
	_, err := Compare(old, cur, Options{OldRendered: &rendered})
	if err == nil || !strings.Contains(err.Error(), "old rendered tree: "+acmeMLflow) {
		t.Errorf("error = %v, want one naming the old rendered tree and %s", err, acmeMLflow)
	}
}
