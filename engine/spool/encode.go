package spool

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"notifier/engine/event"
	"notifier/internal/jsonenc"
)

// The entry encoder, written out by hand (with internal/jsonenc's
// pieces): every drop encodes one entry, and encoding/json's Marshal
// spends most of that building its reflection encoders for Entry and
// event.Event on first use, in every process. The output is byte for byte what json.Marshal writes for the
// same Entry (encode_test.go holds it to that, and to a full event.Event,
// so a field added to Event without being added here fails the tests):
// readers (DecodeEntry, older engines) see the format they always saw.

// appendEntry appends e's JSON to b.
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(e.V), 10)
	b = append(b, `,"id":`...)
	b = jsonenc.String(b, e.ID)
	b = append(b, `,"policy":`...)
	b = jsonenc.String(b, e.Policy)
	b = append(b, `,"event":`...)
	b, err := appendEvent(b, &e.Event)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"occurrence":`...)
	b = jsonenc.String(b, e.Occurrence)
	b = append(b, `,"received":`...)
	if b, err = appendTime(b, e.Received); err != nil {
		return nil, err
	}
	b = append(b, `,"source":`...)
	b = jsonenc.String(b, e.Source)
	b = append(b, `,"input":{"source":`...)
	b = jsonenc.String(b, e.Input.Source)
	if len(e.Input.Data) > 0 {
		b = append(b, `,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, e.Input.Data)
		b = append(b, '"')
	}
	if len(e.Input.Env) > 0 {
		b = append(b, `,"env":`...)
		b = jsonenc.Map(b, e.Input.Env)
	}
	b = append(b, `,"host":`...)
	b = jsonenc.String(b, e.Input.Host)
	b = append(b, '}')
	if e.StatePath != "" {
		b = append(b, `,"state_path":`...)
		b = jsonenc.String(b, e.StatePath)
	}
	return append(b, '}'), nil
}

// appendEvent appends ev's JSON (event.Event's names and order; none of
// its fields is omitempty, EvalUntil is never written).
func appendEvent(b []byte, ev *event.Event) ([]byte, error) {
	b = append(b, `{"source":`...)
	b = jsonenc.String(b, ev.Source)
	b = appendStrings(b, `,"kind":`, ev.Kind, `,"action":`, ev.Action)
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, ev.OK)
	b = appendStrings(b, `,"severity":`, ev.Severity, `,"severity_raw":`, ev.SeverityRaw)
	b = appendInt(b, `,"cluster_id":`, ev.ClusterID)
	b = appendStrings(b, `,"cluster":`, ev.Cluster, `,"node":`, ev.Node)
	b = appendStrings(b, `,"event_type":`, ev.EventType, `,"id":`, ev.ID)
	b = appendStrings(b, `,"name":`, ev.Name, `,"message":`, ev.Message)
	b = append(b, `,"recommendation":`...)
	b = jsonenc.String(b, ev.Recommendation)
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
	b = jsonenc.String(b, ev.Controller)
	b = append(b, `,"time":`...)
	b, err := appendTime(b, ev.Time)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"fields":`...)
	if ev.Fields == nil {
		b = append(b, "null"...)
	} else {
		b = jsonenc.Map(b, ev.Fields)
	}
	b = append(b, `,"key":`...)
	b = jsonenc.String(b, ev.Key)
	return append(b, '}'), nil
}

func appendStrings(b []byte, name1, value1, name2, value2 string) []byte {
	b = append(b, name1...)
	b = jsonenc.String(b, value1)
	b = append(b, name2...)
	return jsonenc.String(b, value2)
}

func appendInt(b []byte, name string, v int) []byte {
	b = append(b, name...)
	return strconv.AppendInt(b, int64(v), 10)
}

// appendTime appends t as time.Time's MarshalJSON does (jsonenc.Time),
// refusing what it refuses (a year outside 0-9999).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b, ok := jsonenc.Time(b, t)
	if !ok {
		return nil, fmt.Errorf("time %v: year outside of range [0,9999]", t)
	}
	return b, nil
}
