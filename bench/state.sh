#!/usr/bin/env bash
# The state pipeline as whole processes (issue 3), see docs/BENCHMARKS.md:
#   alarms: 1000 distinct CMON alarms as 1000 notifier processes, 16 at a
#           time, delivered to a local PagerDuty endpoint, against a Go
#           program that only posts each event (interleaved batches);
#   storm:  200 processes of one alarm started at once: total wall time;
#   bolt:   what one state transaction costs on the same file system.
# Usage: bench/state.sh [STATE_DIR] [flags for bench/state...]
#   STATE_DIR (default: a new directory under /var/tmp) is where the state
#   file lives: its file system, and so the cost of fsync, is part of what
#   is measured. Pass a directory on tmpfs (/dev/shm) to see the cost
#   without it.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-/var/tmp}
shift || true
tmp=$(mktemp -d)
dir=$(mktemp -d "$base/notifier-bench-state.XXXXXX")
trap 'rm -rf "$tmp" "$dir"' EXIT
export CGO_ENABLED=0
go build -trimpath -ldflags '-s -w' -o "$tmp/notifier" ./cmd/notifier
go build -trimpath -ldflags '-s -w' -o "$tmp/post" ./bench/post
go build -o "$tmp/pdserver" ./bench/pdserver
go build -o "$tmp/state" ./bench/state
subject="$tmp/notifier"
if [ "${FLOOR:-}" = 1 ]; then
    # The floor of the design instead of notifier: record, post, record (bench/floor).
    go build -trimpath -ldflags '-s -w' -o "$tmp/floor" ./bench/floor
    subject="$tmp/floor"
fi
"$tmp/state" -notifier "$subject" -post "$tmp/post" -pdserver "$tmp/pdserver" -dir "$dir" "$@"
