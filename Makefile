# notifier — build, test, demo, bench.
GO        ?= go
BIN       := bin/notifier
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
export CGO_ENABLED = 0
# nfpm from the tools module, run from the repository root (nfpm.yaml's paths are relative to it).
NFPM      := $(GO) tool -modfile=tools/go.mod nfpm

.PHONY: all build test race vet fmt-check policy-check examples-check schema package e2e fuzz bench bench-startup demo graph clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/notifier
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/notifier-drop ./cmd/notifier-drop
	$(GO) build -trimpath -tags engine -ldflags '$(LDFLAGS)' -o bin/notifier-engine ./cmd/notifier

## test: what CI runs for a change before the end-to-end tests (make e2e): formatting, vet, the
## shipped policy's lint and tests, unit and integration tests under the race detector (cgo: it
## needs a C compiler). It ends with each skipped test and why, then "skipped: N tests (why)"
## (the Redis tests skip without redis-server, except under CI=true where they fail).
test: fmt-check vet policy-check examples-check
	@set -- $$($(GO) env CC); command -v "$$1" >/dev/null || \
	{ echo "make test: the race detector needs a C compiler; \"$$1\" not found (apt-get install gcc)" >&2; exit 1; }
	$(GO) build -o bin/testreport ./internal/testreport
	CGO_ENABLED=1 bin/testreport $(GO) test -json -race -count=1 ./...

## examples-check: the Prometheus scrape config, alerting rules (promtool test rules) and Grafana
## dashboard in examples/; without promtool it says how to install it and skips, but under CI=true
## (apt-get install prometheus: .ci/run does).
examples-check:
	@if command -v promtool >/dev/null || [ "$${CI:-}" = true ]; then examples/prometheus/check.sh; \
	else echo "SKIP examples-check: promtool not found (apt-get install --no-install-recommends prometheus)"; fi

## policy-check: what users' CI runs on their policies, on ours.
policy-check: build
	$(BIN) lint --strict policies/default.yaml examples/config/notifier.yaml
	$(BIN) test policies/tests examples/config/tests

## schema: regenerate the policy format's JSON Schema (a test fails when it is stale).
schema: build
	$(BIN) schema > docs/policy.schema.json.tmp && mv docs/policy.schema.json.tmp docs/policy.schema.json

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/ ./cmd/notifier/
	$(GO) vet -tags engine ./cmd/notifier/

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## package: the .deb and .rpm in dist/ (nfpm, pinned in tools/go.mod's tool block: its own module,
## so nfpm's dependencies stay out of notifier's go.mod), checked.
## Version from VERSION (git describe), made one dpkg and rpm order: packaging/version.sh.
package: export NOTIFIER_VERSION = $(shell packaging/version.sh '$(VERSION)')
package: export NOTIFIER_ARCH = $(shell $(GO) env GOARCH)
package: export SOURCE_DATE_EPOCH = $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
package: build
	rm -rf dist/notifier_*.deb dist/notifier-*.rpm dist/gen
	mkdir -p dist/gen
	packaging/copyright.sh bin/notifier-engine > dist/gen/copyright  # notifier's modules and client_golang's
	packaging/changelog.sh "$$NOTIFIER_VERSION-1" > dist/gen/changelog.Debian
	packaging/manpage.sh $(BIN) "$$NOTIFIER_VERSION" > dist/gen/notifier.1
	gzip -9n dist/gen/changelog.Debian dist/gen/notifier.1
	$(NFPM) package --config packaging/nfpm.yaml --packager deb --target dist/
	$(NFPM) package --config packaging/nfpm.yaml --packager rpm --target dist/
	packaging/check.sh

## e2e: as root on Debian: installs Pacemaker, corosync, rsyslog, redis-server and the .deb, then
## runs a real cluster, CMON's plugin runner and rsyslog against the installed notifier, with and
## without the engine; then the engine's invariants through the built binaries (storms with kills
## and SIGSTOP, processes as hacluster and nobody: cmd/notifier's e2e_engine*_test.go, tag e2e).
e2e:
	e2e/setup.sh
	CGO_ENABLED=1 $(GO) test -tags e2e -count=1 -v -timeout 20m ./e2e/
	CGO_ENABLED=1 $(GO) test -tags e2e -count=1 -v -timeout 10m -run '^TestE2EEngine' ./cmd/notifier/

## fuzz: a short run of every fuzz target (FUZZTIME=30s for longer). Minimising a new input is
## capped: with the default (60 s) the YAML targets spend a short run minimising, not fuzzing.
FUZZTIME ?= 15s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/cmon/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/pacemaker/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/event/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEntry$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/spool/
	$(GO) test -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFile$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/policytest/

## bench: Go benchmarks, then whole processes side by side with a baseline.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./engine/...
	bench/startup.sh

## demo: the real binary over every example event, with the default policy,
## against PagerDuty/Slack-compatible endpoints and a syslog listener on 127.0.0.1.
demo: build
	$(GO) run ./examples/demo -bin $(BIN)

## graph: the package graph (docs/ARCHITECTURE.md): what each package imports from the project.
graph:
	docs/graph.sh

clean:
	rm -rf bin dist
