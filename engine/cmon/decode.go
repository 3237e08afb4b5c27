package cmon

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"notifier/engine/event"
)

// Options carries what the message itself does not: when it arrived,
// where, and the configured cluster defaults.
type Options struct {
	// Now is the receipt time, used as Event.Time.
	Now time.Time
	// Host is the local host name, the controller when the message names
	// none (cmon_hostname empty or missing).
	Host string
	// Cluster supplies the cluster name: Event.Cluster is Cluster.Name
	// when Cluster.ID is 0 or equals the alarm's cluster id.
	Cluster event.ClusterDefaults
}

// NotAlarmError is returned for a well-formed message whose type is not
// "alarm". CMON sends other message types to plugins too; the caller logs
// and exits 0 rather than treating them as bad input.
type NotAlarmError struct {
	// Type is the message's type as sent.
	Type string
}

// Error implements error.
func (e *NotAlarmError) Error() string {
	return fmt.Sprintf("cmon: message type %s is not \"alarm\"", quote(e.Type))
}

// Decode turns one CMON plugin message into an Event. See the package
// documentation for the field mapping and the accepted shapes.
func Decode(data []byte, opts Options) (event.Event, error) {
	top, err := parseObject(data)
	if err != nil {
		return event.Event{}, err
	}

	alarm, action, err := unwrap(data, top)
	if err != nil {
		return event.Event{}, err
	}

	// cmon_hostname sits in the envelope, or (rarely) in a bare object.
	controller, _, err := fields{vals: top}.str("cmon_hostname")
	if err != nil {
		return event.Event{}, err
	}
	if controller == "" {
		controller = opts.Host
	}

	ev, err := alarm.event()
	if err != nil {
		return event.Event{}, err
	}
	ev.Action = action
	ev.OK = action == event.ActionRemove
	ev.Controller = controller
	ev.Time = opts.Now
	if opts.Cluster.ID == 0 || opts.Cluster.ID == ev.ClusterID {
		ev.Cluster = opts.Cluster.Name
	}
	ev.Key = "cmon/" + controller + "/" + strconv.Itoa(ev.ClusterID) + "/" + ev.ID
	return ev, nil
}

// unwrap finds the alarm object and the action: the envelope's, or "new"
// for a bare CmonAlarm, which carries no action of its own.
func unwrap(data []byte, top map[string]any) (fields, string, error) {
	env := fields{vals: top, src: data}
	if _, ok := top["alarm"]; !ok && isCmonAlarm(top) {
		return env, event.ActionNew, nil
	}
	typ, ok, err := env.str("type")
	if err != nil {
		return fields{}, "", err
	}
	if !ok {
		return fields{}, "", errors.New(`cmon: not a CMON message: no "type"`)
	}
	if typ != "alarm" {
		return fields{}, "", &NotAlarmError{Type: typ}
	}
	action, ok, err := env.str("action")
	if err != nil {
		return fields{}, "", err
	}
	switch {
	case !ok:
		return fields{}, "", errors.New("cmon: action is missing")
	case action != event.ActionNew && action != event.ActionUpdate && action != event.ActionRemove:
		return fields{}, "", fmt.Errorf("cmon: action %s is not one of new, update, remove", quote(action))
	}
	v, ok := top["alarm"]
	if !ok {
		return fields{}, "", errors.New("cmon: alarm is missing")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fields{}, "", fmt.Errorf("cmon: alarm is a JSON %s, not an object", kindOf(v))
	}
	return fields{vals: m, path: "alarm.", src: data, inAlarm: true}, action, nil
}

// isCmonAlarm reports whether a top-level object is a bare CmonAlarm.
func isCmonAlarm(top map[string]any) bool {
	if _, ok := top["alarm_id"]; ok {
		return true
	}
	class, ok := top["class_name"].(string)
	return ok && class == "CmonAlarm"
}

// fields reads typed values out of one decoded JSON object; path prefixes
// the key in errors ("alarm.cid") so the user can find the value. src is
// the whole input, read again only for nested values (see nested).
type fields struct {
	vals map[string]any
	path string
	src  []byte
	// inAlarm: vals is the envelope's alarm member, not the top object.
	inAlarm bool
}

// lookup returns the first of keys present with a non-null value.
func (f fields) lookup(keys ...string) (string, any, bool) {
	for _, k := range keys {
		if v, ok := f.vals[k]; ok && v != nil {
			return k, v, true
		}
	}
	return "", nil, false
}

// str returns the first of keys that is present, which must be a string.
func (f fields) str(keys ...string) (string, bool, error) {
	k, v, ok := f.lookup(keys...)
	if !ok {
		return "", false, nil
	}
	if kindOf(v) != "string" {
		return "", false, fmt.Errorf("cmon: %s%s: %s is not a string", f.path, k, shown(v))
	}
	return text(v), true, nil
}

// integer returns the first of keys that is present, which must be a JSON
// integer within int range; absent is 0.
func (f fields) integer(keys ...string) (int, error) {
	k, v, ok := f.lookup(keys...)
	if !ok {
		return 0, nil
	}
	if kindOf(v) != "number" {
		return 0, fmt.Errorf("cmon: %s%s: %s is not an integer", f.path, k, shown(v))
	}
	s := text(v)
	if strings.ContainsAny(s, ".eE") {
		return 0, fmt.Errorf("cmon: %s%s: %s is not an integer", f.path, k, shown(v))
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("cmon: %s%s: %s is out of range", f.path, k, shown(v))
	}
	return n, nil
}

// id returns the alarm id as exact text: a JSON integer keeps its digits
// (CMON ids are uint64 and exceed int64, so they are never parsed), a
// string is kept as given.
func (f fields) id() (string, error) {
	k, v, ok := f.lookup("id", "alarm_id")
	if !ok {
		return "", fmt.Errorf("cmon: %sid is missing", f.path)
	}
	switch kindOf(v) {
	case "string":
		s := text(v)
		if s == "" {
			return "", fmt.Errorf("cmon: %s%s is empty", f.path, k)
		}
		return s, nil
	case "number":
		s := text(v)
		if strings.ContainsAny(s, ".eE") {
			return "", fmt.Errorf("cmon: %s%s: %s is not an integer", f.path, k, shown(v))
		}
		return s, nil
	}
	return "", fmt.Errorf("cmon: %s%s: %s is not an integer or string", f.path, k, shown(v))
}

// severity maps the alarm's severity: severity_name or a string severity
// (ALARM_CRITICAL, ALARM_WARNING, other), else a numeric severity (2, 1,
// other). It returns the mapped severity and the raw text as sent.
func (f fields) severity() (string, string, error) {
	name, _, err := f.str("severity_name")
	if err != nil {
		return "", "", err
	}
	if name == "" {
		_, v, ok := f.lookup("severity")
		switch {
		case !ok:
		case kindOf(v) == "string":
			name = text(v)
		case kindOf(v) == "number":
			n, err := f.integer("severity")
			if err != nil {
				return "", "", err
			}
			switch n {
			case 2:
				return event.SeverityCritical, text(v), nil
			case 1:
				return event.SeverityWarning, text(v), nil
			}
			return event.SeverityInfo, text(v), nil
		default:
			return "", "", fmt.Errorf("cmon: %sseverity: %s is not a string or integer", f.path, shown(v))
		}
	}
	switch strings.ToUpper(strings.TrimSpace(name)) {
	case "ALARM_CRITICAL":
		return event.SeverityCritical, name, nil
	case "ALARM_WARNING":
		return event.SeverityWarning, name, nil
	}
	return event.SeverityInfo, name, nil
}

// eventType is type when it is a string (plugin shape), else type_name
// (CmonAlarm, whose type is a number), else the numeric type's text so a
// policy still has something to match.
func (f fields) eventType() (string, error) {
	if v, ok := f.vals["type"]; ok && kindOf(v) == "string" {
		return text(v), nil
	}
	name, ok, err := f.str("type_name")
	if err != nil || ok {
		return name, err
	}
	if v, ok := f.vals["type"]; ok && kindOf(v) == "number" {
		return text(v), nil
	}
	if v, ok := f.vals["type"]; ok && kindOf(v) != "null" {
		return "", fmt.Errorf("cmon: %stype: %s is not a string", f.path, shown(v))
	}
	return "", nil
}

// event builds the alarm part of the Event: everything the alarm object
// itself determines.
func (f fields) event() (event.Event, error) {
	ev := event.Event{Source: event.SourceCMON, Kind: event.KindAlarm}
	var err error
	if ev.ID, err = f.id(); err != nil {
		return event.Event{}, err
	}
	if ev.Severity, ev.SeverityRaw, err = f.severity(); err != nil {
		return event.Event{}, err
	}
	if ev.EventType, err = f.eventType(); err != nil {
		return event.Event{}, err
	}
	ints := []struct {
		dst  *int
		keys []string
	}{
		{&ev.ClusterID, []string{"cid", "cluster_id"}},
		{&ev.Count, []string{"count", "counter"}},
		{&ev.NodeID, []string{"nodeid", "host_id"}},
	}
	for _, i := range ints {
		if *i.dst, err = f.integer(i.keys...); err != nil {
			return event.Event{}, err
		}
	}
	strs := []struct {
		dst  *string
		keys []string
	}{
		{&ev.Node, []string{"hostname"}},
		{&ev.Name, []string{"name", "title"}},
		{&ev.Message, []string{"message"}},
		{&ev.Recommendation, []string{"recommendation"}},
	}
	for _, s := range strs {
		if *s.dst, _, err = f.str(s.keys...); err != nil {
			return event.Event{}, err
		}
	}
	ev.Fields = make(map[string]string, len(f.vals))
	nested := false
	for k, v := range f.vals {
		switch v.(type) {
		case map[string]any, []any:
			nested = true
		default:
			ev.Fields[k] = text(v)
		}
	}
	if nested {
		if err := f.nested(ev.Fields); err != nil {
			return event.Event{}, err
		}
	}
	return ev, nil
}
