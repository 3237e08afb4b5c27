// Package engine turns one normalised Event into a Decision: which rules
// matched and which channels must hear about it. It knows nothing about
// concrete channels or where events come from; decoders live in
// engine/cmon and engine/pacemaker, delivery in channels/*.
package engine

import "time"

// Severities, in increasing order of urgency. Every decoder maps its
// native severity onto exactly one of these.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Actions an event can carry.
const (
	ActionNew    = "new"
	ActionUpdate = "update"
	ActionRemove = "remove"
)

// Sources of events.
const (
	SourceCMON      = "cmon"
	SourcePacemaker = "pacemaker"
)

// Kinds of events: CMON sends alarms; Pacemaker alerts on nodes, fencing,
// resources and attributes.
const (
	KindAlarm     = "alarm"
	KindNode      = "node"
	KindFencing   = "fencing"
	KindResource  = "resource"
	KindAttribute = "attribute"
)

// Event is what policy expressions see. The field set and the expr names
// are a user contract (DESIGN §3): plain string/int/bool types only, since
// named string types break == in expr and unsigned ints break ordering.
type Event struct {
	Source      string `expr:"source" json:"source"`
	Kind        string `expr:"kind" json:"kind"`
	Action      string `expr:"action" json:"action"`
	OK          bool   `expr:"ok" json:"ok"`
	Severity    string `expr:"severity" json:"severity"`
	SeverityRaw string `expr:"severity_raw" json:"severity_raw"`
	ClusterID   int    `expr:"cluster_id" json:"cluster_id"`
	Cluster     string `expr:"cluster" json:"cluster"`
	Node        string `expr:"node" json:"node"`
	EventType   string `expr:"event_type" json:"event_type"`
	// ID is the source's identifier as an exact decimal or text: CMON alarm
	// ids exceed int64, so they are never parsed as numbers.
	ID             string `expr:"id" json:"id"`
	Name           string `expr:"name" json:"name"`
	Message        string `expr:"message" json:"message"`
	Recommendation string `expr:"recommendation" json:"recommendation"`
	Count          int    `expr:"count" json:"count"`

	Task           string `expr:"task" json:"task"`
	Rsc            string `expr:"rsc" json:"rsc"`
	Desc           string `expr:"desc" json:"desc"`
	Recipient      string `expr:"recipient" json:"recipient"`
	AttributeName  string `expr:"attribute_name" json:"attribute_name"`
	AttributeValue string `expr:"attribute_value" json:"attribute_value"`
	RC             int    `expr:"rc" json:"rc"`
	TargetRC       int    `expr:"target_rc" json:"target_rc"`
	Status         int    `expr:"status" json:"status"`
	IntervalMS     int    `expr:"interval_ms" json:"interval_ms"`
	NodeID         int    `expr:"node_id" json:"node_id"`

	Controller string    `expr:"controller" json:"controller"`
	Time       time.Time `expr:"time" json:"time"`

	// evalUntil is when the evaluation in progress must stop its loops
	// (runBudget sets it, budgetClock reads it); zero outside one.
	evalUntil time.Time
	// Fields holds every raw key the source sent, as text (JSON numbers keep
	// their exact decimal spelling, nested values their JSON).
	Fields map[string]string `expr:"fields" json:"fields"`

	// Key identifies the incident this event belongs to: suppression,
	// escalation and PagerDuty's dedup_key use it. Decoders set it (DESIGN
	// §3); it never contains the local host for Pacemaker events, so the
	// copies every node sends collapse.
	Key string `expr:"key" json:"key"`
}

// SeverityRank orders severities: info=1, warning=2, critical=3, 0 for
// anything else.
func SeverityRank(s string) int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityWarning:
		return 2
	case SeverityCritical:
		return 3
	}
	return 0
}

// Settings that decoders need from the policy: defaults for events that
// carry no cluster of their own.
type ClusterDefaults struct {
	ID   int
	Name string
}
