package verify

import (
	"strconv"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/diag"
	"github.com/katonic/katonic/internal/fit"
)

// fitOrigin is where a fit.Workload comes from: a templated HelmRelease
// (findings go on its spec.values, where katonic sets what the chart
// renders) or one object of a Flux Kustomization (findings go on the
// object).
type fitOrigin struct {
	o       *object
	release bool
}

// fit runs layer 5: the rules of internal/fit over the templated charts
// (v.templated) and the objects the Flux Kustomizations build.
func (v *envVerifier) fit() {
	in := fit.Input{Env: v.env.Env}
	var origins []fitOrigin
	for _, t := range v.templated {
		var w fit.Workload
		if t.ours {
			w.Service, w.Katonic, w.Pools = t.rel.Service, true, t.rel.Pools
			w.Registries = t.rel.Chart.Registries
			if t.rel.ChartID == catalog.ChartLonghorn {
				in.LonghornReplicas = longhornReplicas(t.o)
			}
		}
		for _, m := range t.ms {
			what := describe(t.ref, m)
			if w.Service != "" {
				what = "service " + w.Service + ", " + what
			}
			objs, err := fit.Decode(m.Object, what)
			if err != nil {
				v.add(LayerFit, diag.Error, t.o, "spec.values", fit.RuleDecode, srcTemplate, "%v", err)
				continue
			}
			if why, ok := t.rel.NodeAgents[m.Template]; ok && t.ours {
				for i := range objs.Pods {
					objs.Pods[i].NodeAgent = why
				}
			}
			w.Add(objs)
		}
		in.Workloads = append(in.Workloads, w)
		origins = append(origins, fitOrigin{o: t.o, release: true})
	}
	for _, o := range v.objects {
		objs, err := fit.Decode(o.m, "applied by "+o.via)
		if err != nil {
			v.add(LayerFit, diag.Error, o, "", fit.RuleDecode, srcKustomizeController, "%v", err)
			continue
		}
		if len(objs.Pods)+len(objs.Claims)+len(objs.Routes)+len(objs.StorageClasses) == 0 {
			continue
		}
		in.Workloads = append(in.Workloads, fit.Workload{Objects: objs})
		origins = append(origins, fitOrigin{o: o})
	}
	res := fit.Check(in)
	for _, f := range res.Findings {
		if f.Workload < 0 {
			// A pool's or the storage's totals: the environment's node
			// pools are where they change.
			v.rep.Findings = append(v.rep.Findings, Finding{Env: v.env.Env.Name, Layer: LayerFit, Diagnostic: diag.Diagnostic{
				Severity: diag.Error, Pos: diag.Pos{Filename: v.env.Env.File}, Path: "environments." + v.env.Env.Name + ".nodePools",
				Rule: f.Rule, Source: f.Source, Message: f.Message}})
			continue
		}
		or := origins[f.Workload]
		field := f.Field
		if or.release {
			field = "spec.values"
		}
		v.add(LayerFit, diag.Error, or.o, field, f.Rule, f.Source, "%s", f.Message)
	}
	v.rep.Pools = res.Pools
}

// longhornReplicas reads defaultSettings.defaultReplicaCount from the
// values of the Longhorn HelmRelease o; 0 when it is not set.
func longhornReplicas(o *object) int {
	switch n := nested(o.m, "spec", "values", "defaultSettings", "defaultReplicaCount").(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}
