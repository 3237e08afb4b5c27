// Package cmon decodes the JSON message that CMON (ClusterControl) writes
// on a plugin's stdin into an event.Event.
//
// CMON runs every executable in its plugin_dir once per alarm change and
// writes one JSON object to its stdin. Two shapes are accepted:
//
//   - the 1.2.8 plugin envelope
//     {"type":"alarm","action":"new","alarm":{...},"cmon_hostname":"..."};
//     a well-formed envelope whose type is not "alarm" yields a
//     *NotAlarmError, which callers log and ignore;
//   - a bare CmonAlarm object (it has "alarm_id" or class_name
//     "CmonAlarm", and no "alarm" key), as later CMON versions and
//     s9s-tools describe alarms. It is treated as action "new".
//
// Inside the alarm either the plugin key names or the CmonAlarm names may
// be used; where both are present the plugin name wins. The mapping:
//
//	event field     from                                   notes
//	source          "cmon"
//	kind            "alarm"
//	action          envelope action                        new | update | remove; anything else is an error
//	ok              action == "remove"
//	severity        severity_name, else severity           ALARM_CRITICAL or 2 -> critical,
//	                                                       ALARM_WARNING or 1 -> warning, else info
//	severity_raw    severity_name, else severity           as sent (a number as its decimal text)
//	cluster_id      cid, else cluster_id                   integer
//	cluster         Options.Cluster.Name                   when Options.Cluster.ID is 0 or equals cluster_id
//	node            hostname
//	event_type      type if a string, else type_name       else a numeric type as its decimal text
//	id              id, else alarm_id                      exact decimal text (ids exceed int64); a string as given
//	name            name, else title
//	message         message
//	recommendation  recommendation
//	count           count, else counter                    integer
//	node_id         nodeid, else host_id                   integer
//	controller      envelope cmon_hostname                 Options.Host when empty or missing
//	time            Options.Now                            receipt time; CMON sends none in the envelope
//	fields          every alarm key                        strings unquoted, numbers exact, true/false,
//	                                                       null as "", objects and arrays as compact JSON
//	key             cmon/<controller>/<cluster_id>/<id>
//
// Integer fields must be JSON integers that fit in an int; a string, a
// fraction or an exponent there is an error naming the field, because a
// policy comparing cluster_id == 3 must not silently see 0. Mapped text
// fields must be strings (or null). A missing or empty id is an error: the
// key, and so suppression and resolve, depends on it.
//
// Every error is one line, names the problem and quotes bad values with
// %q, truncated, so it can go to stderr and the audit log as is.
package cmon
