package charts

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
)

// TemplateOptions configure an offline, client-only `helm template`.
type TemplateOptions struct {
	// ReleaseName is .Release.Name; it must be a valid Helm release name.
	// Namespace is .Release.Namespace; empty means "default", as for
	// `helm template` without --namespace.
	ReleaseName, Namespace string
	// KubeVersion is the cluster's Kubernetes version, "1.29" or "v1.29.0"
	// (.Capabilities.KubeVersion, and what Chart.yaml's kubeVersion is
	// checked against). It is parsed by chartutil.ParseKubeVersion, which
	// keeps the components given: "1.29" renders as "v1.29", "v1.29.0" as
	// "v1.29.0" (as `helm template --kube-version` does). Empty means Helm's
	// built-in default (v1.20.0).
	KubeVersion string
	// APIVersions are extra API versions to advertise in
	// .Capabilities.APIVersions, e.g. "monitoring.coreos.com/v1" or
	// "monitoring.coreos.com/v1/ServiceMonitor" (helm template
	// --api-versions); the built-in Kubernetes API versions are always
	// advertised.
	APIVersions []string
	// Values are the user-supplied values, merged over the chart's
	// values.yaml as `helm template -f` does. They are not modified.
	Values map[string]any
}

// Manifest is one rendered object.
type Manifest struct {
	// Template is the template path, e.g.
	// "postgresql/templates/primary/statefulset.yaml".
	Template string
	// Hook is the helm.sh/hook annotation value, "" for a normal object.
	Hook string
	// Object is the decoded object (numbers are int64 or float64, as in
	// Kubernetes' unstructured objects).
	Object map[string]any
}

// Template renders ch in-process the way `helm template` does
// (https://helm.sh/docs/helm/helm_template/): Helm's install action with
// ClientOnly, DryRun and Replace, IncludeCRDs false, and opts' KubeVersion and
// APIVersions as the capabilities. Like `helm template` it therefore
// processes dependency conditions and import-values, validates the merged
// values against the chart's (and subcharts') values.schema.json, and
// refuses a chart whose Chart.yaml kubeVersion constraint does not admit
// opts.KubeVersion.
//
// It returns every rendered object, hooks included with Hook set, test hooks
// (helm.sh/hook: test, or its Helm 2 spelling test-success) excluded, sorted
// by Template, then kind, namespace and name, Helm's order breaking the
// remaining ties. NOTES.txt and the chart's crds/ directory are not
// returned.
//
// ch is not modified (Helm's install action prunes disabled subcharts and
// rewrites values in the chart it is given, so it is given a copy), and
// neither is opts.Values. Errors, from Helm or from decoding its output,
// are wrapped with the chart's name and version.
func Template(ch *chart.Chart, opts TemplateOptions) ([]Manifest, error) {
	if ch == nil || ch.Metadata == nil {
		return nil, errors.New("template chart: chart has no metadata")
	}
	wrap := func(err error) error {
		return fmt.Errorf("template chart %s %s: %w", ch.Metadata.Name, ch.Metadata.Version, err)
	}

	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.ClientOnly = true
	inst.DryRun = true
	inst.DryRunOption = "client"
	inst.Replace = true
	inst.IncludeCRDs = false
	inst.ReleaseName = opts.ReleaseName
	inst.Namespace = cmp.Or(opts.Namespace, "default")
	if opts.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			return nil, wrap(fmt.Errorf("invalid Kubernetes version %q: %w", opts.KubeVersion, err))
		}
		inst.KubeVersion = kv
	}
	inst.APIVersions = chartutil.VersionSet(slices.Clone(opts.APIVersions))

	vals, _ := copyValue(map[string]any(opts.Values)).(map[string]any)
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := inst.Run(cloneChart(ch), vals)
	if err != nil {
		return nil, wrap(err)
	}

	docs := releaseutil.SplitManifests(rel.Manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var out []Manifest
	for _, k := range keys {
		tpl, body, ok := strings.Cut(docs[k], "\n")
		src, found := strings.CutPrefix(tpl, sourcePrefix)
		if !found {
			return nil, wrap(fmt.Errorf("rendered manifest %d has no %q line", len(out)+1, strings.TrimSpace(sourcePrefix)))
		}
		if !ok {
			continue // only the source line: an empty document
		}
		obj, err := decodeObject(src, body)
		if err != nil {
			return nil, wrap(err)
		}
		if obj != nil {
			out = append(out, Manifest{Template: src, Object: obj})
		}
	}
	for _, h := range rel.Hooks {
		if slices.Contains(h.Events, release.HookTest) {
			continue
		}
		obj, err := decodeObject(h.Path, h.Manifest)
		if err != nil {
			return nil, wrap(err)
		}
		if obj == nil {
			continue
		}
		out = append(out, Manifest{Template: h.Path, Hook: hookAnnotation(obj, h), Object: obj})
	}
	slices.SortStableFunc(out, compareManifests)
	return out, nil
}

// sourcePrefix starts the line by which Helm's install action names the
// template of each document in Release.Manifest.
const sourcePrefix = "# Source: "

// decodeObject decodes one YAML document rendered from template tpl; a
// document with no content (only comments) is a nil map.
func decodeObject(tpl, doc string) (map[string]any, error) {
	var obj map[string]any
	if err := k8syaml.Unmarshal([]byte(doc), &obj); err != nil {
		return nil, fmt.Errorf("decode object rendered from %s: %w", tpl, err)
	}
	if len(obj) == 0 {
		return nil, nil
	}
	return obj, nil
}

// hookAnnotation returns the object's helm.sh/hook annotation as written,
// or, should it not be a string, Helm's parsed events joined by commas.
func hookAnnotation(obj map[string]any, h *release.Hook) string {
	md, _ := obj["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	if v, ok := ann[release.HookAnnotation].(string); ok && v != "" {
		return v
	}
	events := make([]string, len(h.Events))
	for i, e := range h.Events {
		events[i] = e.String()
	}
	return strings.Join(events, ",")
}

// compareManifests orders by template path, then kind, namespace and name.
func compareManifests(a, b Manifest) int {
	return cmp.Or(
		strings.Compare(a.Template, b.Template),
		strings.Compare(field(a.Object, "kind"), field(b.Object, "kind")),
		strings.Compare(field(a.Object, "metadata", "namespace"), field(b.Object, "metadata", "namespace")),
		strings.Compare(field(a.Object, "metadata", "name"), field(b.Object, "metadata", "name")),
	)
}

// field returns the string at path in obj, "" if there is none.
func field(obj map[string]any, path ...string) string {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// cloneChart copies the parts of ch that Helm's install action changes
// (metadata dependencies with their enabled flags and import-values, the
// subchart list, values), recursively, so that Template leaves ch as it
// was. Templates, files and the schema are shared: rendering only reads them.
func cloneChart(ch *chart.Chart) *chart.Chart {
	n := *ch
	if ch.Metadata != nil {
		md := *ch.Metadata
		md.Dependencies = make([]*chart.Dependency, len(ch.Metadata.Dependencies))
		for i, d := range ch.Metadata.Dependencies {
			if d != nil {
				dc := *d
				md.Dependencies[i] = &dc
			}
		}
		if ch.Metadata.Dependencies == nil {
			md.Dependencies = nil
		}
		n.Metadata = &md
	}
	n.Values, _ = copyValue(ch.Values).(map[string]any)
	deps := ch.Dependencies()
	clones := make([]*chart.Chart, len(deps))
	for i, d := range deps {
		clones[i] = cloneChart(d)
	}
	n.SetDependencies(clones...)
	return &n
}

// copyValue deep-copies the maps and slices of a values tree.
func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return map[string]any(nil)
		}
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = copyValue(x)
		}
		return m
	case chartutil.Values:
		return copyValue(map[string]any(v))
	case []any:
		if v == nil {
			return []any(nil)
		}
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = copyValue(x)
		}
		return s
	default:
		return v
	}
}
