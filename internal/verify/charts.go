package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/katonic/katonic/internal/charts"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/render"
)

const (
	srcCharts   = "katonic charts pull and charts.lock (README, \"Charts\")"
	srcTemplate = "Helm template (helm.sh/helm/v3, client-only install): the chart's templates, values.schema.json and kubeVersion"
	srcHosts    = "seeds 001_023b29528093f049.txt and 003_48ea17a7d7c364df.txt: the platform FQDN, dash-<FQDN> (Superset) and connectors-<FQDN> (Airbyte)"
	// valuesFromPlaceholder stands in for a value that Flux reads from a
	// Secret or ConfigMap in the cluster (spec.valuesFrom with targetPath):
	// offline, the key must exist for the chart to render, not its value.
	valuesFromPlaceholder = "katonic-verify-placeholder"
)

// ChartRefs returns the charts env's HelmReleases install, sorted and
// unique: what `katonic charts pull` fetches and what the charts layer
// looks up in the lock file.
func ChartRefs(releases []render.Release) []charts.Ref {
	var out []charts.Ref
	for _, r := range releases {
		ref := charts.Ref{Repository: r.Chart.URL, Chart: r.Chart.Chart, Version: r.Chart.Version}
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, func(a, b charts.Ref) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// templatedRelease is one HelmRelease templated through its chart: the
// charts layer's output, which the fit layer reads too.
type templatedRelease struct {
	o   *object
	ref charts.Ref
	// rel is katonic's view of the release, when ours (render.Release).
	rel  render.Release
	ours bool
	ms   []charts.Manifest
}

// charts runs layer 4 over the templated HelmReleases: the hosts their
// Ingresses serve. The templating errors are the layer's too (template).
func (v *envVerifier) charts() {
	for _, t := range v.templated {
		for _, m := range t.ms {
			v.checkHosts(t.o, t.ref, m)
		}
	}
}

// notChecked records a chart that no layer could template because
// charts.lock or the chart cache lacks it.
func (v *envVerifier) notChecked(ref charts.Ref) {
	name := ref.Chart + " " + ref.Version
	if !slices.Contains(v.rep.NotChecked, name) {
		v.rep.NotChecked = append(v.rep.NotChecked, name)
		slices.Sort(v.rep.NotChecked)
	}
}

// fixUnchecked says what a user does about charts verify could not read:
// run charts pull to do what (say "fetch and lock it"), or say that the
// chart layers are not wanted.
func fixUnchecked(what string) string {
	return "run 'katonic charts pull' to " + what + ", or leave the charts and fit layers out (--layers " +
		strings.Join([]string{LayerBuild, LayerSchema, LayerRefs, LayerPolicy}, ",") + ")"
}

// template templates every HelmRelease through its locked chart, once for
// the charts and fit layers, into v.templated; what cannot be templated is
// a finding of the charts layer. A chart that charts.lock or the chart
// cache lacks is an error, not a pass: nothing checked it.
func (v *envVerifier) template() {
	lock := v.opts.Lock
	if lock == nil {
		lock = &charts.Lock{}
	}
	if len(lock.Charts) == 0 {
		// Nothing was ever pulled: one finding for the environment, naming
		// every chart it installs, rather than one per HelmRelease.
		for _, o := range v.objects {
			if !o.is(helmGroup, "HelmRelease") {
				continue
			}
			if ref, ok := v.chartRef(o); ok {
				v.notChecked(ref)
			}
		}
		if len(v.rep.NotChecked) > 0 {
			v.add(LayerCharts, diag.Error, nil, "", "verify.charts.unlocked", srcCharts,
				"%s: %s locks no chart, so none of the environment's %d %s (%s) is checked; %s",
				v.env.Env.Name, charts.LockFile, len(v.rep.NotChecked), pluralize(len(v.rep.NotChecked), "chart", "charts"),
				strings.Join(v.rep.NotChecked, ", "), fixUnchecked("fetch and lock them"))
		}
		return
	}
	rels := map[string]render.Release{}
	for _, r := range v.env.Releases {
		rels[r.Name] = r
	}
	for _, o := range v.objects {
		if !o.is(helmGroup, "HelmRelease") {
			continue
		}
		ref, ok := v.chartRef(o)
		if !ok {
			continue // the refs layer reports what does not resolve
		}
		entry, ok := lock.Lookup(ref)
		if !ok {
			v.add(LayerCharts, diag.Error, o, "", "verify.charts.unlocked", srcCharts,
				"%s: chart %s is not in %s, so neither the charts nor the fit layer checks it; %s",
				v.env.Env.Name, ref, charts.LockFile, fixUnchecked("fetch and lock it"))
			v.notChecked(ref)
			continue
		}
		ch, err := v.opts.Cache.Load(entry)
		var de *charts.DigestError
		switch {
		case errors.Is(err, charts.ErrNotCached):
			v.add(LayerCharts, diag.Error, o, "", "verify.charts.uncached", srcCharts,
				"%s: chart %s is locked (%s) but not in the chart cache, so neither the charts nor the fit layer checks it; %s",
				v.env.Env.Name, ref, entry.Digest, fixUnchecked("fetch it"))
			v.notChecked(ref)
			continue
		case errors.As(err, &de):
			v.add(LayerCharts, diag.Error, o, "", "verify.charts.digest", srcCharts, "%v", err)
			continue
		case err != nil:
			v.add(LayerCharts, diag.Error, o, "", "verify.charts.load", srcCharts, "chart %s: %v", ref, err)
			continue
		}
		spec, _ := o.m["spec"].(map[string]any)
		vals, err := releaseValues(spec)
		if err != nil {
			v.add(LayerCharts, diag.Error, o, "spec.valuesFrom", "verify.charts.template", srcTemplate, "%v", err)
			continue
		}
		releaseName := stringAt(spec, "releaseName")
		if releaseName == "" {
			releaseName = o.name
		}
		ns := stringAt(spec, "targetNamespace")
		if ns == "" {
			ns = o.namespace
		}
		ms, err := charts.Template(ch, charts.TemplateOptions{
			ReleaseName: releaseName, Namespace: ns,
			KubeVersion: fullVersion(v.env.Env.KubernetesVersion),
			APIVersions: apiVersions(v.env.Env),
			Values:      vals,
		})
		if err != nil {
			v.add(LayerCharts, diag.Error, o, "spec.values", "verify.charts.template", srcTemplate, "chart %s: %v", ref, err)
			continue
		}
		v.rep.Charts++
		rel, ours := rels[o.name]
		v.templated = append(v.templated, templatedRelease{o: o, ref: ref, rel: rel, ours: ours, ms: ms})
	}
}

// chartRef resolves the chart a HelmRelease installs from the sources of the
// cluster: spec.chart (HelmRepository URL, chart, version) or spec.chartRef
// (OCIRepository URL and tag).
func (v *envVerifier) chartRef(o *object) (charts.Ref, bool) {
	spec, _ := o.m["spec"].(map[string]any)
	find := func(kind string, r map[string]any) map[string]any {
		ns := stringAt(r, "namespace")
		if ns == "" {
			ns = o.namespace
		}
		for _, s := range v.objects {
			if s.is(sourceGroup, kind) && s.namespace == ns && s.name == stringAt(r, "name") {
				sp, _ := s.m["spec"].(map[string]any)
				return sp
			}
		}
		return nil
	}
	if cs, ok := nested(spec, "chart", "spec").(map[string]any); ok {
		sr, _ := cs["sourceRef"].(map[string]any)
		if stringAt(sr, "kind") != "HelmRepository" {
			return charts.Ref{}, false
		}
		src := find("HelmRepository", sr)
		if src == nil {
			return charts.Ref{}, false
		}
		return charts.Ref{Repository: stringAt(src, "url"), Chart: stringAt(cs, "chart"), Version: stringAt(cs, "version")}, true
	}
	if cr, ok := spec["chartRef"].(map[string]any); ok && stringAt(cr, "kind") == "OCIRepository" {
		src := find("OCIRepository", cr)
		if src == nil {
			return charts.Ref{}, false
		}
		url := stringAt(src, "url")
		tag, _ := nested(src, "ref", "tag").(string)
		return charts.Ref{Repository: url, Chart: path.Base(url), Version: tag}, true
	}
	return charts.Ref{}, false
}

// releaseValues returns spec.values with a placeholder at every targetPath
// of spec.valuesFrom, the way helm-controller merges them (Helm's strvals).
// valuesFrom entries without a targetPath merge a whole values file that
// only the cluster holds; they are skipped.
func releaseValues(spec map[string]any) (map[string]any, error) {
	vals := map[string]any{}
	if raw, ok := spec["values"]; ok {
		b, err := json.Marshal(raw)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &vals); err != nil {
			return nil, err
		}
	}
	for _, vf := range list(spec, "valuesFrom") {
		tp := stringAt(vf, "targetPath")
		if tp == "" {
			continue
		}
		if err := strvals.ParseIntoString(tp+"="+valuesFromPlaceholder, vals); err != nil {
			return nil, fmt.Errorf("valuesFrom targetPath %q: %w", tp, err)
		}
	}
	return vals, nil
}

// apiVersions are the API versions a chart may test with
// .Capabilities.APIVersions that the environment's own services provide.
func apiVersions(env *config.Environment) []string {
	var out []string
	if env.Enabled("monitoring") {
		out = append(out, "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor",
			"monitoring.coreos.com/v1/PodMonitor", "monitoring.coreos.com/v1/PrometheusRule")
	}
	if env.Enabled("istio") {
		out = append(out, "networking.istio.io/v1", "networking.istio.io/v1beta1", "security.istio.io/v1")
	}
	return out
}

// checkHosts checks the hosts of an Ingress against the DNS conventions.
func (v *envVerifier) checkHosts(o *object, ref charts.Ref, mf charts.Manifest) {
	if kind, _ := mf.Object["kind"].(string); kind != "Ingress" {
		return
	}
	allowed := v.env.Env.Hosts()
	var hosts []string
	spec, _ := mf.Object["spec"].(map[string]any)
	for _, r := range list(spec, "rules") {
		hosts = append(hosts, stringAt(r, "host"))
	}
	for _, t := range list(spec, "tls") {
		hs, _ := t["hosts"].([]any)
		for _, h := range hs {
			s, _ := h.(string)
			hosts = append(hosts, s)
		}
	}
	for _, h := range hosts {
		if h != "" && !slices.Contains(allowed, h) {
			v.add(LayerCharts, diag.Error, o, "spec.values", "verify.charts.host", srcHosts,
				"%s: host %q is not one of this environment's hosts (%s)", describe(ref, mf), h, strings.Join(allowed, ", "))
		}
	}
}

// describe names a rendered object for a finding: chart, object, template.
func describe(ref charts.Ref, mf charts.Manifest) string {
	kind, _ := mf.Object["kind"].(string)
	name, _ := nested(mf.Object, "metadata", "name").(string)
	s := fmt.Sprintf("chart %s %s: %s/%s", ref.Chart, ref.Version, kind, name)
	if mf.Template != "" {
		s += " (" + mf.Template + ")"
	}
	if mf.Hook != "" {
		s += " [hook " + mf.Hook + "]"
	}
	return s
}

// fullVersion makes a Kubernetes version "v" + MAJOR.MINOR.PATCH
// (semver coerces 1.29 to 1.29.0), so that charts see
// .Capabilities.KubeVersion.Version as a cluster reports it (v1.29.0).
// A version semver cannot read is passed on for Helm to reject.
func fullVersion(v string) string {
	sv, err := semver.NewVersion(v)
	if err != nil {
		return v
	}
	return "v" + sv.String()
}
