#!/usr/bin/env bash
# Issue 11's throughput targets, with the resident engine: bench/state
# (see its doc comment) with `notifier serve` running on the benchmark's
# policy and spool for the whole run, and notifier-drop invoked per
# alarm (it hands each event to the engine). Two runs, each side by side
# with bench/post in interleaved batches:
#   plain: 1000 distinct alarms as 1000 processes, 16 at a time, against
#          bench/post over plain HTTP (target <= 1.0x the wall time, all
#          accepted within 2 s of the last exit); then 200 processes of
#          one alarm started at once, 10 times (exactly one page each;
#          all 200 done in < 0.5 s); the engine's memory idle after start
#          and after the storms (<= 30 MB).
#   tls:   the same 1000 alarms against bench/pdserver -tls -latency 40ms,
#          against bench/post -ca, a full handshake per process (target
#          <= 0.3x; all delivered within 2 s of the last exit); both trust
#          only the endpoint's CA, with an empty SSL_CERT_DIR
#          (docs/BENCHMARKS.md: Go reads all of /etc/ssl/certs otherwise).
# Each round is 1000 alarms of notifier-drop and 1000 of post, their order
# alternating from round to round (ROUNDS, default 3): the tail after a
# round's last exit is the engine's whole backlog for 1000 alarms, as the
# issue states the target; the ratio is of the summed wall times, with
# each round's own ratio printed (bench/state's "batches").
# Usage: bench/engine.sh [STATE_DIR_BASE] [plain|tls|both]
#   STATE_DIR_BASE (default /var/tmp) holds the state file and the spool:
#   its file system is part of what is measured. DROP=notifier invokes
#   the full binary as the drop instead of notifier-drop; ENGINE_ARGS adds
#   arguments to notifier serve (e.g. ENGINE_ARGS="--workers 64").
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-/var/tmp}
which=${2:-both}
rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
dirs=()
trap 'rm -rf "$tmp" "${dirs[@]}"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier" ./cmd/notifier
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier-drop" ./cmd/notifier-drop
go build -trimpath -ldflags '-s -w' -o "$tmp/post" ./bench/post
go build -o "$tmp/pdserver" ./bench/pdserver
go build -o "$tmp/state" ./bench/state
drop="$tmp/notifier-drop"
if [ "${DROP:-}" = notifier ]; then
	drop="$tmp/notifier"
fi
run() {
	local dir
	dir=$(mktemp -d "$base/notifier-bench-engine.XXXXXX")
	dirs+=("$dir")
	"$tmp/state" -notifier "$tmp/notifier" -drop "$drop" -engine -post "$tmp/post" -pdserver "$tmp/pdserver" -dir "$dir" -n "$((rounds * 1000))" -batch 1000 -bolt-ops 0 -engine-args "${ENGINE_ARGS:-}" "$@"
}
echo "load: $(uptime)"
if [ "$which" != tls ]; then
	echo "== plain HTTP, engine running =="
	run
fi
if [ "$which" != plain ]; then
	echo
	echo "load: $(uptime)"
	echo "== TLS, endpoint answering after 40 ms, engine running =="
	run -tls -latency 40ms -storm-runs 0
fi
echo "load: $(uptime)"
