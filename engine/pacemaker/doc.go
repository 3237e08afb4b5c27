// Package pacemaker decodes the environment of a Pacemaker alert-agent
// invocation into an event.Event.
//
// Pacemaker runs the agent once per recipient with no arguments, stdin on
// /dev/null and the alert in environment variables: CRM_alert_* (3.0 and
// later), CRM_alert_* plus identical CRM_notify_* twins (2.x), or only
// CRM_notify_* (very old releases). Decode reads the CRM_alert_* names and
// falls back to CRM_notify_* only when CRM_alert_kind is absent. Instance
// attributes of the alert and recipient arrive as plain variables; they
// land in Event.Fields next to the raw CRM variables, and two of them,
// NOTIFIER_CLUSTER and NOTIFIER_CLUSTER_ID, override the cluster that the
// policy settings give (one alert per cluster can then name its cluster).
//
// event_type is the kind, or "resource_<task>" for resources
// ("resource_monitor"). time is timestamp_epoch + timestamp_usec, because
// the formatted timestamp follows the alert's timestamp-format and by
// default has no date. A missing integer variable is 0 (Pacemaker sends
// only those of the alert's kind); one that is present but does not parse,
// even empty, is an error naming it.
//
// # Deriving action, ok and severity
//
// Pacemaker sends no severity and no action; this table is the whole
// derivation and the project README copies it. Rows are tried top-down
// within a kind. Only numbers are used: desc wording changed in 3.0 and
// mixes OCF and execution-status text, so it is never parsed (except the
// node kind, where it is exactly "member" or "lost").
//
//	| kind      | condition                        | ok    | action | severity |
//	|-----------|----------------------------------|-------|--------|----------|
//	| node      | desc == "member"                 | true  | remove | info     |
//	| node      | anything else ("lost")           | false | new    | critical |
//	| fencing   | rc == 0                          | true  | new    | critical |
//	| fencing   | rc != 0 (e.g. -19, -62)          | false | new    | critical |
//	| resource  | status == 1 (Cancelled)          | false | update | info     |
//	| resource  | ok, task != "stop"               | true  | remove | info     |
//	| resource  | ok, task == "stop"               | true  | update | info     |
//	| resource  | not ok, task == "stop"           | false | new    | critical |
//	| resource  | not ok, any other task           | false | new    | warning  |
//	| attribute | always                           | true  | update | info     |
//
// For resources ok means status == 0 && rc == target_rc. Why the rows are
// what they are:
//   - A fenced node, or a fencing request that failed, needs a human either
//     way, so both fencing rows are new and critical; ok tells them apart.
//   - Cancelled (status 1) precedes every stop of a recurring monitor and
//     may carry a stale rc; it is neither a problem nor a recovery.
//   - A successful start, promote or monitor clears an earlier failure of
//     the same resource (same key), so it resolves the incident. A
//     successful stop does not: the resource is now down on that node.
//   - A failed stop makes Pacemaker fence the node, hence critical.
//
// # Event id and key
//
// The id is stable across nodes and runs: it never contains the local host
// (every node sends its own copy of node and fencing alerts) nor
// node_sequence (a per-process counter that restarts at 1).
//
//	| kind      | id                                |
//	|-----------|-----------------------------------|
//	| node      | node/<node>                       |
//	| resource  | resource/<node>/<rsc>             |
//	| fencing   | fencing/<node>  (node = target)   |
//	| attribute | attribute/<node>/<attribute_name> |
//
// The key is "pacemaker/<cluster>/<id>", where <cluster> is the cluster
// name, else the decimal cluster id when it is not zero, else "default".
// A monitor failure and the later successful start of the same resource
// therefore share one key, and so resolve each other.
package pacemaker
