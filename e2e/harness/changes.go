package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/katonic/katonic/internal/diff"
	"github.com/katonic/katonic/internal/fieldpath"
)

// checkChanges compares the cluster with katonic diff's report of the
// last change to out/ and returns one failure per change the cluster does
// not show: an added or changed object that is not there, a removed one
// that still is (Flux prunes it), and a changed field whose live value
// does not hold the new one. A new value holds when the live value has
// every key and element it has, equal; the API server and the controllers
// may add defaults beside them. kustomize's own kustomization.yaml files
// are not objects of the cluster and are skipped.
func (c *Cluster) checkChanges(ctx context.Context, r *diff.Report) []string {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
	var out []string
	for _, e := range r.Envs {
		for _, o := range e.Objects {
			gv, err := schema.ParseGroupVersion(o.APIVersion)
			if err != nil || gv.Group == "kustomize.config.k8s.io" {
				continue
			}
			id := fmt.Sprintf("%s/%s/%s (%s, katonic diff: %s)", o.Kind, o.Namespace, o.Name, o.File, o.Change)
			m, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: o.Kind}, gv.Version)
			if err != nil {
				if o.Change != "removed" {
					out = append(out, id+": its kind is not served: "+err.Error())
				}
				continue
			}
			live, err := c.Dynamic.Resource(m.Resource).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
			switch {
			case o.Change == "removed" && apierrors.IsNotFound(err):
				continue
			case o.Change == "removed" && err == nil:
				out = append(out, id+": still in the cluster: Flux has not pruned it")
				continue
			case err != nil:
				out = append(out, id+": not in the cluster: "+err.Error())
				continue
			}
			for _, f := range o.Fields {
				if msg := fieldHolds(live.Object, f); msg != "" {
					out = append(out, id+": "+f.Path+": "+msg)
				}
			}
			if msg := sourceApplied(live.Object); msg != "" {
				out = append(out, id+": "+msg)
			}
		}
	}
	return out
}

// sourceApplied says how a changed object's controller has not yet
// acted on its spec, or "" when it has: a HelmRelease's last release
// (status.history[0], helm-controller's) is of the chart version its spec
// names; a GitRepository's artifact (source-controller's) is of the tag
// its spec names. Other kinds are Ready when applied.
func sourceApplied(obj map[string]any) string {
	switch obj["kind"] {
	case "HelmRelease":
		want, ok, _ := unstructured.NestedString(obj, "spec", "chart", "spec", "version")
		if !ok {
			return ""
		}
		hist, _, _ := unstructured.NestedSlice(obj, "status", "history")
		if len(hist) == 0 {
			return "helm-controller has released nothing"
		}
		last, _ := hist[0].(map[string]any)
		if got, _ := last["chartVersion"].(string); got != want {
			return fmt.Sprintf("helm-controller's last release is of chart version %s, not %s", got, want)
		}
	case "GitRepository":
		tag, ok, _ := unstructured.NestedString(obj, "spec", "ref", "tag")
		if !ok {
			return ""
		}
		rev, _, _ := unstructured.NestedString(obj, "status", "artifact", "revision")
		if !strings.HasPrefix(rev, tag+"@") {
			return fmt.Sprintf("source-controller's artifact is of revision %q, not tag %s", rev, tag)
		}
	}
	return ""
}

// fieldHolds says how the live object misses the field change f, or ""
// when it shows it.
func fieldHolds(obj map[string]any, f diff.FieldChange) string {
	v, found := lookup(obj, fieldpath.Split(f.Path))
	if f.Change == "removed" {
		if found {
			return "removed by the change, still set in the cluster"
		}
		return ""
	}
	if !found {
		return "set by the change (" + f.New + "), absent in the cluster"
	}
	if f.Redacted {
		return ""
	}
	var want any
	if err := yaml.Unmarshal([]byte(f.New), &want); err != nil {
		return "the report's value " + strconv.Quote(f.New) + " is not YAML: " + err.Error()
	}
	if !holds(normalize(want), normalize(v)) {
		b, _ := json.Marshal(v)
		return fmt.Sprintf("the change sets %s, the cluster has %s", f.New, b)
	}
	return ""
}

// lookup follows the segments of a field path through obj: keys of maps,
// and in lists an index ("0") or, as katonic diff names the entries of
// named lists, a field and its value ("name=istiod": the element whose
// name is istiod).
func lookup(obj any, segs []string) (any, bool) {
	cur := obj
	for _, s := range segs {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[s]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			if key, val, keyed := strings.Cut(s, "="); keyed {
				i := slices.IndexFunc(v, func(e any) bool {
					m, ok := e.(map[string]any)
					return ok && fmt.Sprint(m[key]) == val
				})
				if i < 0 {
					return nil, false
				}
				cur = v[i]
				continue
			}
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// normalize gives v the shapes of encoding/json (float64 numbers), so
// that a value read from YAML and one read from the API server compare.
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// holds reports whether live has everything want has: the same scalars,
// every key of a map, and lists of the same length whose elements hold.
func holds(want, live any) bool {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			lv, ok := l[k]
			if !ok || !holds(wv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return false
		}
		for i := range w {
			if !holds(w[i], l[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, live)
	}
}
