// Package event is the one normalised event every decoder produces and
// every policy expression sees: its fields, their names in expressions
// and in JSON, the closed sets of values some of them take, and the one
// line summary. It is a leaf: decoders (engine/cmon, engine/pacemaker)
// import it and nothing else of the engine.
package event

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"
)

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
// are a user contract (README.md, "Event fields"): plain string/int/bool types only, since
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

	// EvalUntil is when the evaluation in progress must stop its loops:
	// the engine's time budget sets it around one evaluation and reads it
	// from inside the expression; zero outside one. Expressions and the
	// JSON form do not see it.
	EvalUntil time.Time `expr:"-" json:"-"`
	// Fields holds every raw key the source sent, as text (JSON numbers keep
	// their exact decimal spelling, nested values their JSON).
	Fields map[string]string `expr:"fields" json:"fields"`

	// Key identifies the incident this event belongs to: suppression,
	// escalation and PagerDuty's dedup_key use it. Decoders set it (see
	// engine/cmon and engine/pacemaker); it never contains the local host for Pacemaker events, so the
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

// Closed are the event fields whose values are a fixed set: a comparison
// with anything else can never be true, which in a rule means an event
// that silently reaches nobody. Decoders produce only these values.
var Closed = map[string][]string{
	"severity": {SeverityCritical, SeverityWarning, SeverityInfo},
	"source":   {SourceCMON, SourcePacemaker},
	"kind":     {KindAlarm, KindNode, KindFencing, KindResource, KindAttribute},
	"action":   {ActionNew, ActionUpdate, ActionRemove},
}

// Names lists the field names expressions use, in field order.
func Names() []string {
	t := reflect.TypeFor[Event]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("expr"); name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// fieldIndex maps the expression names of the fields with one plain
// value (text, number, truth) to their index in Event.
var fieldIndex = sync.OnceValue(func() map[string]int {
	t := reflect.TypeFor[Event]()
	idx := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		switch f.Type.Kind() {
		case reflect.String, reflect.Int, reflect.Bool:
			if name := f.Tag.Get("expr"); name != "" && name != "-" {
				idx[name] = i
			}
		}
	}
	return idx
})

// Text is the value of the plain field expressions call name, as text
// (numbers in decimal, truth as true or false); false for a name that is
// no such field.
func (ev *Event) Text(name string) (string, bool) {
	i, ok := fieldIndex()[name]
	if !ok {
		return "", false
	}
	v := reflect.ValueOf(ev).Elem().Field(i)
	switch v.Kind() {
	case reflect.Int:
		return strconv.FormatInt(v.Int(), 10), true
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), true
	}
	return v.String(), true
}

// PlainNames lists, sorted, the fields Text reads: those with one plain
// value, which two events can share (inhibit's equal).
func PlainNames() []string { return slices.Sorted(maps.Keys(fieldIndex())) }
