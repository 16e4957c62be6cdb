# katonic's everyday commands. The README's two commands are `make render`
# and `make test`; CI (.ci/run) runs `make test`, `make check`, `make verify`,
# `make verify-charts` and `make policy`.

GO ?= go
export GOTOOLCHAIN ?= local

.PHONY: all build render check verify verify-charts policy test bench cue-vet fmt generate

all: test

build:
	$(GO) build -o bin/katonic ./cmd/katonic

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

## policy: the policies of policy/ over the rendered environments
policy:
	$(GO) run ./cmd/katonic policy

## test: vet, then every test with the race detector
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

## bench: the benchmarks of docs/performance.md: the fleet's cost per
## environment at 10, 100 and 1,000 environments, per phase, and writing out/;
## the charts and fit layers over the examples with the real charts
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x -timeout 30m ./internal/compile/ ./internal/policy/
	$(GO) test -run '^$$' -bench BenchmarkChartsFit -benchmem -benchtime 5x ./internal/verify/

## cue-vet: check the CUE packages with the cue tool, if installed
cue-vet:
	cue vet ./schema ./profiles

fmt:
	gofmt -w cmd internal

## generate: regenerate the embedded Flux CRDs (internal/crdschema/flux/) from
## the Flux API modules in go.mod, with controller-gen from tools/go.mod
generate:
	$(GO) generate ./internal/crdschema/
