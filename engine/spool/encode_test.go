package spool

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"notifier/engine/event"
)

// fullEvent is an event.Event with every field set to a value of its
// own (built by reflection, so a field added to Event is set too): an
// encoder that leaves one out, or writes one under another's name,
// differs from json.Marshal.
func fullEvent(t testing.TB) event.Event {
	t.Helper()
	var ev event.Event
	v := reflect.ValueOf(&ev).Elem()
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(sf.Name + " <&> \"é\"")
		case reflect.Int:
			f.SetInt(int64(1000 + i))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{sf.Name: "v", "a\x01": "b\n"}))
		default:
			if sf.Type == reflect.TypeFor[time.Time]() {
				f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6+i, time.FixedZone("", 3600))))
				continue
			}
			t.Fatalf("event.Event.%s: a %s, which fullEvent (and perhaps appendEvent) does not know", sf.Name, sf.Type)
		}
	}
	return ev
}

// encodeCases are entries whose encoding must equal json.Marshal's.
func encodeCases(t testing.TB) map[string]Entry {
	t.Helper()
	base := func() Entry {
		e := testEntry(7)
		e.V, e.Received = Version, time.Date(2026, 12, 5, 4, 11, 0, 123456789, time.UTC)
		e.ID = NewID(e.Received)
		return e
	}
	cases := map[string]Entry{}
	cases["plain"] = base()
	e := base()
	e.Event = fullEvent(t)
	cases["full event"] = e
	e = base()
	e.Event.Message = "ctl\x00\x07\b\f\n\r\t\x1f\x7f \\ \" / <script>&amp; \u2028\u2029 é 日本 🙂"
	e.Event.Fields = map[string]string{"z": "1", "a": "2", "é": "3", "<k>": "\x1b", "": ""}
	e.Occurrence = "bad utf-8: \xff\xfe \xc3 \xe2\x82 ok"
	cases["escaping"] = e
	e = base()
	e.Event.Fields = nil
	e.Input = Input{Source: InputPacemaker, Env: map[string]string{"CRM_alert_kind": "node", "CRM_alert_node": "n1", "NOTIFIER_X": "\xff"}, Host: "h"}
	e.StatePath = ""
	cases["pacemaker, no fields, no state path"] = e
	e = base()
	e.Event.Fields = map[string]string{}
	e.Input.Data, e.Input.Env = []byte{}, map[string]string{}
	cases["empty data, env and fields"] = e
	e = base()
	e.Input.Data = []byte{0, 1, 2, 0xff, 0xfe, '"', '\n'}
	cases["binary data"] = e
	e = base()
	e.Received = time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("X", -(9*3600+30*60)))
	e.Event.Time = time.Now()
	cases["zones"] = e
	e = base()
	e.Event.Count, e.Event.RC, e.Event.ClusterID = -1, -9223372036854775808, 9223372036854775807
	cases["extreme ints"] = e
	return cases
}

// appendEntry writes exactly what json.Marshal writes, and so what
// every reader (DecodeEntry, an engine of another version) expects.
func TestEncodeIsMarshal(t *testing.T) {
	for name, e := range encodeCases(t) {
		got, err := e.encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", name, err, got)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: read generically, %v, want %v", name, g, w)
		}
	}
}

// Every event.Event field json.Marshal writes, appendEvent writes under
// the same name.
func TestEncodeEventNames(t *testing.T) {
	ev := fullEvent(t)
	got, err := appendEvent(nil, &ev)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(ev)
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	json.Unmarshal(want, &w)
	if gk, wk := slices.Sorted(maps.Keys(g)), slices.Sorted(maps.Keys(w)); !slices.Equal(gk, wk) {
		t.Errorf("keys %q, json.Marshal's %q", gk, wk)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("event %v, json.Marshal's %v", g, w)
	}
}

// An entry written reads back (DecodeEntry) as it was: valid UTF-8
// unchanged, times the same instants.
func TestEncodeRoundTrip(t *testing.T) {
	for name, e := range encodeCases(t) {
		if name == "escaping" || name == "pacemaker, no fields, no state path" {
			continue // invalid UTF-8 reads back as U+FFFD (TestEncodeIsMarshal)
		}
		data, err := e.encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := DecodeEntry(data)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, data)
		}
		if !sameEntry(got, e) {
			t.Errorf("%s: read back\n%+v\nwrote\n%+v", name, got, e)
		}
	}
}

// sameEntry compares entries as their JSON can carry them: times as
// instants, empty and nil data and env alike (omitted when empty),
// EvalUntil not at all (never written).
func sameEntry(a, b Entry) bool {
	if !a.Received.Equal(b.Received) || !a.Event.Time.Equal(b.Event.Time) ||
		!bytes.Equal(a.Input.Data, b.Input.Data) || !maps.Equal(a.Input.Env, b.Input.Env) {
		return false
	}
	a.Received, b.Received, a.Event.Time, b.Event.Time = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.Input.Data, b.Input.Data, a.Input.Env, b.Input.Env = nil, nil, nil, nil
	a.Event.EvalUntil, b.Event.EvalUntil = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// encode refuses what json.Marshal refuses: a time it cannot write.
func TestEncodeRefusesYear(t *testing.T) {
	e := encodeCases(t)["plain"]
	e.Event.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := json.Marshal(&e); err == nil {
		t.Fatal("json.Marshal wrote year 10000")
	}
	if data, err := e.encode(); err == nil {
		t.Errorf("encoded year 10000: %s", data)
	}
}

// FuzzEncode: for any strings, data and times, appendEntry writes what
// json.Marshal writes, and an entry DecodeEntry accepts reads back the
// same.
func FuzzEncode(f *testing.F) {
	f.Add("m", "occ", "k\x00", "v\xff", []byte("data"), int64(1700000000123456789), 3600)
	f.Add("<&>\u2028", "\xc3", "", "", []byte{}, int64(0), -1)
	f.Add("\"\\\x7f", "日本", "é", "\ufffd", []byte(nil), int64(-62135596800), 0)
	f.Fuzz(func(t *testing.T, msg, occ, key, value string, data []byte, nanos int64, offset int) {
		e := encodeCases(t)["plain"]
		e.Event.Message, e.Occurrence, e.Input.Data = msg, occ, data
		e.Event.Fields = map[string]string{key: value, "x" + key: value + "y"}
		e.Input.Env = map[string]string{value: key}
		e.Event.Time = time.Unix(0, nanos).In(time.FixedZone("", offset%(18*60)*60))
		want, merr := json.Marshal(&e)
		got, err := appendEntry(nil, &e)
		if (err == nil) != (merr == nil) {
			t.Fatalf("appendEntry error %v, json.Marshal's %v", err, merr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
		back, err := DecodeEntry(got)
		if err != nil {
			t.Fatalf("DecodeEntry: %v\n%s", err, got)
		}
		if !valid(msg, occ, key, value) {
			return // invalid UTF-8 reads back as U+FFFD, as json.Marshal's output does
		}
		if again, _ := appendEntry(nil, &back); !bytes.Equal(again, got) {
			t.Fatalf("read back differently:\n%s\n%s", again, got)
		}
		if !sameEntry(back, e) {
			t.Fatalf("read back\n%+v\nwrote\n%+v", back, e)
		}
	})
}

func valid(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
