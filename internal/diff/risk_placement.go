package diff

import (
	"fmt"
	"strings"

	"github.com/gonvenience/ytbx"
	yaml "go.yaml.in/yaml/v3"

	"github.com/katonic/katonic/internal/config"
)

// isPlacementKey reports whether a mapping key places pods on nodes.
func isPlacementKey(k string) bool {
	return k == "nodeSelector" || k == "tolerations" || k == "affinity"
}

// placementRisks flag the changes of cs under a nodeSelector, tolerations
// or affinity key (pod specs, chart values) of b, one risk per place that
// holds them (the mapping they are keys of). Placement is judged against
// the new environment's node pools when it is known (rc.env): a selected
// pool (katonic.ai/node-pool) the environment lacks, a GPU type
// (katonic.ai/gpu-type) that is not its gpu pool's, or a taint of the
// selected pool the tolerations miss is high; any other placement change
// is medium.
func placementRisks(rc *riskContext, b *object, cs []change) []Risk {
	sites := map[string][]ytbx.PathElement{}
	keys := map[string]map[string]bool{}
	for _, c := range cs {
		for i, e := range c.path {
			if e.Key == "" && e.Idx < 0 && isPlacementKey(e.Name) {
				site := c.path[:i]
				s := formatPath(site)
				sites[s] = site
				if keys[s] == nil {
					keys[s] = map[string]bool{}
				}
				keys[s][e.Name] = true
				break
			}
		}
	}
	var rs []Risk
	for _, s := range sortedSet(keysOf(sites)) {
		at := nodeAt(b.root, sites[s])
		what := strings.Join(sortedSet(keys[s]), ", ")
		if msg := unschedulable(rc.env, at); msg != "" {
			rs = append(rs, Risk{Class: ClassNodePool, Level: LevelHigh, Message: fmt.Sprintf(
				"placement changed at %s (%s): %s, so its pods stay Pending", s, what, msg)})
			continue
		}
		rs = append(rs, Risk{Class: ClassNodePool, Level: LevelMedium, Message: fmt.Sprintf(
			"placement changed at %s (%s): its pods are recreated on the nodes it now selects, and stay Pending where none matches, tolerates them or has room",
			s, what)})
	}
	return rs
}

// unschedulable says why pods placed by site (a mapping with nodeSelector
// and tolerations) cannot run in env, or "" when they can or env is nil.
func unschedulable(env *config.Environment, site *yaml.Node) string {
	if env == nil || site == nil {
		return ""
	}
	pool := config.Role(scalar(site, "nodeSelector", config.PoolLabelKey))
	gpu := scalar(site, "nodeSelector", config.GPUTypeLabelKey)
	if gpu != "" {
		if p, ok := env.NodePools[config.RoleGPU]; !ok || p.GPUType != gpu {
			return fmt.Sprintf("it selects %s=%s, and the environment has no gpu pool of that type", config.GPUTypeLabelKey, gpu)
		}
		if pool == "" {
			pool = config.RoleGPU
		}
	}
	if pool == "" {
		return ""
	}
	p, ok := env.NodePools[pool]
	if !ok {
		return fmt.Sprintf("it selects node pool %s, which the environment does not have", pool)
	}
	tols := lookup(site, "tolerations")
	for _, t := range p.Taints(pool) {
		if !tolerated(tols, t) {
			return fmt.Sprintf("it selects node pool %s and does not tolerate its taint %s=%s:%s", pool, t.Key, t.Value, t.Effect)
		}
	}
	return ""
}

// tolerated reports whether a tolerations list tolerates taint t
// (Kubernetes "Taints and Tolerations": an empty key with Exists matches
// every taint; operator Equal, the default, needs the value; an empty
// effect matches every effect).
func tolerated(tols *yaml.Node, t config.Taint) bool {
	if tols == nil || tols.Kind != yaml.SequenceNode {
		return false
	}
	for _, e := range tols.Content {
		key, op := scalar(e, "key"), scalar(e, "operator")
		effect := scalar(e, "effect")
		if effect != "" && effect != t.Effect {
			continue
		}
		switch {
		case key == "" && op == "Exists":
			return true
		case key != t.Key:
			continue
		case op == "Exists", scalar(e, "value") == t.Value:
			return true
		}
	}
	return false
}

// nodeAt follows a dyff path in n: map keys, list indexes, and list
// entries identified by a field; nil when absent.
func nodeAt(n *yaml.Node, p []ytbx.PathElement) *yaml.Node {
	for _, e := range p {
		n = deref(n)
		if n == nil {
			return nil
		}
		switch {
		case e.Key != "":
			if n.Kind != yaml.SequenceNode {
				return nil
			}
			var next *yaml.Node
			for _, c := range n.Content {
				if scalar(c, e.Key) == e.Name {
					next = c
					break
				}
			}
			n = next
		case e.Name != "" || e.Idx < 0:
			n = lookup(n, e.Name)
		default:
			if n.Kind != yaml.SequenceNode || e.Idx >= len(n.Content) {
				return nil
			}
			n = n.Content[e.Idx]
		}
	}
	return deref(n)
}

// keysOf returns the keys of m as a set.
func keysOf[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
