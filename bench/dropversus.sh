#!/usr/bin/env bash
# One invocation with the engine running, old against new: notifier and
# notifier-drop built at REV and from this tree, each side with its own
# engine on a fresh state and spool (so neither inherits the other's
# deleted inodes or state), timed against bench/hello by bench/compare
# (interleaved, RUNS each), the sides alternating for ROUNDS rounds. The
# engine A/B numbers of docs/BENCHMARKS.md's third speed round.
# Usage: bench/dropversus.sh REV [RUNS] [STATE_DIR_BASE]   (300, /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/dropversus.sh REV [RUNS] [STATE_DIR_BASE]}
runs=${2:-300}
base=${3:-/var/tmp}
rounds=${ROUNDS:-2}
tmp=$(mktemp -d)
epid=
cleanup() {
	if [ -n "$epid" ]; then kill -TERM "$epid" 2>/dev/null && wait "$epid" || true; fi
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
	for side in old new; do
		dir=$(mktemp -d "$base/notifier-bench-dropversus.XXXXXX")
		bench/dropall.sh "$dir/state" > "$dir/policy.yaml"
		export NOTIFIER_CONFIG="$dir/policy.yaml" NOTIFIER_SPOOL="$dir/spool" NOTIFIER_CACHE_DIR="$dir/cache"
		"$tmp/$side/notifier" --config "$NOTIFIER_CONFIG" < "$event"   # makes the state file
		"$tmp/$side/notifier" serve --config "$NOTIFIER_CONFIG" --spool "$NOTIFIER_SPOOL" 2>>"$dir/engine.log" &
		epid=$!
		"$tmp/engine" -spool "$NOTIFIER_SPOOL" wait
		echo "== round $round, $side ($([ "$side" = old ] && echo "$rev" || echo "this tree")): notifier-drop against hello, its own engine running =="
		"$tmp/compare" -n "$runs" -stdin "$event" -baseline "$tmp/hello" -candidate "$tmp/$side/notifier-drop"
		kill -TERM "$epid"
		wait "$epid" || true
		epid=
		rm -rf "$dir"
	done
done
echo "load: $(uptime)"
