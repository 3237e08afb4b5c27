#!/usr/bin/env bash
# Prints the shipped policy (policies/default.yaml) made safe to run in a
# benchmark: its state file moved to STATEDIR/state.db and a first rule
# that drops every event, so nothing is delivered while every rule and
# channel is still parsed and compiled. (Its condition is always true
# without being the literal "true", which lint rejects for shadowing the
# rules after it.) bench/drop.sh and
# bench/inittrace.sh use it. Usage: bench/dropall.sh STATEDIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: bench/dropall.sh STATEDIR}
mkdir -p "$dir"
awk -v db="$dir/state.db" '
	/^    path: \/var\/lib\/notifier\/state.db/ { print "    path: " db; next }
	/^rules:/ { print; print "  - name: bench-drop-all"; print "    when: event_type != \"bench-no-such-type\""; print "    drop: true"; next }
	{ print }
' policies/default.yaml
