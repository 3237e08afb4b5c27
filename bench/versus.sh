#!/usr/bin/env bash
# Old against new, side by side: the notifier built at REV (the baseline)
# and the one in this tree (the candidate), run alternately by
# bench/compare on the startup workload of bench/startup.sh (one CMON
# event against bench/policy-100.yaml, nothing delivered), warm (policy
# snapshot kept, for a revision that still has the snapshot cache; later
# ones parse and compile every run) and cold (NOTIFIER_CACHE_DIR=off:
# parse and compile every run). A ratio near 1.00x means no change. Then, with STATE=1, the
# 1000-alarm and storm workloads of bench/state.sh for each binary in turn.
# Usage: bench/versus.sh REV [RUNS]        (see docs/BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/versus.sh REV [RUNS]}
runs=${2:-300}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add -q --detach "$tmp/old" "$rev"
export CGO_ENABLED=0
(cd "$tmp/old" && go build -trimpath -ldflags '-s -w' -o "$tmp/notifier-old" ./cmd/notifier)
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier-new" ./cmd/notifier
go build -o "$tmp/compare" ./bench/compare
event=examples/events/cmon/alarm-new-critical.json
policy=bench/policy-100.yaml
# Both binaries keep their state (and the new one its spool, which
# follows $NOTIFIER_STATE_PATH) in the temp dir, not /var/lib/notifier.
# No engine listens there: the new binary spools each event and, finding
# no wake socket, decides it in-process at once (issue 11's fallback).
mkdir -p "$tmp/data"
export NOTIFIER_STATE_PATH="$tmp/data/state.db" NOTIFIER_SPOOL="$tmp/data/spool"
unset NOTIFIER_CLAIM_WAIT

echo "== warm: policy snapshot kept, where there is one (old $rev = baseline, this tree = candidate) =="
export NOTIFIER_CACHE_DIR="$tmp/cache"
"$tmp/notifier-old" --config "$policy" < "$event"
"$tmp/notifier-new" --config "$policy" < "$event"
"$tmp/compare" -n "$runs" -stdin "$event" -baseline "$tmp/notifier-old --config $policy" -candidate "$tmp/notifier-new --config $policy"

echo
echo "== cold: NOTIFIER_CACHE_DIR=off, parse and compile every run =="
export NOTIFIER_CACHE_DIR=off
"$tmp/compare" -n "$((runs / 3))" -stdin "$event" -baseline "$tmp/notifier-old --config $policy" -candidate "$tmp/notifier-new --config $policy"

if [ "${STATE:-}" = 1 ]; then
    unset NOTIFIER_CACHE_DIR
    go build -trimpath -ldflags '-s -w' -o "$tmp/post" ./bench/post
    go build -o "$tmp/pdserver" ./bench/pdserver
    go build -o "$tmp/state" ./bench/state
    unset NOTIFIER_STATE_PATH NOTIFIER_SPOOL   # bench/state sets its own
    for which in old new old new; do
        dir=$(mktemp -d /var/tmp/notifier-bench-versus.XXXXXX)
        echo
        echo "== bench/state, $which =="
        "$tmp/state" -notifier "$tmp/notifier-$which" -post "$tmp/post" -pdserver "$tmp/pdserver" -dir "$dir" || { rm -rf "$dir"; exit 1; }
        rm -rf "$dir"
    done
fi
