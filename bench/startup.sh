#!/usr/bin/env bash
# Times whole processes side by side: deciding one CMON event against a
# 100-rule policy whose last rule matches (no delivery), against a Go
# program that only reads stdin. Runs interleaved; prints medians and
# their ratio. Usage: bench/startup.sh [RUNS]   (see docs/BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier" ./cmd/notifier
go build -trimpath -ldflags '-s -w' -o "$tmp/hello" ./bench/hello
go build -o "$tmp/compare" ./bench/compare
event=examples/events/cmon/alarm-new-critical.json
# State and spool in the temp dir (a notifier from issue 11 on spools
# every event; with no engine listening it decides in-process at once).
mkdir -p "$tmp/state"
export NOTIFIER_STATE_PATH="$tmp/state/state.db" NOTIFIER_SPOOL="$tmp/state/spool"
policy=bench/policy-100.yaml

echo "== decide one event, 100 rules (parse and compile on every run) =="
export NOTIFIER_CACHE_DIR="$tmp/cache"
"$tmp/notifier" --config "$policy" < "$event"    # keeps the last good policy
"$tmp/compare" -n "$runs" -stdin "$event" -baseline "$tmp/hello" -candidate "$tmp/notifier --config $policy"
