#!/usr/bin/env bash
# Issue 11's start-up target for the drop, measured before the drop
# exists: every candidate is timed against bench/hello (reads stdin, exits)
# with bench/compare, interleaved, medians. Built as bench/startup.sh
# builds (CGO_ENABLED=0, -trimpath -ldflags '-s -w').
#   dropfloor   the drop's I/O alone: temp file, fsync, rename, fsync dir
#               (the floor; the issue measured 1.37x)
#   droponly    links only what a drop needs (decoders, engine/event,
#               encoding/json, net), decodes, spools, pokes a socket: what a
#               separate drop binary could reach; -raw spools the input as
#               read instead of the decoded event re-encoded as JSON
#   droponly-fat  droponly -raw built with -tags dropfat: also links (and
#               so initialises) every package notifier's main imports,
#               calling none; the linker drops their unused code, so it is
#               still smaller than notifier (11 MB against 21 MB)
#   notifier version     the whole binary's start-up, doing nothing
#   notifier (default)   today's run path deciding one CMON event with the
#               shipped policies/default.yaml, state in a temp dir, and a
#               first rule that drops everything (so nothing is delivered
#               and every rule is still parsed and compiled)
#   notifier (100 rules) as bench/startup.sh: bench/policy-100.yaml
# Usage: bench/drop.sh [RUNS] [SPOOLBASE]   (default 300, a temp dir)
# SPOOLBASE on tmpfs (/dev/shm) makes fsync free: what is left is start-up
# and decoding, without the disk's noise.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
tmp=$(mktemp -d)
sp=$(mktemp -d "${2:-$tmp}/spool.XXXXXX")
trap 'rm -rf "$tmp" "$sp"' EXIT
export CGO_ENABLED=0
for p in cmd/notifier bench/hello bench/dropfloor bench/droponly; do
	go build -trimpath -ldflags '-s -w' -o "$tmp/$(basename "$p")" "./$p"
done
go build -tags dropfat -trimpath -ldflags '-s -w' -o "$tmp/droponly-fat" ./bench/droponly
go build -o "$tmp/compare" ./bench/compare
event=examples/events/cmon/alarm-new-critical.json
# State and spool in the temp dir (a notifier from issue 11 on spools
# every event; with no engine listening it decides in-process at once).
mkdir -p "$tmp/state"
export NOTIFIER_STATE_PATH="$tmp/state/state.db" NOTIFIER_SPOOL="$tmp/state/spool"
export NOTIFIER_CACHE_DIR="$tmp/cache"
bench/dropall.sh "$tmp/state" > "$tmp/default.yaml"
cmp() { "$tmp/compare" -n "$runs" -stdin "$event" -baseline "$tmp/hello" -candidate "$*"; }

echo "== dropfloor: the drop's I/O only (spool on $(df -P "$sp" | awk 'NR==2{print $1}')) =="
cmp "$tmp/dropfloor -spool $sp/floor"
echo "== droponly: decoders + spool + socket poke, nothing else linked =="
cmp "$tmp/droponly -spool $sp/only -socket $tmp/no-engine.sock"
echo "== droponly -raw: the same, spooling the input as read =="
cmp "$tmp/droponly -raw -spool $sp/raw -socket $tmp/no-engine.sock"
echo "== droponly-fat -raw: the same, linking all of notifier's packages =="
cmp "$tmp/droponly-fat -raw -spool $sp/fat -socket $tmp/no-engine.sock"
echo "== notifier version: the whole binary's start-up =="
cmp "$tmp/notifier version"
echo "== notifier deciding, shipped default policy (first rule drops all) =="
"$tmp/notifier" --config "$tmp/default.yaml" < "$event"
cmp "$tmp/notifier --config $tmp/default.yaml"
echo "== notifier deciding, bench/policy-100.yaml (as bench/startup.sh) =="
"$tmp/notifier" --config bench/policy-100.yaml < "$event"
cmp "$tmp/notifier --config bench/policy-100.yaml"
echo "== droponly against dropfloor: decoding and linking the decoders, same I/O =="
"$tmp/compare" -n "$runs" -stdin "$event" -baseline "$tmp/dropfloor -spool $sp/floor" -candidate "$tmp/droponly -raw -spool $sp/raw"
