// kwok v0.8.0 (sigs.k8s.io/kwok), the node simulator of katonic's
// end-to-end harness: it keeps the fake nodes of each node pool Ready and
// the pods the scheduler binds to them Running. Built by `make e2e` (`go
// build sigs.k8s.io/kwok/cmd/kwok`); its command is a main package, so do not
// run go mod tidy here, it would drop the requirement.
module github.com/katonic/katonic/e2e/tools/kwok

go 1.26.0

require sigs.k8s.io/kwok v0.8.0
