# katonic's everyday commands. The README's two commands are `make render`
# and `make test`; CI (.ci/run) runs `make test`, `make check`, `make verify`,
# `make verify-charts`, `make ci-doc` and `make policy`.

GO ?= go
export GOTOOLCHAIN ?= local

.PHONY: all build render check verify verify-charts ci-doc policy test bench cue-vet fmt generate e2e e2e-tools

all: test

## build: bin/katonic, with its version stamped from git (the nearest tag,
## commits since, the commit, -dirty for local changes: v1.2.3-4-gabc1234);
## VERSION=... sets another. `katonic version` prints it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
build:
	$(GO) build -ldflags "-X github.com/katonic/katonic/internal/cli.Version=$(VERSION)" -o bin/katonic ./cmd/katonic

## render: validate the environments and render them into out/
render:
	$(GO) run ./cmd/katonic render

## check: fail when out/ is not what the sources render
check:
	$(GO) run ./cmd/katonic render --check

## verify: the verify layers that need no chart cache, on out/
verify:
	$(GO) run ./cmd/katonic verify --layers build,schema,refs

## verify-charts: every layer of verify, fit included, on the example
## environments with the real upstream charts of ../shared/reference/charts
## served over loopback as their charts.mirror (skipped, saying so, where that
## folder is absent)
verify-charts:
	$(GO) test -count=1 -run 'TestScripts/verify_reference_charts$$' -v ./internal/cli/ | grep -E '^(=== RUN|--- |    --- |ok|FAIL|PASS)|skip|verify_reference_charts'

## ci-doc: every katonic command of docs/ci.md's workflow and shell block,
## run on the example environments in a git repository with a pull request
## (TestCIDoc; make test skips it under the race detector)
ci-doc:
	$(GO) test -count=1 -run 'TestCIDoc' -v ./internal/cli/ | grep -E '^(=== RUN|--- |    --- |ok|FAIL|PASS)|docs/ci.md|skip'

## policy: the policies of policy/ over the rendered environments
policy:
	$(GO) run ./cmd/katonic policy

## test: vet, then every test with the race detector; then the end-to-end
## harness's own unit tests (its module, e2e/; no cluster is started)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	cd e2e && $(GO) vet ./... && $(GO) test -count=1 ./...

## bench: the benchmarks of docs/performance.md: the fleet's cost per
## environment at 10, 100 and 1,000 environments, per phase, and writing out/;
## katonic diff's comparison of a whole-fleet change; the charts and fit
## layers over the examples with the real charts; the output directory's
## check and write on a fleet of 25,000 files
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -timeout 30m ./internal/compile/ ./internal/policy/ ./internal/diff/
	$(GO) test -run '^$$' -bench BenchmarkChartsFit -benchmem -benchtime 5x ./internal/verify/
	$(GO) test -run '^$$' -bench 'UpToDate|WriteOneOfFleet' -benchmem -benchtime 10x ./internal/outdir/

## cue-vet: check the CUE packages with the cue tool, if installed
cue-vet:
	cue vet ./schema ./profiles

fmt:
	gofmt -w cmd internal

## generate: regenerate the embedded Flux CRDs (internal/crdschema/flux/) from
## the Flux API modules in go.mod, with controller-gen from tools/go.mod
generate:
	$(GO) generate ./internal/crdschema/

## e2e-tools: build the end-to-end harness's control plane (kube-apiserver,
## kube-controller-manager, kube-scheduler 1.37.2; etcd 3.7.0), kwok 0.8.0 and
## the Flux controllers (source-controller 1.9.6, kustomize-controller 1.9.6,
## helm-controller 1.6.4) from their own modules under e2e/tools/ into
## e2e/bin/, with the controllers' own CRDs in e2e/bin/crds/ and kwok's
## "fast" node and pod stages in e2e/bin/kwok-stages/. Go's build cache
## makes a second build a link only (docs/e2e.md has the costs).
E2E_BIN := $(CURDIR)/e2e/bin
# The version the API server reports (Kubernetes' own build stamps it the
# same way, hack/lib/version.sh); charts read it as .Capabilities.KubeVersion.
KUBE_VERSION := v1.37.2
KUBE_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37
e2e-tools:
	mkdir -p $(E2E_BIN)/crds
	$(GO) build -o $(E2E_BIN)/katonic ./cmd/katonic
	cd e2e/tools/etcd && $(GO) build -trimpath -o $(E2E_BIN)/etcd .
	mkdir -p $(E2E_BIN)/kwok-stages
	cd e2e/tools/kwok && $(GO) build -trimpath -o $(E2E_BIN)/ sigs.k8s.io/kwok/cmd/kwok && \
		d=$$($(GO) list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage && \
		cp -f $$d/node/fast/node-initialize.yaml $$d/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
			$$d/pod/fast/pod-ready.yaml $$d/pod/fast/pod-complete.yaml $$d/pod/fast/pod-delete.yaml $(E2E_BIN)/kwok-stages/
	cd e2e/tools/source-controller && $(GO) build -trimpath -o $(E2E_BIN)/source-controller github.com/fluxcd/source-controller && \
		cp -f $$($(GO) list -m -f '{{.Dir}}' github.com/fluxcd/source-controller)/config/crd/bases/*.yaml $(E2E_BIN)/crds/
	cd e2e/tools/kustomize-controller && $(GO) build -trimpath -o $(E2E_BIN)/kustomize-controller github.com/fluxcd/kustomize-controller && \
		cp -f $$($(GO) list -m -f '{{.Dir}}' github.com/fluxcd/kustomize-controller)/config/crd/bases/*.yaml $(E2E_BIN)/crds/
	cd e2e/tools/helm-controller && $(GO) build -trimpath -o $(E2E_BIN)/helm-controller github.com/fluxcd/helm-controller && \
		cp -f $$($(GO) list -m -f '{{.Dir}}' github.com/fluxcd/helm-controller)/config/crd/bases/*.yaml $(E2E_BIN)/crds/
	cd e2e/tools/kube && $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $(E2E_BIN)/ k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
	chmod -R u+w $(E2E_BIN)/crds $(E2E_BIN)/kwok-stages

## e2e: reconcile the example environments with the real Flux controllers on a
## local control plane: each example (acme-azure's charts from an OCI
## registry, the others' from a Helm repository), globex-cloud upgraded to the
## newest platform version, and the two runs that must fail (docs/e2e.md);
## E2E_FLAGS passes flags to katonic-e2e (-envs, -oci, -upgrade, -negative)
e2e: e2e-tools
	cd e2e && $(GO) run ./cmd/katonic-e2e -bin $(E2E_BIN) $(E2E_FLAGS)
