package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"notifier/channels"
	"notifier/internal/keys"
)

// decode is a body as a receiver reads it.
func decode(t *testing.T, b []byte) Payload {
	t.Helper()
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("body is not JSON: %v: %.200s", err, b)
	}
	return p
}

// TestOversizedBodyFits sends an alarm whose raw fields add up to far
// more than 1 MiB (control characters are six bytes each in JSON): it
// arrives within the limit, the largest fields left out first, the
// small ones and everything identifying kept, and a note says so.
func TestOversizedBodyFits(t *testing.T) {
	r := newReceiver(t, false)
	m := fullMessage()
	for i := range 300 {
		m.Details[fmt.Sprintf("big%03d", i)] = strings.Repeat("\x01", 2000)
	}
	for i := range 20 {
		m.Details[fmt.Sprintf("small%02d", i)] = "v"
	}
	m.Details[strings.Repeat("k", 600<<10)] = "a key alone of 600 KiB"
	if err := notifier(t, r.URL(), Config{}).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := only(t, r)
	if len(got.Body) > MaxBody {
		t.Errorf("body of %d bytes, want ≤ %d", len(got.Body), MaxBody)
	}
	p := decode(t, got.Body)
	want := NewPayload(m)
	if p.ID != want.ID || p.Key != m.Key || p.Action != "message" || p.Severity != "critical" || p.Summary != m.Summary ||
		p.Rule != "critical" || p.Event.Message != m.Text || p.Event.Recommendation != m.Recommendation || p.Event.Node != "db1" {
		t.Errorf("identity changed: %+v", p)
	}
	for i := range 20 {
		if k := fmt.Sprintf("small%02d", i); p.Event.Fields[k] != "v" {
			t.Errorf("fields.%s = %q: small fields must stay while big ones are left out", k, p.Event.Fields[k])
		}
	}
	if p.Event.Fields["alarmId"] != "18446744073709551615" {
		t.Errorf("fields.alarmId left out")
	}
	omitted := len(m.Details) - len(p.Event.Fields)
	if note := fmt.Sprintf("%d of %d event fields left out (largest first) to fit the webhook's 1 MiB body limit", omitted, len(m.Details)); p.Truncated != note {
		t.Errorf("truncated = %q, want %q", p.Truncated, note)
	}
	// Each big field is 12 kB on the wire: about 85 fit, and the limit
	// is used, not emptied.
	if kept := len(p.Event.Fields) - 22; kept < 80 || len(got.Body) < MaxBody*9/10 {
		t.Errorf("%d big fields kept in %d bytes: the limit is not used", kept, len(got.Body))
	}
}

// TestPathologicalBodyFits: texts of megabytes (a node name, the
// summary, the key) are cut once the raw fields and the message are
// gone; the key as the state bounds it, the same for a trigger and its
// resolve.
func TestPathologicalBodyFits(t *testing.T) {
	m := fullMessage()
	m.Key = strings.Repeat("K", 400<<10)
	m.Node = strings.Repeat("\x02", 200<<10) // 1.2 MB in JSON
	m.Summary = strings.Repeat("é", 100<<10)
	m.Text = strings.Repeat("t", 300<<10)
	b := Body(m)
	if len(b) > MaxBody {
		t.Fatalf("body of %d bytes", len(b))
	}
	p := decode(t, b)
	if p.Key != keys.Bound(m.Key, 1024) || len(p.Event.Node) > 1024 || len(p.Summary) > 1024 || !utf8.ValidString(p.Summary) {
		t.Errorf("key %.80s… node %d bytes summary %d bytes", p.Key, len(p.Event.Node), len(p.Summary))
	}
	if p.Event.Message != "" || p.Event.Recommendation != "" || len(p.Event.Fields) != 0 {
		t.Errorf("message %d bytes, recommendation %q, %d fields: want them left out first", len(p.Event.Message), p.Event.Recommendation, len(p.Event.Fields))
	}
	want := "2 of 2 event fields left out (largest first) to fit the webhook's 1 MiB body limit; event message and recommendation left out; texts cut to 1024 bytes"
	if p.Truncated != want || p.ID != ID(m) {
		t.Errorf("truncated %q id %s, want %q and the full message's id", p.Truncated, p.ID, want)
	}
	m.Action = channels.Resolve
	if r := decode(t, Body(m)); r.Key != p.Key {
		t.Errorf("the resolve's key %.80s… is not the trigger's", r.Key)
	}
}

// TestBodyWithinTheLimitIsUntouched: fitting costs an ordinary body
// nothing.
func TestBodyWithinTheLimitIsUntouched(t *testing.T) {
	m := fullMessage()
	for i := range 100 {
		m.Details[fmt.Sprintf("f%03d", i)] = strings.Repeat("x", 8000)
	}
	b := Body(m)
	p := decode(t, b)
	if p.Truncated != "" || len(p.Event.Fields) != 102 || strings.Contains(string(b), "truncated") {
		t.Errorf("a body of %d bytes lost fields (%d left, note %q)", len(b), len(p.Event.Fields), p.Truncated)
	}
}

// FuzzBody: whatever the event's texts, raw fields and body part hold,
// what is sent is one JSON value within MaxBody: the part itself when
// it is one, the default body otherwise.
func FuzzBody(f *testing.F) {
	f.Add("k", "summary", "field", "value", `{"a":1}`, true)
	f.Add("k\x00\xff", "\u2028<&>\"\\", "\xc3", "\xff\xfe\x01\n", `{"a":`, true)
	f.Add("", "", "", "", "", false)
	f.Add("k", "s", strings.Repeat("f", 300), strings.Repeat("\x1f", 40_000), "null", true)
	f.Add("k", "s", "x", "y", "[1, 2, {\"z\": \"\xff\"}]", true)
	f.Fuzz(func(t *testing.T, key, text, field, value, part string, withPart bool) {
		m := &channels.Message{Key: key, Action: channels.Trigger, Severity: text, Summary: text, Node: text,
			Text: text, Details: map[string]string{field: value, field + "2": value + value, "n": text}}
		// Many copies of the value: a raw field set that can exceed the limit.
		for i := range 8 {
			m.Details[fmt.Sprint(i, field)] = strings.Repeat(value, 1+i)
		}
		if withPart {
			m.Parts = map[string]string{"body": part}
		}
		b := Body(m)
		if !json.Valid(b) || len(b) > MaxBody {
			t.Fatalf("body of %d bytes, valid JSON %v: %.200q", len(b), json.Valid(b), b)
		}
		if withPart && json.Valid([]byte(part)) && utf8.ValidString(part) && len(part) <= MaxBody {
			if string(b) != part {
				t.Errorf("a valid part was not sent as rendered: %.200q", b)
			}
			return
		}
		if p := decode(t, b); p.Version != Version || p.ID != ID(m) {
			t.Errorf("not the default body: %.200q", b)
		}
	})
}

// TestDigestBodyListsMembers: a group's notification carries its members;
// one alert's body has no members field at all.
func TestDigestBodyListsMembers(t *testing.T) {
	m := &channels.Message{Key: "group/critical/cc1/1", Action: channels.Trigger, Severity: "critical", Summary: "2 alerts in cc1/1",
		Members: []channels.Member{{Key: "cmon/cc1/1/1", Severity: "critical", Summary: "db1 down", Open: true}, {Key: "cmon/cc1/1/2", Severity: "warning", Summary: "db2 lag", Open: true, Note: "FLAPPING: 4 changes within 30m0s"}}}
	p := decode(t, DefaultBody(m))
	if len(p.Members) != 2 || p.Members[1].Key != "cmon/cc1/1/2" || p.Members[1].Note == "" {
		t.Errorf("members %+v", p.Members)
	}
	m.Members = nil
	if b := DefaultBody(m); strings.Contains(string(b), `"members"`) {
		t.Errorf("one alert's body has members: %s", b)
	}
}
