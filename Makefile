# notifier — build, test, demo, bench.
GO        ?= go
BIN       := bin/notifier
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
export CGO_ENABLED = 0

.PHONY: all build test race vet fmt-check policy-check schema fuzz bench bench-startup demo clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/notifier

## test: everything CI runs for a change: formatting, vet, the shipped policy's lint and tests,
## unit, race and end-to-end tests.
test: fmt-check vet policy-check
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

## policy-check: what users' CI runs on their policies, on ours.
policy-check: build
	$(BIN) lint --strict policies/default.yaml examples/config/notifier.yaml
	$(BIN) test policies/tests

## schema: regenerate the policy format's JSON Schema (a test fails when it is stale).
schema: build
	$(BIN) schema > docs/policy.schema.json.tmp && mv docs/policy.schema.json.tmp docs/policy.schema.json

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: a short run of every fuzz target (FUZZTIME=30s for longer). Minimising a new input is
## capped: with the default (60 s) the YAML targets spend a short run minimising, not fuzzing.
FUZZTIME ?= 15s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/cmon/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./engine/pacemaker/
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

clean:
	rm -rf bin
