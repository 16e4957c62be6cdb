// kustomize-controller v1.9.6 for katonic's end-to-end harness, built from its published
// module by `make e2e` (`go build github.com/fluxcd/kustomize-controller`). Its main package is the module
// root, which nothing can import: do not run go mod tidy here, it would drop
// the requirement. The replace lines are the controller's own (its api module
// at the same version).
module github.com/katonic/katonic/e2e/tools/kustomize-controller

go 1.26.0

require github.com/fluxcd/kustomize-controller v1.9.6

replace github.com/fluxcd/kustomize-controller/api => github.com/fluxcd/kustomize-controller/api v1.9.6
replace github.com/opencontainers/go-digest => github.com/opencontainers/go-digest v1.0.1-0.20220411205349-bde1400a84be

replace (
	sigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.21.1
	sigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.21.1
)

replace gopkg.in/yaml.v3 => gopkg.in/yaml.v3 v3.0.1
