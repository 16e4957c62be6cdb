// source-controller v1.9.6 for katonic's end-to-end harness, built from its published
// module by `make e2e` (`go build github.com/fluxcd/source-controller`). Its main package is the module
// root, which nothing can import: do not run go mod tidy here, it would drop
// the requirement. The replace lines are the controller's own (its api module
// at the same version) and the proxy's refusals: fluxcd/pkg/artifact v0.18.3 is refused, v0.18.1 is served.
module github.com/katonic/katonic/e2e/tools/source-controller

go 1.26.0

require github.com/fluxcd/source-controller v1.9.6

replace github.com/fluxcd/source-controller/api => github.com/fluxcd/source-controller/api v1.9.6
replace github.com/opencontainers/go-digest => github.com/opencontainers/go-digest v1.0.1-0.20220411205349-bde1400a84be
replace github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.1
