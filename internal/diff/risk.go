package diff

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gonvenience/ytbx"
	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/config"
)

// envRisks are the environment-level risks between the old and new
// resolved environments: node-pool and exposure. Either nil skips them.
func envRisks(a, b *config.Environment) []Risk {
	if a == nil || b == nil {
		return nil
	}
	var rs []Risk
	roles := append([]config.Role(nil), config.Roles...)
	var extra []string
	for r := range a.NodePools {
		known := false
		for _, k := range config.Roles {
			known = known || k == r
		}
		if !known {
			extra = append(extra, string(r))
		}
	}
	sort.Strings(extra)
	for _, r := range extra {
		roles = append(roles, config.Role(r))
	}
	for _, role := range roles {
		p, ok := a.NodePools[role]
		if !ok {
			continue
		}
		q, ok := b.NodePools[role]
		if !ok {
			rs = append(rs, Risk{Class: ClassNodePool, Level: LevelHigh, Message: fmt.Sprintf(
				"node pool %s removed (was %d to %d nodes of %d vCPU / %d GiB): services placed on it cannot be scheduled",
				role, p.MinNodes, p.MaxNodes, p.CPU, p.MemoryGiB)})
			continue
		}
		var less []string
		for _, f := range []struct {
			name     string
			old, new int
		}{{"maxNodes", p.MaxNodes, q.MaxNodes}, {"minNodes", p.MinNodes, q.MinNodes}, {"cpu", p.CPU, q.CPU}, {"memoryGiB", p.MemoryGiB, q.MemoryGiB}} {
			if f.new < f.old {
				less = append(less, fmt.Sprintf("%s %d → %d", f.name, f.old, f.new))
			}
		}
		if len(less) > 0 {
			rs = append(rs, Risk{Class: ClassNodePool, Level: LevelHigh, Message: fmt.Sprintf(
				"node pool %s capacity reduced: %s: pods may be evicted or stay Pending", role, strings.Join(less, ", "))})
		}
		if r, ok := poolMarksRisk(role, p, q); ok {
			rs = append(rs, r)
		}
	}
	if a.LoadBalancer != b.LoadBalancer && a.LoadBalancer != "" && b.LoadBalancer != "" {
		msg := fmt.Sprintf("load balancer %s → %s", a.LoadBalancer, b.LoadBalancer)
		if b.LoadBalancer == "external" {
			msg += ": the platform's gateway gets a public address, reachable from the internet"
		} else {
			msg += ": the gateway loses its public address; clients outside the private network lose access"
		}
		rs = append(rs, Risk{Class: ClassExposure, Level: LevelHigh, Message: msg})
	}
	return sortRisks(rs)
}

// deletedRisks flags a removed object; cur is the owning Flux Kustomization
// in the new tree, old the one in the old tree (either may be nil).
func deletedRisks(o *object, cur, old *ownerInfo) []Risk {
	if strings.HasPrefix(o.apiVersion, kustomizeAPIPrefix) {
		return nil // kustomize configuration, never applied to the cluster
	}
	own := cur
	if own == nil {
		own = old
	}
	what := "removed"
	gone := "Flux deletes it from the cluster"
	if o.kind == "Namespace" && o.apiVersion == "v1" {
		gone = "Flux deletes the namespace and everything in it"
	}
	var msg string
	switch {
	case own == nil:
		msg = fmt.Sprintf("%s: if the Flux Kustomization that applied it has prune: true, %s", what, gone)
	case own.prune == "true":
		msg = fmt.Sprintf("%s: %s has prune: true, so %s", what, own.ref, gone)
	default:
		msg = fmt.Sprintf("%s: %s has prune: %s, so it stays in the cluster, no longer managed", what, own.ref, orUnset(own.prune))
	}
	return []Risk{{Class: ClassDeleted, Level: LevelHigh, Message: msg}}
}

// addedRisks flags the public hosts of an added object when the
// environment's load balancer is external.
func addedRisks(o *object, external bool) []Risk {
	if !external {
		return nil
	}
	var rs []Risk
	for _, h := range sortedSet(hostValues(o)) {
		rs = append(rs, newHostRisk(h))
	}
	return sortRisks(rs)
}

// poolMarksRisk flags a node pool whose derived labels or taints changed
// (config.NodePool.Labels and Taints: the gpu pool's gpuType is in both).
func poolMarksRisk(role config.Role, p, q config.NodePool) (Risk, bool) {
	var what []string
	lp, lq := p.Labels(role), q.Labels(role)
	for _, k := range sortedSet(keySet(lp, lq)) {
		if lp[k] != lq[k] {
			what = append(what, fmt.Sprintf("label %s %s → %s", k, orUnset(lp[k]), orUnset(lq[k])))
		}
	}
	tp, tq := taintStrings(p.Taints(role)), taintStrings(q.Taints(role))
	if strings.Join(tp, ",") != strings.Join(tq, ",") {
		what = append(what, fmt.Sprintf("taints %s → %s", orNone(tp), orNone(tq)))
	}
	if len(what) == 0 {
		return Risk{}, false
	}
	return Risk{Class: ClassNodePool, Level: LevelHigh, Message: fmt.Sprintf(
		"node pool %s: %s: nodes keep the labels and taints they were created with until the pool is recreated or relabelled, so pods that select or tolerate the new ones stay Pending",
		role, strings.Join(what, "; "))}, true
}

// taintStrings writes taints as key=value:effect.
func taintStrings(ts []config.Taint) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Key+"="+t.Value+":"+t.Effect)
	}
	return out
}

// orNone joins vs with ", ", or says "none".
func orNone(vs []string) string {
	if len(vs) == 0 {
		return "none"
	}
	return strings.Join(vs, ", ")
}

// keySet is the union of the keys of maps.
func keySet(ms ...map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// riskContext is what the rules on a changed object may read beside the
// pair: both trees of its environment and the new resolved environment.
type riskContext struct {
	old, cur *tree
	// env is the new resolved environment; nil when Side.Envs lacks it.
	env *config.Environment
	// external is the new environment's loadBalancer == "external".
	external bool
	// objectExposure enables the internal-load-balancer annotation rule
	// (off when the environment-level rule already fired).
	objectExposure bool
}

// changedRisks classifies the changes cs between a and b.
func changedRisks(rc *riskContext, a, b *object, cs []change) []Risk {
	var rs []Risk
	external, objectExposure := rc.external, rc.objectExposure

	// prune
	if b.kind == "Kustomization" && strings.HasPrefix(b.apiVersion, fluxKustomizationPrefix) {
		p, q := scalar(a.root, "spec", "prune"), scalar(b.root, "spec", "prune")
		if p != q {
			msg := fmt.Sprintf("spec.prune %s → %s", orUnset(p), orUnset(q))
			if q == "true" {
				msg += ": Flux now deletes every object it applied that is no longer in the repository"
			} else {
				msg += ": objects removed from the repository stay in the cluster, no longer managed"
			}
			rs = append(rs, Risk{Class: ClassPrune, Level: LevelHigh, Message: msg})
		}
	}

	// chart-major, source-major, crds
	rs = append(rs, versionRisks(rc, a, b)...)

	// storage, node-pool (placement)
	rs = append(rs, storageRisks(a, b)...)
	rs = append(rs, placementRisks(rc, b, cs)...)

	// exposure (object rule)
	if objectExposure && b.kind == "HelmRelease" {
		svcA, svcB := lookup(a.root, "spec", "values", "service"), lookup(b.root, "spec", "values", "service")
		ia, ib := internalLB(svcA), internalLB(svcB)
		switch {
		case ia && !ib && isLoadBalancer(svcB):
			rs = append(rs, Risk{Class: ClassExposure, Level: LevelHigh, Message: fmt.Sprintf(
				"spec.values.service loses its internal load-balancer annotation: the load balancer becomes public")})
		case !ia && ib && isLoadBalancer(svcA):
			rs = append(rs, Risk{Class: ClassExposure, Level: LevelHigh, Message: fmt.Sprintf(
				"spec.values.service gets an internal load-balancer annotation: clients outside the private network lose access")})
		}
	}

	// dns, and exposure (new public host)
	ha, hb := hostValues(a), hostValues(b)
	var gone, added []string
	for _, h := range sortedSet(ha) {
		if !hb[h] {
			gone = append(gone, h)
		}
	}
	for _, h := range sortedSet(hb) {
		if !ha[h] {
			added = append(added, h)
		}
	}
	for _, h := range gone {
		msg := fmt.Sprintf("host %s removed: DNS records, certificates and clients that use it break", h)
		if len(added) > 0 {
			msg = fmt.Sprintf("host %s replaced (new: %s): DNS records and certificates must follow", h, strings.Join(added, ", "))
		}
		rs = append(rs, Risk{Class: ClassDNS, Level: LevelHigh, Message: msg})
	}
	if external {
		for _, h := range added {
			rs = append(rs, newHostRisk(h))
		}
	}

	// tls and secret-ref
	for _, c := range cs {
		if tlsLost(c) {
			rs = append(rs, Risk{Class: ClassTLS, Level: LevelHigh, Message: fmt.Sprintf(
				"TLS setting %s at %s: traffic may be served without TLS", tlsVerb(c), formatPath(c.path))})
		}
		if i := refIndex(c.path); i >= 0 || hasRefKey(c.from) || hasRefKey(c.to) {
			p := c.path
			if i >= 0 {
				p = p[:i+1]
			}
			rs = append(rs, Risk{Class: ClassSecretRef, Level: LevelMedium, Message: fmt.Sprintf(
				"Secret reference changed at %s (not shown): the referenced Secret and keys must exist before Flux reconciles", formatPath(p))})
		}
	}
	return sortRisks(rs)
}

// newHostRisk is the medium exposure risk of a new public host.
func newHostRisk(h string) Risk {
	return Risk{Class: ClassExposure, Level: LevelMedium, Message: fmt.Sprintf(
		"new public host %s: the environment's load balancer is external, so it is reachable from the internet", h)}
}

// internalLBAnnotations are the Service annotations that make a cloud load
// balancer internal, with the value that does: AKS, AWS Load Balancer
// Controller and GKE (internal/render internalLBAnnotation), plus the legacy
// in-tree AWS and GKE ones.
var internalLBAnnotations = map[string]string{
	"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
	"service.beta.kubernetes.io/aws-load-balancer-scheme":     "internal",
	"service.beta.kubernetes.io/aws-load-balancer-internal":   "true",
	"networking.gke.io/load-balancer-type":                    "internal",
	"cloud.google.com/load-balancer-type":                     "internal",
}

// internalLB reports whether a chart's service values carry an
// internal-load-balancer annotation.
func internalLB(svc *yaml.Node) bool {
	ann := lookup(svc, "annotations")
	if ann == nil || ann.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(ann.Content); i += 2 {
		if want, ok := internalLBAnnotations[ann.Content[i].Value]; ok && strings.EqualFold(deref(ann.Content[i+1]).Value, want) {
			return true
		}
	}
	return false
}

// isLoadBalancer reports whether a chart's service values make a
// LoadBalancer Service: type LoadBalancer, or no type (the Istio gateway
// chart's default).
func isLoadBalancer(svc *yaml.Node) bool {
	t := scalar(svc, "type")
	return t == "" || t == "LoadBalancer"
}

// hostValues returns the public host values of o (rules in the package
// comment): HelmRelease spec.values and Ingress spec.
func hostValues(o *object) map[string]bool {
	var root *yaml.Node
	helm := false
	switch {
	case o.kind == "HelmRelease" && strings.HasPrefix(o.apiVersion, "helm.toolkit.fluxcd.io/"):
		root, helm = lookup(o.root, "spec", "values"), true
	case o.kind == "Ingress":
		root = lookup(o.root, "spec")
	default:
		return nil
	}
	out := map[string]bool{}
	add := func(v *yaml.Node) {
		if v != nil && v.Kind == yaml.ScalarNode && publicHost(v.Value) {
			out[v.Value] = true
		}
	}
	walk(root, func(k string, v *yaml.Node) bool {
		switch {
		case k == "host", helm && k == "domain":
			add(v)
		case k == "hosts" && v.Kind == yaml.SequenceNode:
			for _, e := range v.Content {
				add(deref(e))
			}
		}
		return true
	})
	return out
}

// publicHost reports whether h names a DNS record rather than an
// in-cluster Service.
func publicHost(h string) bool {
	return strings.Contains(h, ".") && !strings.HasSuffix(h, ".svc") && !strings.HasSuffix(h, ".cluster.local")
}

// tlsLost reports whether c removes or empties TLS settings (see the package
// comment).
func tlsLost(c change) bool {
	if c.kind == FieldAdded || c.kind == FieldOrder {
		return false
	}
	if tlsIndex(c.path) >= 0 {
		return c.kind == FieldRemoved || empty(c.to)
	}
	return countTLS(c.from) > countTLS(c.to)
}

// tlsVerb says what happened to a TLS setting.
func tlsVerb(c change) string {
	if c.kind == FieldRemoved || c.to == nil {
		return "removed"
	}
	if tlsIndex(c.path) >= 0 {
		return "emptied"
	}
	return "removed"
}

// isTLSKey reports whether a key names a TLS setting.
func isTLSKey(k string) bool { return strings.Contains(strings.ToLower(k), "tls") }

// tlsIndex is the index of the first map-key element of p that names a TLS
// setting, or -1.
func tlsIndex(p []ytbx.PathElement) int {
	for i, e := range p {
		if e.Key == "" && e.Idx < 0 && isTLSKey(e.Name) {
			return i
		}
	}
	return -1
}

// countTLS counts the TLS keys with a non-empty value in n.
func countTLS(n *yaml.Node) int {
	c := 0
	walk(n, func(k string, v *yaml.Node) bool {
		if isTLSKey(k) && !empty(v) {
			c++
			return false
		}
		return true
	})
	return c
}

// empty reports whether n is absent, null, false, an empty string, list or
// mapping.
func empty(n *yaml.Node) bool {
	n = deref(n)
	if n == nil {
		return true
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return n.Tag == "!!null" || n.Value == "" || (n.Tag == "!!bool" && strings.EqualFold(n.Value, "false"))
	}
	return false
}

// orUnset is v, or "unset" when empty.
func orUnset(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}

// sortedSet returns the keys of m, sorted.
func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
