#!/usr/bin/env bash
# The floor under issue 11's two 1000-alarm targets (engine running: at
# most 1.0x bench/post over plain HTTP; at most 0.3x a per-process TLS
# poster against an endpoint answering after 40 ms): 1000 processes of
# bench/dropfloor — a hello-sized program doing only the drop's durable
# write (temp file, fsync, rename into new/, fsync of new/), no decoding,
# no socket, no engine, nothing ever deleted (so none of the engine's
# work and none of the churn of deleted entries is charged to it) —
# against 1000 bench/post processes, plain and TLS + 40 ms, 16 at a time,
# every process exec'd directly by bench/par (as bench/state runs them),
# rounds alternating which goes first. Also bench/hello the same way: the cost
# of starting 1000 processes at all. If dropfloor's ratio is above a
# target, no drop that writes its event durably, and no engine, can meet
# that target on this machine.
# Usage: bench/floor1000.sh [ROUNDS] [STATE_DIR_BASE]   (3, /var/tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
base=${2:-/var/tmp}
tmp=$(mktemp -d)
dir=$(mktemp -d "$base/notifier-bench-floor1000.XXXXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp" "$dir"' EXIT
export CGO_ENABLED=0
for p in bench/dropfloor bench/post bench/hello; do
	go build -trimpath -ldflags '-s -w' -o "$tmp/$(basename "$p")" "./$p"
done
go build -o "$tmp/pdserver" ./bench/pdserver
go build -o "$tmp/par" ./bench/par
event=$PWD/examples/events/cmon/alarm-new-critical.json
# endpoint NAME ARGS...: starts a pdserver, sets url_NAME.
endpoint() {
	local name=$1
	shift
	mkfifo "$tmp/$name.in"
	"$tmp/pdserver" "$@" < "$tmp/$name.in" > "$tmp/$name.out" &
	pids+=($!)
	eval "exec {fd_$name}> \"$tmp/$name.in\""   # serves until this closes
	until [ -s "$tmp/$name.out" ]; do sleep 0.05; done
	eval "url_$name=\$(awk '{print \$1}' \"$tmp/$name.out\")"
}
endpoint plain
endpoint tls -tls -ca-out "$tmp/ca.pem" -latency 40ms
key=bench0routing0key000000000000001
par() { "$tmp/par" -n 1000 -p 16 -stdin "$event" -- "$@" | tee -a "$tmp/par.out" >&2; }
floor() { par "$tmp/dropfloor" -spool "$dir/spool"; }
hello() { par "$tmp/hello"; }
post() { par "$tmp/post" -url "$url_plain" -key "$key"; }
tlspost() { par "$tmp/post" -ca "$tmp/ca.pem" -url "$url_tls" -key "$key"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
echo "load: $(uptime)"
declare -A sum
for r in $(seq "$rounds"); do
	order=(floor hello post tlspost)
	if [ $((r % 2)) = 0 ]; then order=(tlspost post hello floor); fi
	declare -A t
	for w in "${order[@]}"; do
		t[$w]=$(secs "$w")
		sum[$w]=$(echo "${sum[$w]:-0} + ${t[$w]}" | bc)
	done
	printf 'round %d: dropfloor %.3f s, hello %.3f s, post %.3f s, TLS post %.3f s; dropfloor/post %.2fx, dropfloor/TLS post %.2fx\n' \
		"$r" "${t[floor]}" "${t[hello]}" "${t[post]}" "${t[tlspost]}" \
		"$(echo "${t[floor]} / ${t[post]}" | bc -l)" "$(echo "${t[floor]} / ${t[tlspost]}" | bc -l)"
done
printf 'total: dropfloor %.3f s, hello %.3f s, post %.3f s, TLS post %.3f s\n' "${sum[floor]}" "${sum[hello]}" "${sum[post]}" "${sum[tlspost]}"
printf 'dropfloor/post %.2fx (target for the drop and the engine together: 1.0x); dropfloor/TLS post %.2fx (target 0.3x); hello/post %.2fx; hello/TLS post %.2fx\n' \
	"$(echo "${sum[floor]} / ${sum[post]}" | bc -l)" "$(echo "${sum[floor]} / ${sum[tlspost]}" | bc -l)" \
	"$(echo "${sum[hello]} / ${sum[post]}" | bc -l)" "$(echo "${sum[hello]} / ${sum[tlspost]}" | bc -l)"
echo "load: $(uptime)"
