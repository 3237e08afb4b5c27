#!/usr/bin/env bash
# One invocation with the engine running, old against new: notifier and
# notifier-drop built at REV and from this tree, each side with its own
# engine on a fresh state and spool (so neither inherits the other's
# deleted inodes or state), timed against bench/hello by bench/compare
# (interleaved, RUNS each), for ROUNDS rounds, which side goes first
# alternating from round to round. Each side's policy is made by its own
# tree's bench/dropall.sh; the engine's status after each side must show
# every drop claimed, or the run fails (a side measured without its
# engine would say nothing about the engine). The engine A/B numbers of
# docs/BENCHMARKS.md's third speed round.
# Usage: bench/dropversus.sh REV [RUNS] [STATE_DIR_BASE]   (300, /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/dropversus.sh REV [RUNS] [STATE_DIR_BASE]}
runs=${2:-300}
base=${3:-/var/tmp}
rounds=${ROUNDS:-2}
tmp=$(mktemp -d)
epid=
dir=
cleanup() {
	if [ -n "$epid" ]; then kill -TERM "$epid" 2>/dev/null && wait "$epid" || true; fi
	if [ -n "$dir" ]; then
		[ -s "$dir/engine.log" ] && { echo "engine log, last lines:"; tail -5 "$dir/engine.log"; }
		rm -rf "$dir"
	fi
	git worktree remove --force "$tmp/old-tree" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
export CGO_ENABLED=0
git worktree add -q --detach "$tmp/old-tree" "$rev"
for side in old new; do
	src=.
	[ "$side" = old ] && src="$tmp/old-tree"
	mkdir -p "$tmp/$side"
	(cd "$src" && go build -trimpath -ldflags '-s -w' -o "$tmp/$side/notifier" ./cmd/notifier &&
		go build -trimpath -ldflags '-s -w' -o "$tmp/$side/notifier-drop" ./cmd/notifier-drop)
done
go build -trimpath -ldflags '-s -w' -o "$tmp/hello" ./bench/hello
go build -o "$tmp/compare" ./bench/compare
go build -o "$tmp/engine" ./bench/engine
event=examples/events/cmon/alarm-new-critical.json
unset NOTIFIER_CLAIM_WAIT NOTIFIER_BIN NOTIFIER_STATE_PATH
echo "load: $(uptime)"
for round in $(seq "$rounds"); do
	order="old new"
	[ $((round % 2)) = 0 ] && order="new old"
	for side in $order; do
		dir=$(mktemp -d "$base/notifier-bench-dropversus.XXXXXX")
		tree=.
		[ "$side" = old ] && tree="$tmp/old-tree"
		"$tree/bench/dropall.sh" "$dir/state" > "$dir/policy.yaml"
		export NOTIFIER_CONFIG="$dir/policy.yaml" NOTIFIER_SPOOL="$dir/spool" NOTIFIER_CACHE_DIR="$dir/cache"
		"$tmp/$side/notifier" --config "$NOTIFIER_CONFIG" < "$event"   # makes the state file
		"$tmp/$side/notifier" serve --config "$NOTIFIER_CONFIG" --spool "$NOTIFIER_SPOOL" 2>>"$dir/engine.log" &
		epid=$!
		"$tmp/engine" -spool "$NOTIFIER_SPOOL" wait
		echo "== round $round, $side ($([ "$side" = old ] && echo "$rev" || echo "this tree")): notifier-drop against hello, its own engine running =="
		"$tmp/compare" -n "$runs" -stdin "$event" -baseline "$tmp/hello" -candidate "$tmp/$side/notifier-drop"
		status=$("$tmp/engine" -spool "$NOTIFIER_SPOOL" status)
		want=$(( runs + 20 ))   # and bench/compare's 20 warm-up runs
		if ! grep -q "\"claimed\":$want," <<<"$status"; then
			echo "the $side engine did not claim all $want drops: $status" >&2
			exit 1
		fi
		kill -TERM "$epid"
		wait "$epid" || true
		epid=
		rm -rf "$dir"
		dir=
	done
done
echo "load: $(uptime)"
