package pacemaker

import (
	"encoding/hex"
	"fmt"
	"hash"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"notifier/engine/event"
)

// Variable prefixes. Pacemaker 2.x sends both with identical values, 3.0
// only the first, releases before 1.1.15 only the second.
const (
	alertPrefix  = "CRM_alert_"
	notifyPrefix = "CRM_notify_"
)

// Instance attributes that override Options.Cluster, so one alert
// definition can name the cluster it belongs to.
const (
	clusterNameVar = "NOTIFIER_CLUSTER"
	clusterIDVar   = "NOTIFIER_CLUSTER_ID"
)

// Kinds Pacemaker alerts on.
const (
	kindNode      = event.KindNode
	kindFencing   = event.KindFencing
	kindResource  = event.KindResource
	kindAttribute = event.KindAttribute
)

// statusCancelled is PCMK_EXEC_CANCELLED: the executor cancelled a
// recurring operation, which happens before every stop of a monitored
// resource.
const statusCancelled = 1

// Detect reports whether env is a Pacemaker alert invocation:
// CRM_alert_kind or CRM_notify_kind is set. The caller checks this BEFORE
// touching stdin, because Pacemaker gives the agent /dev/null there and
// CMON, the other caller, sends its event on stdin. A variable that is set
// but empty still counts, so Decode reports it instead of the run blocking
// on stdin.
func Detect(env map[string]string) bool {
	_, alert := env[alertPrefix+"kind"]
	_, notify := env[notifyPrefix+"kind"]
	return alert || notify
}

// Options carries what the environment does not: the local host and the
// policy's cluster defaults.
type Options struct {
	// Host is the local host name; it becomes Event.Controller and never
	// enters the key, since every node sends its own copy of an alert.
	Host string
	// Now is used only when the timestamp variables are missing.
	Now time.Time
	// Cluster names the cluster unless the alert's instance attributes
	// NOTIFIER_CLUSTER / NOTIFIER_CLUSTER_ID say otherwise.
	Cluster event.ClusterDefaults
}

// alertVars reads one alert's variables under the prefix Pacemaker used.
type alertVars struct {
	env    map[string]string
	prefix string
}

func (v alertVars) str(name string) string { return v.env[v.prefix+name] }

// int parses an integer variable; a missing one is 0 because Pacemaker
// only sends the numbers that belong to the alert's kind.
func (v alertVars) int(name string) (n int, present bool, err error) {
	key := v.prefix + name
	s, ok := v.env[key]
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(s)
	if err != nil {
		return 0, true, fmt.Errorf("pacemaker: %s: %q is not an integer", key, s)
	}
	return n, true, nil
}

// Decode turns one alert invocation's environment into an Event: the
// fields as sent, action/ok/severity from the table in the package doc,
// and a key that every node computes alike.
func Decode(env map[string]string, opts Options) (event.Event, error) {
	v := alertVars{env: env, prefix: alertPrefix}
	if _, ok := env[alertPrefix+"kind"]; !ok {
		if _, ok := env[notifyPrefix+"kind"]; !ok {
			return event.Event{}, fmt.Errorf("pacemaker: neither %skind nor %skind is set", alertPrefix, notifyPrefix)
		}
		v.prefix = notifyPrefix
	}

	ev := event.Event{
		Source:         event.SourcePacemaker,
		Kind:           v.str("kind"),
		Node:           v.str("node"),
		Task:           v.str("task"),
		Rsc:            v.str("rsc"),
		Desc:           v.str("desc"),
		Recipient:      v.str("recipient"),
		AttributeName:  v.str("attribute_name"),
		AttributeValue: v.str("attribute_value"),
		Message:        v.str("desc"),
		Count:          1,
		Controller:     opts.Host,
		ClusterID:      opts.Cluster.ID,
		Cluster:        opts.Cluster.Name,
	}
	switch ev.Kind {
	case kindNode, kindFencing, kindResource, kindAttribute:
	default:
		return event.Event{}, fmt.Errorf("pacemaker: %skind: unknown kind %q (want node, fencing, resource or attribute)", v.prefix, ev.Kind)
	}

	for _, f := range []struct {
		name string
		dst  *int
	}{
		{"rc", &ev.RC},
		{"target_rc", &ev.TargetRC},
		{"status", &ev.Status},
		{"interval", &ev.IntervalMS},
		{"nodeid", &ev.NodeID},
	} {
		n, _, err := v.int(f.name)
		if err != nil {
			return event.Event{}, err
		}
		*f.dst = n
	}

	t, err := alertTime(v, opts.Now)
	if err != nil {
		return event.Event{}, err
	}
	ev.Time = t

	if s := env[clusterNameVar]; s != "" {
		ev.Cluster = s
	}
	if s := env[clusterIDVar]; s != "" {
		id, err := strconv.Atoi(s)
		if err != nil {
			return event.Event{}, fmt.Errorf("pacemaker: %s: %q is not an integer", clusterIDVar, s)
		}
		ev.ClusterID = id
	}

	ev.OK, ev.Action, ev.Severity = derive(ev)
	ev.EventType = ev.Kind
	if ev.Kind == kindResource && ev.Task != "" {
		ev.EventType = kindResource + "_" + ev.Task
	}
	ev.ID = eventID(ev)
	ev.Key = "pacemaker/" + clusterSegment(ev) + "/" + ev.ID
	ev.Fields = fields(env, v.prefix)
	return ev, nil
}

// alertTime is timestamp_epoch + timestamp_usec: the formatted timestamp
// follows the alert's timestamp-format (by default a time of day without
// a date) and cannot be parsed reliably. Without an epoch the usec alone
// means nothing, so the time falls back to now.
func alertTime(v alertVars, now time.Time) (time.Time, error) {
	epoch, haveEpoch, err := v.int("timestamp_epoch")
	if err != nil {
		return time.Time{}, err
	}
	usec, _, err := v.int("timestamp_usec")
	if err != nil {
		return time.Time{}, err
	}
	if usec < 0 || usec > 999999 {
		return time.Time{}, fmt.Errorf("pacemaker: %stimestamp_usec: %d is out of range 0-999999", v.prefix, usec)
	}
	if !haveEpoch {
		return now, nil
	}
	return time.Unix(int64(epoch), int64(usec)*int64(time.Microsecond)).UTC(), nil
}

// derive implements the table in the package doc; keep the two in step.
func derive(ev event.Event) (ok bool, action, severity string) {
	switch ev.Kind {
	case kindNode:
		if ev.Desc == "member" {
			return true, event.ActionRemove, event.SeverityInfo
		}
		return false, event.ActionNew, event.SeverityCritical
	case kindFencing:
		// Fenced or failed to fence: a human looks either way.
		return ev.RC == 0, event.ActionNew, event.SeverityCritical
	case kindResource:
		ok := ev.Status == 0 && ev.RC == ev.TargetRC
		switch {
		case ev.Status == statusCancelled:
			return false, event.ActionUpdate, event.SeverityInfo
		case ok && ev.Task != "stop":
			return true, event.ActionRemove, event.SeverityInfo
		case ok:
			return true, event.ActionUpdate, event.SeverityInfo
		case ev.Task == "stop":
			// A failed stop leaves the resource in an unknown state;
			// Pacemaker fences the node next.
			return false, event.ActionNew, event.SeverityCritical
		default:
			return false, event.ActionNew, event.SeverityWarning
		}
	}
	// kindAttribute: Decode has rejected every other kind.
	return true, event.ActionUpdate, event.SeverityInfo
}

// OccurrenceOf is Occurrence for a Pacemaker event, "" for any other.
func OccurrenceOf(ev *event.Event) string {
	if ev.Source != event.SourcePacemaker {
		return ""
	}
	return Occurrence(ev.Fields)
}

// Occurrence identifies one alert across the processes Pacemaker starts
// for it — one per recipient, alike but for the recipient — from an
// event's fields: a hash of every field but the recipient, the
// node_sequence and, when the epoch is there, the timestamp each
// recipient formats its own way. The instance attributes stay in: a
// recipient whose attributes differ (its own NOTIFIER_CONFIG, another
// team's policy) is another audience, never a duplicate. It is ""
// without a timestamp, which alone tells two alerts with otherwise equal
// variables apart.
//
// The hash is FNV-1a, 128 bits: it tells apart alerts that Pacemaker,
// not an adversary, writes, and it keeps crypto's packages (and their
// start-up) out of notifier-drop. (Before 2026-12 it was SHA-256 cut to
// 128 bits, OccurrenceWith(fields, sha256.New()): a decision reads the
// record of either identity, engine/state's FormerOccurrence, so an
// alert whose recipients straddle the upgrade is told once where the
// later invocation is of the new version.)
func Occurrence(fields map[string]string) string { return OccurrenceWith(fields, fnv.New128a()) }

// OccurrenceWith is Occurrence with the hash h, of whose sum the first
// 16 bytes are kept: sha256.New() makes the identity versions before
// 2026-12 gave the same alert (engine/state reads their records too).
func OccurrenceWith(fields map[string]string, h hash.Hash) string {
	prefix := alertPrefix
	if _, ok := fields[alertPrefix+"kind"]; !ok {
		prefix = notifyPrefix
	}
	epoch := fields[alertPrefix+"timestamp_epoch"] != "" || fields[notifyPrefix+"timestamp_epoch"] != ""
	if !epoch && fields[prefix+"timestamp"] == "" {
		return ""
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		rest, ok := strings.CutPrefix(name, alertPrefix)
		if !ok {
			rest, ok = strings.CutPrefix(name, notifyPrefix)
		}
		if ok && (rest == "recipient" || rest == "node_sequence" || rest == "timestamp" && epoch) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(h, "%s=%s\x00", name, fields[name])
	}
	return "pacemaker/" + hex.EncodeToString(h.Sum(nil)[:16])
}

// eventID names what the alert is about, never who reported it.
func eventID(ev event.Event) string {
	switch ev.Kind {
	case kindResource:
		return "resource/" + ev.Node + "/" + ev.Rsc
	case kindFencing:
		return "fencing/" + ev.Node
	case kindAttribute:
		return "attribute/" + ev.Node + "/" + ev.AttributeName
	}
	return "node/" + ev.Node
}

// clusterSegment is the cluster part of the key: name, else a non-zero id,
// else "default", so keys stay stable when only one of them is configured.
func clusterSegment(ev event.Event) string {
	switch {
	case ev.Cluster != "":
		return ev.Cluster
	case ev.ClusterID != 0:
		return strconv.Itoa(ev.ClusterID)
	}
	return "default"
}
