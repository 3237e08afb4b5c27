#!/usr/bin/env bash
# What the 1000-alarm target (issue 11: at most 1.0x bench/post) leaves to
# the engine: 1000 notifier-drop processes, 16 at a time, answered
# "claimed" at once by a fake engine (bench/engine fake: no claim, no
# decision, no delivery) against 1000 bench/post processes posting to
# bench/pdserver over plain HTTP; rounds alternate which goes first;
# every process is started by `xargs -P 16 sh -c` on both sides. The
# ratio is the drop's own cost against a post: if it is near or above
# 1.0x, no engine can meet the target on this machine.
# Usage: bench/dropalone.sh [ROUNDS] [STATE_DIR_BASE]   (3, /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
base=${2:-/var/tmp}
tmp=$(mktemp -d)
dir=$(mktemp -d "$base/notifier-bench-dropalone.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp" "$dir"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier-drop" ./cmd/notifier-drop
go build -trimpath -ldflags '-s -w' -o "$tmp/post" ./bench/post
go build -o "$tmp/pdserver" ./bench/pdserver
go build -o "$tmp/engine" ./bench/engine
event=$PWD/examples/events/cmon/alarm-new-critical.json
mkdir -p "$dir/spool"
"$tmp/engine" -spool "$dir/spool" fake &
pids+=($!)
"$tmp/engine" -spool "$dir/spool" wait
mkfifo "$tmp/pd.in"
"$tmp/pdserver" < "$tmp/pd.in" > "$tmp/pd.out" &
pids+=($!)
exec 3> "$tmp/pd.in"   # pdserver serves until this closes
until [ -s "$tmp/pd.out" ]; do sleep 0.05; done
url=$(awk '{print $1}' "$tmp/pd.out")
export NOTIFIER_CONFIG="$dir/policy.yaml" NOTIFIER_SPOOL="$dir/spool"
drops() { seq 1000 | xargs -P 16 -I{} sh -c "$tmp/notifier-drop < $event"; }
posts() { seq 1000 | xargs -P 16 -I{} sh -c "$tmp/post -url $url -key bench0routing0key000000000000001 < $event"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
echo "load: $(uptime)"
td=0 tp=0
for r in $(seq "$rounds"); do
	if [ $((r % 2)) = 1 ]; then d=$(secs drops); p=$(secs posts); else p=$(secs posts); d=$(secs drops); fi
	printf 'round %d: notifier-drop (fake engine) %.3f s, post %.3f s, ratio %.2fx\n' "$r" "$d" "$p" "$(echo "$d / $p" | bc -l)"
	td=$(echo "$td + $d" | bc) tp=$(echo "$tp + $p" | bc)
done
printf 'total: notifier-drop %.3f s, post %.3f s, ratio %.2fx\n' "$td" "$tp" "$(echo "$td / $tp" | bc -l)"
echo "load: $(uptime)"
