package diff

import (
	"fmt"
	"sort"
	"strings"
)

// envSummary counts the objects of environment env in t (kustomize files
// and flux bootstrap's clusters/<env>/flux-system/ left out): all of them,
// the Namespaces, and the Flux Kustomizations by name with how many have
// prune: true.
type envSummary struct {
	objects, namespaces int
	kustomizations      []string
	pruning             int
	// root is true when the tree has files under clusters/<env>/.
	root bool
}

func summarize(env string, t *tree) envSummary {
	var s envSummary
	for f := range t.files {
		s.root = s.root || strings.HasPrefix(f, "clusters/"+env+"/")
	}
	for _, o := range t.objects {
		if o.env != env || bootstrapFile(o.file) {
			continue
		}
		s.objects++
		switch {
		case o.kind == "Namespace" && o.apiVersion == "v1":
			s.namespaces++
		case o.kind == "Kustomization" && strings.HasPrefix(o.apiVersion, fluxKustomizationPrefix):
			s.kustomizations = append(s.kustomizations, o.name)
			if scalar(o.root, "spec", "prune") == "true" {
				s.pruning++
			}
		}
	}
	sort.Strings(s.kustomizations)
	return s
}

// contents says what an environment holds: "4 Flux Kustomizations (a,
// b, c, d) and 58 objects in all, 12 Namespaces among them".
func (s envSummary) contents() string {
	out := plural(s.objects, "object")
	if len(s.kustomizations) > 0 {
		out = fmt.Sprintf("%s (%s) and %s in all", plural(len(s.kustomizations), "Flux Kustomization"),
			strings.Join(s.kustomizations, ", "), out)
	}
	if s.namespaces > 0 {
		out += fmt.Sprintf(", %s among them", plural(s.namespaces, "Namespace"))
	}
	return out
}

// envRemovedRisk is the one risk of a removed environment (class
// environment, high): clusters/<env>/, the path the cluster's Flux
// reconciles (flux bootstrap --path), loses its root kustomization.yaml
// and Flux Kustomizations. Flux Kustomization garbage collection: a Flux
// Kustomization with prune: true deletes the objects it applied that are
// no longer in its source, and when it is deleted itself, every object it
// applied.
func envRemovedRisk(env string, old *tree) Risk {
	s := summarize(env, old)
	them := "them"
	if s.objects == 1 {
		them = "it"
	}
	if !s.root {
		return Risk{Class: ClassEnvironment, Level: LevelHigh, Message: fmt.Sprintf(
			"environment removed: its %s go, with no clusters/%s/ (no cluster root applied them here): the Flux Kustomization that applied %s deletes %s if it has prune: true",
			s.contents(), env, them, them)}
	}
	var what string
	switch {
	case len(s.kustomizations) == 0:
		what = "deletes " + them
	case s.pruning == len(s.kustomizations):
		what = "deletes the Kustomizations, and they, having prune: true, every object they applied: the whole installation"
	case s.pruning > 0:
		what = fmt.Sprintf("deletes the Kustomizations, and the %d of them with prune: true every object they applied", s.pruning)
	default:
		what = "deletes the Kustomizations; having prune: false, they leave their objects in the cluster, no longer managed"
	}
	return Risk{Class: ClassEnvironment, Level: LevelHigh, Message: fmt.Sprintf(
		"environment removed: clusters/%s/, the path the cluster's Flux reconciles, goes with its %s: "+
			"a Flux that still reconciles the path with prune: true (flux bootstrap's default) %s; "+
			"with nothing left at the path, it fails to reconcile instead (path not found). Decommission the cluster first",
		env, s.contents(), what)}
}

// envAddedRisk is the one risk of an added environment (class
// environment, medium): a new cluster root whose Flux installs everything.
func envAddedRisk(env string, cur *tree) Risk {
	s := summarize(env, cur)
	if !s.root {
		them := "them"
		if s.objects == 1 {
			them = "it"
		}
		return Risk{Class: ClassEnvironment, Level: LevelMedium, Message: fmt.Sprintf(
			"environment added: %s, with no clusters/%s/: no Flux applies %s until a Flux Kustomization points at %s",
			s.contents(), env, them, them)}
	}
	return Risk{Class: ClassEnvironment, Level: LevelMedium, Message: fmt.Sprintf(
		"environment added: clusters/%s/ is a new cluster root with %s: "+
			"the cluster whose Flux reconciles that path (flux bootstrap --path) installs everything; check it is the intended cluster",
		env, s.contents())}
}
