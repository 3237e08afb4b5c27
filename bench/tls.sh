#!/usr/bin/env bash
# The alarms workload of bench/state.sh against a local HTTPS endpoint
# that answers each event after a delay, as events.pagerduty.com does
# from afar (issue 11): 1000 distinct CMON alarms as 1000 notifier
# processes, 16 at a time, against bench/post, a new process and so a
# full TLS handshake per event. Besides the wall-time ratio it prints when
# the endpoint accepted the last trigger relative to the last exit.
# notifier trusts the endpoint's CA through SSL_CERT_FILE, post through
# -ca (or, with -roots system, both the system roots and the CA through
# SSL_CERT_FILE); nothing skips verification.
# Usage: bench/tls.sh [STATE_DIR] [flags for bench/state...]
#   defaults: -tls -latency 40ms -storm-runs 0 -bolt-ops 0; later flags
#   win, e.g. bench/tls.sh /var/tmp -latency 0 -n 300, or -tls=false for
#   plain HTTP with the same latency.
set -euo pipefail
cd "$(dirname "$0")/.."
base=/var/tmp
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    base=$1
    shift
fi
exec bench/state.sh "$base" -tls -latency 40ms -storm-runs 0 -bolt-ops 0 "$@"
