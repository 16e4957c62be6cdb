package crdschema

// The Flux CRDs in flux/ are generated, never edited by hand: run
// `make generate` (or `go generate ./internal/crdschema/`) from the
// repository root after changing a Flux API module version in go.mod.
//
// controller-gen (sigs.k8s.io/controller-tools, pinned in tools/go.mod to the
// version the Flux controllers use) runs in this directory, inside the root
// module, so the import paths below resolve through katonic's own build list:
// the schemas come from exactly the Flux API module versions go.mod requires.
// The options are the Flux controllers' own (`CRD_OPTIONS ?= crd:crdVersions=v1`
// and `paths="./..."` in each controller's api/ directory, see their
// Makefiles), so the output is what Flux installs in a cluster. API versions
// marked +kubebuilder:skipversion upstream (v2beta1, v1beta2, ...) are not
// emitted, as upstream. controller-gen writes one file per CRD,
// <group>_<plural>.yaml, and never deletes one: if an upstream release drops a
// kind, delete flux/*.yaml before regenerating.
//
//go:generate go tool -modfile=../../tools/go.mod controller-gen crd:crdVersions=v1 paths=github.com/fluxcd/helm-controller/api/... paths=github.com/fluxcd/kustomize-controller/api/... paths=github.com/fluxcd/source-controller/api/... output:crd:artifacts:config=flux

// generatedFrom records what flux/ was last generated from: the Flux API
// modules (as required in the root go.mod) and the controller-gen version (as
// required in tools/go.mod). TestGeneratedFromPinnedModules fails when either
// go.mod no longer matches, i.e. when flux/ may be stale; after `make
// generate`, update this table.
var generatedFrom = struct {
	fluxModules   map[string]string // module path → version
	controllerGen string
}{
	fluxModules: map[string]string{
		"github.com/fluxcd/helm-controller/api":      "v1.6.5",
		"github.com/fluxcd/kustomize-controller/api": "v1.9.6",
		"github.com/fluxcd/source-controller/api":    "v1.9.6",
	},
	controllerGen: "v0.21.0",
}
