package spool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"notifier/internal/jsonkeys"
)

// decodeEntryBefore is DecodeEntry as it was before the one-pass key
// scan (jsonkeys.Check, then the top level, the event and the input
// decoded into maps for their names): the reference the scan must
// agree with.
func decodeEntryBefore(data []byte) (Entry, error) {
	var e Entry
	if len(data) > MaxEntrySize {
		return e, fmt.Errorf("too large")
	}
	// jsonkeys.Check is for input that decodes (its fast scan loops for
	// ever on some that does not: `[hh{`): the decoder before called it
	// first, and hung on such an entry.
	if !json.Valid(data) {
		return e, fmt.Errorf("not JSON")
	}
	if err := jsonkeys.Check(data); err != nil {
		return e, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return e, err
	}
	exact := func(raw json.RawMessage, names *nameSet) error {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		for name := range m {
			if _, ok := names.index[name]; !ok {
				return fmt.Errorf("unknown key %q", name)
			}
		}
		return nil
	}
	for name := range top {
		if _, ok := entryKeys.index[name]; !ok {
			return e, fmt.Errorf("unknown key %q", name)
		}
	}
	if ev, ok := top["event"]; ok {
		if err := exact(ev, eventKeys()); err != nil {
			return e, err
		}
	}
	if in, ok := top["input"]; ok {
		if err := exact(in, inputKeys); err != nil {
			return e, err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return e, fmt.Errorf("trailing data")
	}
	return e, e.check()
}

// goodEntry is an encoded entry for the tests to spell otherwise.
func goodEntry(t testing.TB) string {
	t.Helper()
	e := testEntry(1)
	e.V, e.ID, e.Received = Version, NewID(time.Unix(1700000000, 5)), time.Unix(1700000000, 5).UTC()
	e.Event.Fields["msg"] = `a "quoted" <text> \ with escapes`
	e.Input.Env = map[string]string{"CRM_alert_kind": "node"}
	data, err := e.encode()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The key scan refuses, with the entry's reason, every spelling of a key
// that is not exactly one of the names, and every key given twice in one
// object, however spelled and at any depth; it accepts escapes that
// spell a name. The decoder before it agrees on each.
func TestDecodeEntryKeys(t *testing.T) {
	s := goodEntry(t)
	for _, c := range []struct {
		name, doc, wantErr string
	}{
		{"good", s, ""},
		{"escaped name", strings.Replace(s, `"policy":`, `"p\u006flicy":`, 1), ""},
		{"escaped event name", strings.Replace(s, `"kind":`, `"\u006bind":`, 1), ""},
		{"escaped duplicate", strings.Replace(s, `"v":1`, `"v":1,"\u0076":1`, 1), "duplicate key"},
		{"kelvin", strings.Replace(s, `"kind":`, `"\u212aind":`, 1), "event: unknown key"},
		{"long s", strings.Replace(s, `"source":"cmon","kind"`, `"\u017fource":"cmon","kind"`, 1), "event: unknown key"},
		{"event duplicate", strings.Replace(s, `"kind":`, `"kind":"x","kind":`, 1), `duplicate key "kind" in event`},
		{"fields duplicate", strings.Replace(s, `"alarm_id":"42"`, `"alarm_id":"42","alarm_id":"43"`, 1), `in event.fields`},
		{"fields duplicate escaped", strings.Replace(s, `"alarm_id":"42"`, `"alarm_id":"42","alarm\u005fid":"43"`, 1), `in event.fields`},
		{"env duplicate", strings.Replace(s, `"CRM_alert_kind":"node"`, `"CRM_alert_kind":"node","CRM_alert_kind":"x"`, 1), `in input.env`},
		{"input duplicate", strings.Replace(s, `"host":"node1"`, `"host":"node1","host":"node2"`, 1), `duplicate key "host" in input`},
		{"input case", strings.Replace(s, `"host":"node1"`, `"HOST":"node1"`, 1), "input: unknown key"},
		{"top case", strings.Replace(s, `"policy":`, `"Policy":`, 1), "unknown key"},
		{"invalid utf-8 duplicate", strings.Replace(s, `"alarm_id":"42"`, "\"a\xff\":\"1\",\"a\xfe\":\"2\"", 1), "duplicate key"},
		{"array of objects", strings.Replace(s, `"v":1`, `"v":1,"x":[{"a":1,"a":2}]`, 1), "unknown key"},
		{"not an object", `[` + s + `]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"truncated", s[:len(s)/2], "unexpected end"},
		{"trailing", s + `{}`, "after top-level value"},
		{"deep", strings.Replace(s, `"alarm_id":"42"`, `"alarm_id":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000), 1), "exceeded max depth"},
	} {
		_, err := DecodeEntry([]byte(c.doc))
		_, before := decodeEntryBefore([]byte(c.doc))
		if c.wantErr == "" {
			if err != nil || before != nil {
				t.Errorf("%s: %v (before: %v), want it decoded", c.name, err, before)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) || before == nil {
			t.Errorf("%s: %v (before: %v), want an error saying %q", c.name, err, before, c.wantErr)
		}
	}
}

// FuzzDecodeEntryAsBefore: the one-pass key scan accepts exactly what
// the decoder before it accepted, and decodes it the same.
func FuzzDecodeEntryAsBefore(f *testing.F) {
	s := goodEntry(f)
	f.Add([]byte(s))
	for _, r := range [][2]string{
		{`"v":1`, `"V":1`}, {`"v":1`, `"v":1,"v":1`}, {`"kind":`, `"\u006bind":`}, {`"kind":`, `"kind":1,"kind":`},
		{`"alarm_id":"42"`, `"alarm_id":"42","alarm\u005fid":"1"`}, {`"host":"node1"`, `"host":"node1","Host":""}`},
		{`"v":1`, `"v":1,"x":[{"a":1,"a":2}]`}, {`"alarm_id":"42"`, "\"a\xff\":\"1\",\"a\xfe\":\"2\""},
	} {
		f.Add([]byte(strings.Replace(s, r[0], r[1], 1)))
	}
	f.Add([]byte(`{"v":1,"v":1}`))
	f.Add([]byte(`{"event":{"fields":{"a":1,"a":1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeEntry(data)
		want, before := decodeEntryBefore(data)
		if (err == nil) != (before == nil) {
			t.Fatalf("%q: now %v, before %v", data, err, before)
		}
		if err != nil {
			return
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(want)
		if !bytes.Equal(a, b) {
			t.Fatalf("%q decoded otherwise:\n%s\n%s", data, a, b)
		}
	})
}

// BenchmarkDecodeEntry is the engine's read of one entry (twice per
// wake-up before protocol v2: Peek, then Claim).
func BenchmarkDecodeEntry(b *testing.B) {
	data := []byte(goodEntry(b))
	b.Run("now", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeEntry(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("before", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeEntryBefore(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
