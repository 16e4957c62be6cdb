// helm-controller v1.6.4 for katonic's end-to-end harness, built from its published
// module by `make e2e` (`go build github.com/fluxcd/helm-controller`). Its main package is the module
// root, which nothing can import: do not run go mod tidy here, it would drop
// the requirement. The replace lines are the controller's own (its api module
// at the same version) and the proxy's refusals: helm-controller v1.6.5 is refused, v1.6.4 is served.
module github.com/katonic/katonic/e2e/tools/helm-controller

go 1.26.0

require github.com/fluxcd/helm-controller v1.6.4

replace github.com/fluxcd/helm-controller/api => github.com/fluxcd/helm-controller/api v1.6.4
replace github.com/opencontainers/go-digest => github.com/opencontainers/go-digest v1.0.1-0.20231025023718-d50d2fec9c98

replace (
	sigs.k8s.io/kustomize/api => sigs.k8s.io/kustomize/api v0.21.1
	sigs.k8s.io/kustomize/kyaml => sigs.k8s.io/kustomize/kyaml v0.21.1
)
