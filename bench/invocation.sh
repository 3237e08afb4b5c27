#!/usr/bin/env bash
# Issue 11's targets for one invocation: start-up against bench/hello
# (median, interleaved by bench/compare; target <= 1.8x with the engine
# running) and peak RSS (<= 10 MB), for notifier-drop and for the full
# binary as the drop (`notifier`, i.e. `notifier run`), with the policy
# unchanged and with the policy rewritten before every invocation
# (compare -touch: a new file renamed over it, as an editor does).
# Then, with GODEBUG=inittrace=1, what notifier-drop's start-up still
# spends in package initialisation; then the same invocations with the
# engine stopped (the in-process path), for the record.
# The policy is the shipped one whose first rule drops everything
# (bench/dropall.sh): the engine decides each event, nothing is
# delivered. The engine is `notifier serve` on that policy and a spool
# under STATE_DIR_BASE; its memory is read from /proc after start and
# after the runs.
# To see where notifier-drop's time goes it is also timed against hello
# answered by a fake engine (bench/engine fake: "claimed" at once, nothing
# claimed), beside bench/dropfloor (the same durable write, nothing else).
# Usage: bench/invocation.sh [RUNS] [STATE_DIR_BASE]   (300, /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
base=${2:-/var/tmp}
tmp=$(mktemp -d)
dir=$(mktemp -d "$base/notifier-bench-invocation.XXXXXX")
epid=
cleanup() {
	if [ -n "$epid" ]; then kill -TERM "$epid" 2>/dev/null && wait "$epid" || true; fi
	rm -rf "$tmp" "$dir"
}
trap cleanup EXIT
export CGO_ENABLED=0
for p in cmd/notifier cmd/notifier-drop bench/hello bench/dropfloor; do
	go build -trimpath -ldflags '-s -w' -o "$tmp/$(basename "$p")" "./$p"
done
go build -o "$tmp/compare" ./bench/compare
go build -o "$tmp/inittrace" ./bench/inittrace
go build -o "$tmp/engine" ./bench/engine
event=examples/events/cmon/alarm-new-critical.json
policy="$dir/policy.yaml"
bench/dropall.sh "$dir/state" > "$policy"
# As CMON runs the plugin: the policy and the spool named, nothing else
# (no $NOTIFIER_STATE_PATH: the policy names its state file).
export NOTIFIER_CONFIG="$policy" NOTIFIER_SPOOL="$dir/spool" NOTIFIER_CACHE_DIR="$dir/cache"
unset NOTIFIER_CLAIM_WAIT NOTIFIER_BIN NOTIFIER_STATE_PATH
drop="$tmp/notifier-drop"
full="$tmp/notifier"
cmp() { "$tmp/compare" -n "$1" -stdin "$event" -baseline "$tmp/hello" "${@:2}"; }
rss() { # median peak RSS (KiB) of 11 runs of "$@", GNU time's report
	for _ in $(seq 11); do
		/usr/bin/time -v "$@" < "$event" 2>&1 >/dev/null | awk '/Maximum resident/ {print $NF}'
	done | sort -n | sed -n 6p
}
start_engine() {
	"$full" serve --config "$policy" --spool "$dir/spool" 2>>"$dir/engine.log" &
	epid=$!
	"$tmp/engine" -spool "$dir/spool" wait
}
stop_engine() {
	kill -TERM "$epid"
	local rc=0
	wait "$epid" || rc=$?
	epid=
	echo "engine: SIGTERM, exit status $rc; its log: $(wc -l < "$dir/engine.log") lines"
}

echo "load: $(uptime)"
echo "spool: $dir/spool ($(df -PT "$dir" | awk 'NR==2{print $2" on "$1}'))"
"$full" --config "$policy" < "$event"   # no engine yet: in-process, makes the state file
start_engine
sleep 2
echo "engine (pid $epid) idle 2 s after start: $("$tmp/engine" -pid "$epid" mem | tr '\n' ' ')"
echo "engine status: $("$tmp/engine" -spool "$dir/spool" status || true)"

echo
echo "== engine running: notifier-drop, policy unchanged =="
cmp "$runs" -candidate "$drop"
echo "== engine running: notifier-drop, policy rewritten before every invocation =="
cmp "$runs" -candidate "$drop" -touch "$policy"
echo "== engine running: notifier (the full binary as the drop), policy unchanged =="
cmp "$runs" -candidate "$full"
echo "== engine running: notifier, policy rewritten before every invocation =="
cmp "$runs" -candidate "$full" -touch "$policy"
echo "engine status after (claimed must count every invocation above, declined none): $("$tmp/engine" -spool "$dir/spool" status || true)"
echo "spool depth (new/ + claimed/) after: $("$tmp/engine" -spool "$dir/spool" depth); bad/: $(ls "$dir/spool/bad" 2>/dev/null | wc -l)"

echo
echo "== where notifier-drop's time goes: hello -> dropfloor (the spool write's I/O alone) -> notifier-drop"
echo "   answered \"claimed\" at once by a fake engine (start-up, decoding, the wake-up) -> the real engine (above) =="
cmp "$runs" -candidate "$tmp/dropfloor -spool $dir/floor"
mkdir -p "$dir/fake"
"$tmp/engine" -spool "$dir/fake" fake &
fpid=$!
"$tmp/engine" -spool "$dir/fake" wait
NOTIFIER_SPOOL="$dir/fake" cmp "$runs" -candidate "$drop"
kill "$fpid"
wait "$fpid" 2>/dev/null || true

echo
echo "== init cost, engine running =="
"$tmp/inittrace" -n "$((runs / 3))" -top 30 -stdin "$event" -- "$drop"
"$tmp/inittrace" -n "$((runs / 3))" -top 10 -stdin "$event" -- "$full"
"$tmp/inittrace" -n "$((runs / 3))" -top 5 -stdin "$event" -- "$tmp/hello"

echo
echo "== peak RSS, /usr/bin/time -v, median of 11 (KiB) =="
echo "$(rss "$tmp/hello") hello"
echo "$(rss "$drop") notifier-drop, engine running"
echo "$(rss "$full") notifier, engine running"
echo "engine after all the runs above: $("$tmp/engine" -pid "$epid" mem | tr '\n' ' ')"
stop_engine
echo "$(rss "$drop") notifier-drop, no engine (execs notifier run --spooled: the peak of both images)"
echo "$(rss "$full") notifier, no engine (in-process)"

echo
echo "== no engine (the in-process path), for the record =="
cmp "$((runs / 3))" -candidate "$drop"
cmp "$((runs / 3))" -candidate "$full"
echo "spool depth (new/ + claimed/) at the end: $("$tmp/engine" -spool "$dir/spool" depth); bad/: $(ls "$dir/spool/bad" 2>/dev/null | wc -l)"
echo "load: $(uptime)"
