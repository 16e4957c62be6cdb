package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/diff"
	"github.com/katonic/katonic/internal/graph"
)

// want is what a wait expects of the cluster.
type want struct {
	// releases is how many HelmReleases the render holds.
	releases int
	// revision, when set, is the commit of the published out/ that every
	// Kustomization of the GitRepository flux-system must have applied.
	revision string
	// changes, when set, is `katonic diff`'s report of the last change:
	// the cluster must show each of its objects and fields.
	changes *diff.Report
}

// observation is one look at the cluster.
type observation struct {
	// ready is whether everything is Ready and every pod is on its pool.
	ready bool
	// deadlock is whether a dependsOn cycle keeps objects from ever
	// becoming Ready: waiting longer cannot help.
	deadlock bool
}

// observe fills res from the cluster: the Kustomizations and HelmReleases
// and how many are Ready (at their latest generation and, with
// w.revision, at that commit), the pods and where they run, and a failure
// for each object that is not Ready (its controller's reason and message),
// each pod the scheduler could not place (its reason), each dependsOn
// cycle among the live objects (katonic's graph package, as verify's refs
// layer reads out/) and, with w.changes, each change of katonic diff that
// the cluster does not show.
func (c *Cluster) observe(ctx context.Context, res *Result, w want) observation {
	res.Failures = res.Failures[:0]
	ks, ksReady := c.readyCount(ctx, kustomizationGVR, "Kustomization", w.revision, &res.Failures)
	hr, hrReady := c.readyCount(ctx, helmReleaseGVR, "HelmRelease", "", &res.Failures)
	res.Kustomizations, res.KustomizationsReady = len(ks), ksReady
	res.HelmReleases, res.HelmReleasesReady = len(hr), hrReady
	var obs observation
	if ksReady < len(ks) || hrReady < len(hr) {
		for _, cyc := range liveCycles(res.Env, append(ks, hr...)) {
			res.Failures = append(res.Failures, cyc)
			obs.deadlock = true
		}
	}
	res.Pods, res.PodsScheduled, res.PodsOnPool = 0, 0, 0
	nodes, _ := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	pool := map[string]string{}
	for _, n := range nodes.Items {
		pool[n.Name] = n.Labels[config.PoolLabelKey]
	}
	pods, _ := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		res.Pods++
		if p.Spec.NodeName == "" {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
					res.Failures = append(res.Failures, fmt.Sprintf("Pod/%s/%s: %s: %s", p.Namespace, p.Name, cond.Reason, cond.Message))
				}
			}
			continue
		}
		res.PodsScheduled++
		want := p.Spec.NodeSelector[config.PoolLabelKey]
		if want == "" || want == pool[p.Spec.NodeName] {
			res.PodsOnPool++
		} else {
			res.Failures = append(res.Failures, fmt.Sprintf("Pod/%s/%s: on node %s of pool %s, not %s", p.Namespace, p.Name, p.Spec.NodeName, pool[p.Spec.NodeName], want))
		}
	}
	allReady := len(ks) > 0 && ksReady == len(ks) && len(hr) >= w.releases && hrReady == len(hr) && res.PodsScheduled == res.Pods
	if allReady && w.changes != nil {
		res.Failures = append(res.Failures, c.checkChanges(ctx, w.changes)...)
	}
	sort.Strings(res.Failures)
	obs.ready = allReady && len(res.Failures) == 0
	return obs
}

// readyCount lists the objects of gvr and counts the Ready ones: Ready
// True for the object's latest generation and, when revision is set and
// the object is a Kustomization of the GitRepository flux-system, with
// that commit applied. The others are failures with their Ready
// condition's reason and message.
func (c *Cluster) readyCount(ctx context.Context, gvr schema.GroupVersionResource, kind, revision string, failures *[]string) ([]unstructured.Unstructured, int) {
	list, err := c.Dynamic.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		*failures = append(*failures, fmt.Sprintf("list %s: %v", kind, err))
		return nil, 0
	}
	ready := 0
	for i := range list.Items {
		o := &list.Items[i]
		id := fmt.Sprintf("%s/%s/%s", kind, o.GetNamespace(), o.GetName())
		status, reason, msg := readyCondition(o)
		observed, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
		applied, _, _ := unstructured.NestedString(o.Object, "status", "lastAppliedRevision")
		source, _, _ := unstructured.NestedString(o.Object, "spec", "sourceRef", "name")
		switch {
		case status != "True":
			*failures = append(*failures, fmt.Sprintf("%s: %s: %s", id, reason, msg))
		case observed < o.GetGeneration():
			*failures = append(*failures, fmt.Sprintf("%s: Progressing: generation %d not yet reconciled", id, o.GetGeneration()))
		case revision != "" && source == "flux-system" && !strings.HasSuffix(applied, revision):
			*failures = append(*failures, fmt.Sprintf("%s: Progressing: revision %s applied, not yet %s", id, applied, revision))
		default:
			ready++
		}
	}
	return list.Items, ready
}

func readyCondition(o *unstructured.Unstructured) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg
		}
	}
	return "Unknown", "NoStatus", "not reconciled yet"
}

// liveCycles returns one failure per dependsOn cycle among the live
// Kustomizations and HelmReleases objs, found by katonic's own graph
// package (graph.Build over the objects as YAML), in its words.
func liveCycles(env string, objs []unstructured.Unstructured) []string {
	var b strings.Builder
	for i := range objs {
		y, err := yaml.Marshal(objs[i].Object)
		if err != nil {
			continue
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	g, err := graph.Build(env, map[string][]byte{"cluster.yaml": []byte(b.String())}, []string{"cluster.yaml"}, "cluster")
	if err != nil {
		return []string{"dependsOn graph of the cluster's objects: " + err.Error()}
	}
	var out []string
	for _, p := range g.Problems() {
		if strings.HasPrefix(p, "dependsOn cycle") {
			out = append(out, p)
		}
	}
	return out
}
