#!/usr/bin/env bash
# Where the engine's time goes during issue 11's 1000-alarm run: runs
# bench/state -engine (notifier-drop per alarm, plain HTTP, no storm)
# with a notifier built with symbols, attaches `perf record -g` to the
# engine for the alarms (or, without perf, `strace -c -f` for its system
# calls), and prints the functions with the most CPU under them
# (children included), then bench/state's own report.
# Usage: bench/profile.sh [SECONDS] [STATE_DIR_BASE]   (12, /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-12}
base=${2:-/var/tmp}
tmp=$(mktemp -d)
dir=$(mktemp -d "$base/notifier-bench-profile.XXXXXX")
trap 'rm -rf "$tmp" "$dir"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
export CGO_ENABLED=0
go build -o "$tmp/notifier" ./cmd/notifier   # symbols kept, for perf
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier-drop" ./cmd/notifier-drop
go build -trimpath -ldflags '-s -w' -o "$tmp/post" ./bench/post
go build -o "$tmp/pdserver" ./bench/pdserver
go build -o "$tmp/state" ./bench/state
"$tmp/state" -notifier "$tmp/notifier" -drop "$tmp/notifier-drop" -engine -post "$tmp/post" -pdserver "$tmp/pdserver" \
	-dir "$dir" -n 1000 -batch 1000 -storm-runs 0 -bolt-ops 0 > "$tmp/out" 2>&1 &
bench=$!
pid=
for _ in $(seq 300); do
	pid=$(sed -n 's/^engine: .*(pid \([0-9]*\))$/\1/p' "$tmp/out")
	[ -n "$pid" ] && break
	sleep 0.1
done
[ -n "$pid" ] || { cat "$tmp/out"; exit 1; }
sleep 2   # bench/state's idle reading, then its warm-up and the alarms
echo "load: $(uptime)"
if command -v perf >/dev/null; then
	perf record -F 499 -g -p "$pid" -o "$tmp/perf.data" -- sleep "$secs" 2>/dev/null
	echo "== engine (pid $pid), perf, $secs s: functions by CPU under them (children), ours and the libraries' =="
	perf report -i "$tmp/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
		grep '%' | grep -v '\[k\]' | grep -E 'notifier/|bbolt|encoding/json|net/http|syscall\.|runtime\.gcBgMarkWorker' | head -45
else
	timeout "$secs" strace -c -f -p "$pid" -o "$tmp/strace" || true
	echo "== engine (pid $pid), strace -c, $secs s =="
	head -25 "$tmp/strace"
fi
wait "$bench"
cat "$tmp/out"
