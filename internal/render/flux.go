package render

import (
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/katonic/katonic/internal/catalog"
	"github.com/katonic/katonic/internal/config"
	"github.com/katonic/katonic/internal/secrets"
)

// Reconciliation timing of the Flux objects katonic writes. Pinned sources
// change only when katonic's catalog changes, so they are polled hourly.
const (
	kustomizationInterval = 10 * time.Minute
	kustomizationRetry    = 2 * time.Minute
	kustomizationTimeout  = 15 * time.Minute
	sourceInterval        = time.Hour
)

// bootstrapSource is the GitRepository `flux bootstrap` creates for the
// repository katonic writes into.
const bootstrapSource = "flux-system"

func dur(d time.Duration) metav1.Duration   { return metav1.Duration{Duration: d} }
func durp(d time.Duration) *metav1.Duration { x := dur(d); return &x }
func fluxMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: FluxNamespace}
}
func typeMeta(gv, kind string) metav1.TypeMeta { return metav1.TypeMeta{APIVersion: gv, Kind: kind} }
func deps(names []string) []meta.DependencyReference {
	var d []meta.DependencyReference
	for _, n := range names {
		d = append(d, meta.DependencyReference{Name: n})
	}
	return d
}

// layerKustomization is the Flux Kustomization that applies one
// environments/<env>/<layer> directory from the bootstrap repository.
func (r *renderer) layerKustomization(layer string, dependsOn []string) *kustomizev1.Kustomization {
	return fluxKustomization(layer, r.fluxPath(layer), bootstrapSource, dependsOn)
}

// secretsKustomization applies environments/<env>/secrets, decrypting its
// SOPS-encrypted Secrets with the age key of flux-system/sops-age (Flux,
// "Kustomization — Decryption": spec.decryption.provider sops, secretRef a
// Secret in the Kustomization's namespace; Flux guide "Manage Kubernetes
// secrets with SOPS"). No dependsOn, targetNamespace or patches: see
// Options.Secrets.
func (r *renderer) secretsKustomization() *kustomizev1.Kustomization {
	k := r.layerKustomization(LayerSecrets, nil)
	k.Spec.Decryption = &kustomizev1.Decryption{
		Provider:  decryptionProviderSOPS,
		SecretRef: &meta.LocalObjectReference{Name: secrets.KeySecretName},
	}
	return k
}

// decryptionProviderSOPS is the only provider of a Flux Kustomization's
// spec.decryption (kustomize-controller's API: +kubebuilder:validation:Enum=sops).
const decryptionProviderSOPS = "sops"

// fluxKustomization is a Flux Kustomization named name in flux-system that
// applies path of the GitRepository source, after dependsOn, with prune,
// wait and katonic's interval, retry interval and timeout.
func fluxKustomization(name, path, source string, dependsOn []string) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{
		TypeMeta:   typeMeta(kustomizev1.GroupVersion.String(), kustomizev1.KustomizationKind),
		ObjectMeta: fluxMeta(name),
		Spec: kustomizev1.KustomizationSpec{
			DependsOn:     deps(dependsOn),
			Interval:      dur(kustomizationInterval),
			RetryInterval: durp(kustomizationRetry),
			Timeout:       durp(kustomizationTimeout),
			Path:          path,
			Prune:         true,
			Wait:          true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{
				Kind: sourcev1.GitRepositoryKind,
				Name: source,
			},
		},
	}
}

// pipelinesKustomizations applies Kubeflow Pipelines from its pinned tag:
// first its cluster-scoped resources (CRDs), then the platform-agnostic
// overlay into the kubeflow namespace (katonic-domain.md: "kustomize
// manifests from kubeflow/pipelines at a pinned tag"). Both drop the
// upstream kubeflow Namespace object, which the infrastructure layer owns
// with katonic's labels, and the second pins every Deployment and
// StatefulSet to the platform pool (seed 001: platform services run on the
// platform pool).
func (r *renderer) pipelinesKustomizations() []any {
	git := r.rel.Pipelines
	ns := r.env.Services[svcPipelines].Namespace
	dropNS := kustomize.Patch{
		Patch:  mustYAML(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}, "$patch": "delete"}),
		Target: &kustomize.Selector{Kind: "Namespace", Name: ns},
	}
	mk := func(name, p string, dependsOn []string) *kustomizev1.Kustomization {
		k := fluxKustomization(name, p, git.Source, dependsOn)
		k.Spec.Patches = []kustomize.Patch{dropNS}
		return k
	}
	crds := mk(LayerPipelines+"-cluster", git.ClusterPath, []string{LayerInfrastructure})
	app := mk(LayerPipelines, git.Path, []string{LayerInfrastructure, LayerPipelines + "-cluster"})
	app.Spec.TargetNamespace = ns
	if r.env.Images.Mirror != "" {
		// kustomize's images transformer, run by kustomize-controller
		// (Kustomization spec.images): the same name under the mirror.
		for _, img := range git.Images {
			app.Spec.Images = append(app.Spec.Images, kustomize.Image{Name: img, NewName: r.mirrored(img)})
		}
	}
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		app.Spec.Patches = append(app.Spec.Patches, kustomize.Patch{
			Patch:  podPlacementPatch(kind, r.env),
			Target: &kustomize.Selector{Kind: kind},
		})
	}
	return []any{crds, app}
}

// podPlacementPatch is a strategic-merge patch putting a workload's pod
// template on the platform pool. With a target selector kustomize applies it
// to every match whatever the name in the patch.
func podPlacementPatch(kind string, env *config.Environment) string {
	p := placementValues(env, config.RolePlatform)
	return mustYAML(map[string]any{
		"apiVersion": "apps/v1",
		"kind":       kind,
		"metadata":   map[string]any{"name": "all"},
		"spec":       map[string]any{"template": map[string]any{"spec": p}},
	})
}

func mustYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err) // only plain maps and strings reach here
	}
	return string(b)
}

// sources returns every chart source the enabled services need, deduplicated
// by name (HTTP repositories first, then OCI charts, each sorted), plus the
// kubeflow-pipelines GitRepository when pipelines is enabled.
func (r *renderer) sources() []any {
	byName := map[string]catalog.Chart{}
	for _, s := range services() {
		if !r.env.Enabled(s.key) {
			continue
		}
		for _, rl := range s.releases {
			c, _ := r.rel.Chart(rl.chart)
			byName[c.Source] = c
		}
	}
	var helm, oci []any
	for _, name := range sortedKeys(byName) {
		c := byName[name]
		switch c.Kind {
		case catalog.HelmRepository:
			helm = append(helm, &sourcev1.HelmRepository{
				TypeMeta:   typeMeta(sourcev1.GroupVersion.String(), sourcev1.HelmRepositoryKind),
				ObjectMeta: fluxMeta(c.Source),
				Spec: sourcev1.HelmRepositorySpec{
					URL:      c.URL,
					Interval: dur(sourceInterval),
				},
			})
		case catalog.OCIRepository:
			o := &sourcev1.OCIRepository{
				TypeMeta:   typeMeta(sourcev1.GroupVersion.String(), sourcev1.OCIRepositoryKind),
				ObjectMeta: fluxMeta(c.Source),
				Spec: sourcev1.OCIRepositorySpec{
					URL:       c.URL,
					Reference: &sourcev1.OCIRepositoryRef{Tag: c.Version},
					LayerSelector: &sourcev1.OCILayerSelector{
						MediaType: catalog.HelmChartLayerMediaType,
						Operation: sourcev1.OCILayerCopy,
					},
					Interval: dur(sourceInterval),
				},
			}
			if c.Private {
				// Katonic's private registry needs a pull secret.
				o.Spec.SecretRef = &meta.LocalObjectReference{Name: katonicRegistrySecret}
				r.addSecret(SecretRef{Namespace: FluxNamespace, Name: katonicRegistrySecret,
					Keys:    []string{".dockerconfigjson"},
					Purpose: "pull secret (kubernetes.io/dockerconfigjson) for Katonic's private chart registry registry.katonic.ai or its mirror"})
			}
			oci = append(oci, o)
		}
	}
	out := append(helm, oci...)
	if r.env.Enabled(svcPipelines) {
		g := r.rel.Pipelines
		ignore := "/*\n!/manifests/\n"
		out = append(out, &sourcev1.GitRepository{
			TypeMeta:   typeMeta(sourcev1.GroupVersion.String(), sourcev1.GitRepositoryKind),
			ObjectMeta: fluxMeta(g.Source),
			Spec: sourcev1.GitRepositorySpec{
				URL:       g.URL,
				Interval:  dur(sourceInterval),
				Reference: &sourcev1.GitRepositoryRef{Tag: g.Tag},
				Ignore:    &ignore,
			},
		})
	}
	return out
}

// katonicRegistrySecret is the docker-config Secret in flux-system that
// authenticates the OCIRepositories of Katonic's own charts.
const katonicRegistrySecret = "katonic-registry"
