package state

import (
	"encoding/json"
	"time"

	"notifier/internal/jsonenc"
)

// encodeJSON is json.Marshal(*v), written by hand, byte for byte the
// same, for the kinds of record a run writes on every event: the
// history line and the decided spool entry, and the window and incident
// of an alert that notifies. json.Marshal builds each type's encoder by
// reflection the first time it meets the type, and every run is a new
// process meeting them for the first time: that was a measurable part of
// a run (perf: encoding/json.typeFields). Any other type, and a value
// json.Marshal refuses (a time outside the years 0-9999), goes to
// json.Marshal, which then says why. encode_test.go checks the sameness.
func encodeJSON[T any](v *T) ([]byte, error) {
	var b []byte
	ok := true
	switch p := any(v).(type) { // concrete types: no interface lookups
	case *HistoryEntry:
		b, ok = p.appendJSON(make([]byte, 0, 256))
	case *Decided:
		b, ok = p.appendJSON(make([]byte, 0, 128))
	case *Window:
		b, ok = p.appendJSON(make([]byte, 0, 160))
	case *Incident:
		b, ok = p.appendJSON(make([]byte, 0, 256))
	default:
		ok = false
	}
	if !ok {
		return json.Marshal(*v)
	}
	return b, nil
}

func (h *HistoryEntry) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, '{')
	b, ok := appendTimeField(b, "time", h.Time)
	b = appendStringField(b, "key", h.Key)
	b = appendStringOmitEmpty(b, "source", h.Source)
	b = appendStringOmitEmpty(b, "event_type", h.EventType)
	b = appendStringOmitEmpty(b, "severity", h.Severity)
	b = appendStringOmitEmpty(b, "action", h.Action)
	b = appendStringOmitEmpty(b, "rule", h.Rule)
	b = appendStringOmitEmpty(b, "channel", h.Channel)
	b = appendStringOmitEmpty(b, "delivery", h.Delivery)
	b = appendStringField(b, "outcome", string(h.Outcome))
	b = appendStringOmitEmpty(b, "reason", h.Reason)
	b = appendIntOmitEmpty(b, "attempts", h.Attempts)
	return append(b, '}'), ok
}

func (d *Decided) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, '{')
	b = appendStringField(b, "entry", d.Entry)
	b = appendStringField(b, "key", d.Key)
	b, ok := appendTimeField(b, "decided", d.Decided)
	return append(b, '}'), ok
}

func (w *Window) appendJSON(b []byte) ([]byte, bool) {
	ok, ok2 := true, true
	b = append(b, '{')
	if !w.LastNotified.IsZero() { // omitzero
		b, ok = appendTimeField(b, "last_notified", w.LastNotified)
	}
	b = appendIntOmitEmpty(b, "suppressed", w.Suppressed)
	if !w.First.IsZero() {
		b, ok2 = appendTimeField(b, "first", w.First)
	}
	b = appendIntOmitEmpty(b, "count", w.Count)
	if w.Escalated {
		b = append(jsonenc.Key(b, "escalated"), "true"...)
	}
	b = appendStringOmitEmpty(b, "policy", w.Policy)
	b = appendIntOmitEmpty(b, "live", w.Live)
	b = appendIntOmitEmpty(b, "escalation_live", w.EscalationLive)
	return append(b, '}'), ok && ok2
}

func (inc *Incident) appendJSON(b []byte) ([]byte, bool) {
	b = append(b, '{')
	b = appendStringField(b, "key", inc.Key)
	b, ok := appendTimeField(b, "opened", inc.Opened)
	b = jsonenc.Key(b, "told")
	if inc.Told == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range inc.Told {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = appendStringField(b, "channel", t.Channel)
			b = appendStringField(b, "type", t.Type)
			b = appendStringOmitEmpty(b, "ref", t.Ref)
			b = appendIntOmitEmpty(b, "queued", t.Queued)
			b = appendStringOmitEmpty(b, "rule", t.Rule)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(inc.Windows) > 0 {
		b = append(jsonenc.Key(b, "windows"), '[')
		for i, w := range inc.Windows {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonenc.String(b, w)
		}
		b = append(b, ']')
	}
	b = appendStringOmitEmpty(b, "policy", inc.Policy)
	if len(inc.Groups) > 0 {
		b = append(jsonenc.Key(b, "groups"), '[')
		for i, g := range inc.Groups {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = appendStringField(b, "id", g.ID)
			b = appendStringField(b, "key", g.Key)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), ok
}

func appendStringField(b []byte, name, s string) []byte {
	return jsonenc.String(jsonenc.Key(b, name), s)
}

func appendStringOmitEmpty(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendStringField(b, name, s)
}

func appendIntOmitEmpty(b []byte, name string, n int) []byte {
	if n == 0 {
		return b
	}
	return jsonenc.Int(jsonenc.Key(b, name), n)
}

// appendTimeField appends t as json.Marshal does; false when it refuses t.
func appendTimeField(b []byte, name string, t time.Time) ([]byte, bool) {
	out, ok := jsonenc.Time(jsonenc.Key(b, name), t)
	if !ok {
		return b, false
	}
	return out, true
}
