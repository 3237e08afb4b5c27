#!/usr/bin/env bash
# Checks the Prometheus and Grafana examples: the scrape config, the alerting rules and their unit
# tests (promtool), the dashboard (valid JSON; its queries parse as PromQL), and that every
# notifier_* name they use is one of notifier's metrics (the list below: docs of issue 14, and
# engine/metrics/defs.go, which is compared with it when present).
# Run from anywhere:  examples/prometheus/check.sh      Exit 0 when all pass, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

config=examples/prometheus/prometheus.yml
rules=examples/prometheus/notifier-rules.yml
tests=examples/prometheus/notifier-rules_test.yml
dashboard=examples/grafana/notifier.json

# notifier's metric names (a histogram's series: _bucket, _sum, _count).
names="
notifier_events_total
notifier_deliveries_total
notifier_delivery_duration_seconds
notifier_delivery_duration_seconds_bucket
notifier_delivery_duration_seconds_sum
notifier_delivery_duration_seconds_count
notifier_state_fail_open_total
notifier_state_degraded_total
notifier_engine_reloads_total
notifier_self_alerts_total
notifier_outbox_entries
notifier_outbox_oldest_entry_age_seconds
notifier_spool_entries
notifier_spool_oldest_entry_age_seconds
notifier_rejected_inputs
notifier_rejected_last_timestamp_seconds
notifier_dead_letters
notifier_channel_failing
notifier_policy_last_good
notifier_self_alert_open
notifier_engine_up
notifier_build_info
"
# The families (no histogram suffixes): what engine/metrics defines, what the dashboard must show.
families=$(printf '%s\n' $names | grep -Ev '_(bucket|sum|count)$')

if ! command -v promtool >/dev/null; then
  echo "check.sh: promtool not found in PATH. Install it (Debian 12: promtool 2.42, from the prometheus package):" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends prometheus" >&2
  exit 1
fi
if command -v jq >/dev/null; then
  json_valid() { jq empty "$1"; }
  # Every query of the dashboard (panels' targets and the host variable), one JSON string a line.
  json_exprs() { jq -c '.. | objects | (.expr?, .definition?) | strings' "$1"; }
elif command -v python3 >/dev/null; then
  json_valid() { python3 -m json.tool "$1" >/dev/null; }
  json_exprs() {
    python3 - "$1" <<'EOF'
import json, sys
def walk(v):
    if isinstance(v, dict):
        for k in ("expr", "definition"):
            if isinstance(v.get(k), str):
                print(json.dumps(v[k]))
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(json.load(open(sys.argv[1])))
EOF
  }
else
  echo "check.sh: needs jq or python3 for the dashboard:  apt-get install -y jq" >&2
  exit 1
fi

failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
run() { echo "+ $*"; "$@" || fail "$*"; }

promtool --version 2>&1 | head -n 1
run promtool check config "$config"
run promtool check rules "$rules"
run promtool test rules "$tests"

echo "+ dashboard: $dashboard is valid JSON"
if json_valid "$dashboard"; then
  # Its queries, with Grafana's variables given values, must parse: as recording rules for promtool.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  {
    echo "groups:"
    echo "  - name: dashboard"
    echo "    rules:"
    i=0
    while IFS= read -r expr; do
      i=$((i + 1))
      expr=${expr//query_result(/(}         # Grafana's own function around a PromQL query
      expr=${expr//\$__rate_interval/5m}
      expr=${expr//\$__range/1h}
      expr=${expr//\$host/.+}
      echo "      - record: dashboard:query_$i"
      echo "        expr: $expr"           # a JSON string is a YAML scalar
    done < <(json_exprs "$dashboard")
  } > "$tmp/dashboard-queries.yml"
  n=$(grep -c 'record:' "$tmp/dashboard-queries.yml" || true)
  echo "+ dashboard: its $n queries parse (promtool check rules)"
  if [ "$n" -eq 0 ]; then
    fail "no queries found in $dashboard"
  elif ! promtool check rules "$tmp/dashboard-queries.yml" >"$tmp/out" 2>&1; then
    cat "$tmp/out" >&2
    fail "a query in $dashboard does not parse"
  fi
else
  fail "$dashboard is not valid JSON"
fi

echo "+ every notifier_* name in the rules, their tests and the dashboard is a notifier metric"
for f in "$rules" "$tests" "$dashboard"; do
  for used in $(grep -oE 'notifier_[a-z_]+' "$f" | sort -u); do
    printf '%s\n' $names | grep -qxF "$used" || fail "$f: $used is not a notifier metric"
  done
done
echo "+ the dashboard shows every metric"
for fam in $families; do
  grep -qE "\\b${fam}(_bucket)?\\b" "$dashboard" || fail "$dashboard: no panel uses $fam"
done

defs=engine/metrics
if [ -d "$defs" ]; then
  echo "+ the list above is $defs's (Name: \"notifier_...\")"
  code=$(grep -rhoE 'Name: +"notifier_[a-z_]+"' --include='*.go' --exclude='*_test.go' "$defs" \
    | grep -oE 'notifier_[a-z_]+' | sort -u)
  want=$(printf '%s\n' $families | sort -u)
  if [ "$code" != "$want" ]; then
    diff <(echo "$want") <(echo "$code") | sed 's/^/  /' >&2 || true
    fail "the names in check.sh (<) and in $defs (>) differ"
  fi
fi

if [ "$failed" -ne 0 ]; then
  echo "check.sh: FAILED" >&2
  exit 1
fi
echo "check.sh: all passed"
