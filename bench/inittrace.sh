#!/usr/bin/env bash
# Where start-up goes: runs each binary N times with GODEBUG=inittrace=1
# (bench/inittrace) and prints every package init's median clock ms,
# bytes and allocs, the slowest first, with the total and when main
# starts; then its peak RSS. Binaries, built as bench/startup.sh builds:
#   notifier  deciding one CMON event with the shipped default policy
#             whose first rule drops all (bench/dropall.sh): no delivery
#   notifier  the same with bench/policy-100.yaml
#   hello, dropfloor, droponly, droponly-fat, notifier version (see
#   bench/drop.sh) for reference
# Peak RSS: GNU /usr/bin/time -v when present (median of 5 runs); else
# only bench/inittrace's ru_maxrss, which is at least the wrapper's own
# RSS (~3 MB: Go starts children with vfork, and the kernel charges the
# parent's memory to the child until exec), so small binaries read high.
# Usage: bench/inittrace.sh [RUNS] [TOP]   (defaults 50, 25)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
top=${2:-25}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
for p in cmd/notifier bench/hello bench/dropfloor bench/droponly; do
	go build -trimpath -ldflags '-s -w' -o "$tmp/$(basename "$p")" "./$p"
done
go build -tags dropfat -trimpath -ldflags '-s -w' -o "$tmp/droponly-fat" ./bench/droponly
go build -o "$tmp/inittrace" ./bench/inittrace
event=examples/events/cmon/alarm-new-critical.json
# State and spool in the temp dir (a notifier from issue 11 on spools
# every event; with no engine listening it decides in-process at once).
mkdir -p "$tmp/state"
export NOTIFIER_STATE_PATH="$tmp/state/state.db" NOTIFIER_SPOOL="$tmp/state/spool"
export NOTIFIER_CACHE_DIR="$tmp/cache"
bench/dropall.sh "$tmp/state" > "$tmp/default.yaml"
"$tmp/notifier" --config "$tmp/default.yaml" < "$event"   # first run: state file, cache

cands=(
	"$tmp/notifier --config $tmp/default.yaml"
	"$tmp/notifier --config bench/policy-100.yaml"
	"$tmp/hello"
	"$tmp/dropfloor -spool $tmp/spool-floor"
	"$tmp/droponly -spool $tmp/spool-only -socket $tmp/no-engine.sock"
	"$tmp/droponly-fat -raw -spool $tmp/spool-fat -socket $tmp/no-engine.sock"
	"$tmp/notifier version"
)
for c in "${cands[@]}"; do
	echo "== init cost =="
	# shellcheck disable=SC2086 # the candidate is split on spaces on purpose
	"$tmp/inittrace" -n "$runs" -top "$top" -stdin "$event" -- $c
done

if [ -x /usr/bin/time ] && /usr/bin/time -v true 2>/dev/null; then
	echo "== peak RSS, /usr/bin/time -v, median of 5 runs (KiB) =="
	for c in "${cands[@]}"; do
		for _ in 1 2 3 4 5; do
			# shellcheck disable=SC2086
			/usr/bin/time -v $c < "$event" 2>&1 >/dev/null | awk '/Maximum resident/ {print $NF}'
		done | sort -n | sed -n 3p | tr '\n' ' '
		echo " $c"
	done
fi
