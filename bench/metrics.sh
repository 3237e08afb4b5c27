#!/usr/bin/env bash
# What metrics cost an in-process run (issue 14), by bench/compare on bench/startup.sh's workload
# (one CMON event against bench/policy-100.yaml, nothing delivered, no engine, cold:
# NOTIFIER_CACHE_DIR=off), each pair run alternately:
#   1. textfile: the policy with settings.metrics.textfile against the same without it (this tree);
#   2. self_alert: with settings.self_alert (nothing to tell) against without;
#   3. client_golang: notifier-engine (the same commands with client_golang linked, as notifier
#      would be had it linked it) against notifier, on the policy without metrics.
# Usage: bench/metrics.sh [RUNS]        (see docs/BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier" ./cmd/notifier
go build -trimpath -tags engine -ldflags '-s -w' -o "$tmp/notifier-engine" ./cmd/notifier
go build -o "$tmp/compare" ./bench/compare
event=examples/events/cmon/alarm-new-critical.json
policy=bench/policy-100.yaml
# The same policy with a settings section added.
settings() { { echo "settings:"; echo "$1"; cat "$policy"; } > "$2"; }
settings "  metrics: {textfile: $tmp/notifier.prom}" "$tmp/textfile.yaml"
settings "  self_alert: {notify: [$(awk '/^channels:/ {getline; sub(":.*", ""); gsub(" ", ""); print; exit}' "$policy")], after: 5m}" "$tmp/selfalert.yaml"
grep -q textfile "$tmp/textfile.yaml" && grep -q self_alert "$tmp/selfalert.yaml"
for f in textfile selfalert; do "$tmp/notifier" lint "$tmp/$f.yaml" >/dev/null; done
mkdir -p "$tmp/data"
export NOTIFIER_STATE_PATH="$tmp/data/state.db" NOTIFIER_SPOOL="$tmp/data/spool" NOTIFIER_CACHE_DIR=off
unset NOTIFIER_CLAIM_WAIT
cp "$policy" "$tmp/plain.yaml" # in the same directory as the others: one state for all
run() { "$tmp/compare" -n "$runs" -stdin "$event" -baseline "$1" -candidate "$2"; }
echo "== 1. settings.metrics.textfile (candidate) against none (baseline) =="
run "$tmp/notifier --config $tmp/plain.yaml" "$tmp/notifier --config $tmp/textfile.yaml"
grep -c '^notifier_' "$tmp/notifier.prom" | sed 's/^/textfile series: /'
echo
echo "== 2. settings.self_alert (candidate) against none (baseline) =="
run "$tmp/notifier --config $tmp/plain.yaml" "$tmp/notifier --config $tmp/selfalert.yaml"
echo
echo "== 3. client_golang linked: notifier-engine (candidate) against notifier (baseline) =="
run "$tmp/notifier --config $tmp/plain.yaml" "$tmp/notifier-engine --config $tmp/plain.yaml"
