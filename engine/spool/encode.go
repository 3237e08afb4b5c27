package spool

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"notifier/engine/event"
)

// The entry encoder, written out by hand: every drop encodes one entry,
// and encoding/json's Marshal spends most of that building its
// reflection encoders for Entry and event.Event on first use, in every
// process. The output is byte for byte what json.Marshal writes for the
// same Entry (encode_test.go holds it to that, and to a full event.Event,
// so a field added to Event without being added here fails the tests):
// readers (DecodeEntry, older engines) see the format they always saw.

// appendEntry appends e's JSON to b.
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(e.V), 10)
	b = append(b, `,"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"policy":`...)
	b = appendString(b, e.Policy)
	b = append(b, `,"event":`...)
	b, err := appendEvent(b, &e.Event)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"occurrence":`...)
	b = appendString(b, e.Occurrence)
	b = append(b, `,"received":`...)
	if b, err = appendTime(b, e.Received); err != nil {
		return nil, err
	}
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"input":{"source":`...)
	b = appendString(b, e.Input.Source)
	if len(e.Input.Data) > 0 {
		b = append(b, `,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, e.Input.Data)
		b = append(b, '"')
	}
	if len(e.Input.Env) > 0 {
		b = append(b, `,"env":`...)
		b = appendMap(b, e.Input.Env)
	}
	b = append(b, `,"host":`...)
	b = appendString(b, e.Input.Host)
	b = append(b, '}')
	if e.StatePath != "" {
		b = append(b, `,"state_path":`...)
		b = appendString(b, e.StatePath)
	}
	return append(b, '}'), nil
}

// appendEvent appends ev's JSON (event.Event's names and order; none of
// its fields is omitempty, EvalUntil is never written).
func appendEvent(b []byte, ev *event.Event) ([]byte, error) {
	b = append(b, `{"source":`...)
	b = appendString(b, ev.Source)
	b = appendStrings(b, `,"kind":`, ev.Kind, `,"action":`, ev.Action)
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, ev.OK)
	b = appendStrings(b, `,"severity":`, ev.Severity, `,"severity_raw":`, ev.SeverityRaw)
	b = appendInt(b, `,"cluster_id":`, ev.ClusterID)
	b = appendStrings(b, `,"cluster":`, ev.Cluster, `,"node":`, ev.Node)
	b = appendStrings(b, `,"event_type":`, ev.EventType, `,"id":`, ev.ID)
	b = appendStrings(b, `,"name":`, ev.Name, `,"message":`, ev.Message)
	b = append(b, `,"recommendation":`...)
	b = appendString(b, ev.Recommendation)
	b = appendInt(b, `,"count":`, ev.Count)
	b = appendStrings(b, `,"task":`, ev.Task, `,"rsc":`, ev.Rsc)
	b = appendStrings(b, `,"desc":`, ev.Desc, `,"recipient":`, ev.Recipient)
	b = appendStrings(b, `,"attribute_name":`, ev.AttributeName, `,"attribute_value":`, ev.AttributeValue)
	b = appendInt(b, `,"rc":`, ev.RC)
	b = appendInt(b, `,"target_rc":`, ev.TargetRC)
	b = appendInt(b, `,"status":`, ev.Status)
	b = appendInt(b, `,"interval_ms":`, ev.IntervalMS)
	b = appendInt(b, `,"node_id":`, ev.NodeID)
	b = append(b, `,"controller":`...)
	b = appendString(b, ev.Controller)
	b = append(b, `,"time":`...)
	b, err := appendTime(b, ev.Time)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"fields":`...)
	if ev.Fields == nil {
		b = append(b, "null"...)
	} else {
		b = appendMap(b, ev.Fields)
	}
	b = append(b, `,"key":`...)
	b = appendString(b, ev.Key)
	return append(b, '}'), nil
}

func appendStrings(b []byte, name1, value1, name2, value2 string) []byte {
	b = append(b, name1...)
	b = appendString(b, value1)
	b = append(b, name2...)
	return appendString(b, value2)
}

func appendInt(b []byte, name string, v int) []byte {
	b = append(b, name...)
	return strconv.AppendInt(b, int64(v), 10)
}

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds, in t's own zone), refusing what it refuses (a year
// outside 0-9999).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("time: %w", err)
	}
	return append(b, '"'), nil
}

// appendMap appends m as encoding/json does: keys in sorted order.
func appendMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as encoding/json's Marshal quotes it:
// '"' and '\\' escaped, the control characters as \b, \f, \n, \r, \t or
// \u00XX, '<', '>' and '&' as \u003c, \u003e, \u0026 (Marshal's HTML
// escaping), U+2028 and U+2029 as \u2028 and \u2029, and each byte of
// invalid UTF-8 as \ufffd (so the output is always valid JSON; as with
// json.Marshal, such a byte reads back as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
