package pagerduty

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"notifier/channels"
	"notifier/internal/apitest"
)

// TestOversizedEventFitsTheLimit sends an alarm whose raw fields add up
// to far more than PagerDuty's 512 KB (each value is capped, their
// number is not) to the local Events API, which answers 400 over the
// limit as the real one does: the page must be accepted, with the small
// fields and everything identifying kept and a note saying what was
// left out.
func TestOversizedEventFitsTheLimit(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	n := notifier(t, srv.URL(), Config{})

	details := map[string]string{}
	for i := range 300 {
		details[fmt.Sprintf("big%03d", i)] = strings.Repeat("<x>", 2000) // escaped by JSON: 6× on the wire
	}
	for i := range 20 {
		details[fmt.Sprintf("small%02d", i)] = "v"
	}
	details[strings.Repeat("k", 600<<10)] = "a key alone over the limit"
	m := &channels.Message{
		Key: "cmon/ctl1/7/42", Action: channels.Trigger, Severity: "critical", Summary: "MySQL disconnected",
		Rule: "page-db", Text: "the server went away", Node: strings.Repeat("n", 100<<10), Details: details,
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatalf("oversized event: %v", err)
	}
	evs := srv.Events()
	if len(evs) != 1 || evs[0].Status != 202 {
		t.Fatalf("got %d requests, want one accepted", len(evs))
	}
	if size := len(evs[0].Raw); size > maxEventSize {
		t.Errorf("event of %d bytes, want ≤ %d", size, maxEventSize)
	}
	ev := evs[0].Event
	cd := ev.Payload.CustomDetails
	if ev.DedupKey != m.Key || ev.Payload.Severity != "critical" || ev.Payload.Summary != m.Summary {
		t.Errorf("identity changed: dedup_key %q severity %q summary %q", ev.DedupKey, ev.Payload.Severity, ev.Payload.Summary)
	}
	for _, k := range []string{"rule", "key", "message"} {
		if cd[k] == nil {
			t.Errorf("custom_details.%s left out", k)
		}
	}
	for i := range 20 {
		if k := fmt.Sprintf("small%02d", i); cd[k] != "v" {
			t.Errorf("custom_details.%s = %v: small fields must stay while big ones are left out", k, cd[k])
		}
	}
	note, _ := cd["truncated"].(string)
	if !strings.Contains(note, "left out") || !strings.Contains(note, "512 KB") {
		t.Errorf("custom_details.truncated = %q, want a note saying what was left out and why", note)
	}
	if len(ev.Payload.Source) > maxFieldLen {
		t.Errorf("source of %d bytes, want ≤ %d", len(ev.Payload.Source), maxFieldLen)
	}
}

// TestEventWithinTheLimitIsUntouched: fitting must not cost a normal
// event a field.
func TestEventWithinTheLimitIsUntouched(t *testing.T) {
	m := fullMessage()
	for i := range 100 {
		m.Details[fmt.Sprintf("f%03d", i)] = strings.Repeat("x", maxDetailLen)
	}
	ev := BuildEvent(testKey, Config{}, m)
	d := ev.Payload.Details.(map[string]any)
	if _, ok := d["truncated"]; ok || len(d) < 100 {
		t.Errorf("an event of %d bytes lost fields (%d left, note %v)", encodedSize(ev), len(d), d["truncated"])
	}
}

// BenchmarkBuildEvent: what fitting costs an ordinary event (one extra
// encoding to measure it).
func BenchmarkBuildEvent(b *testing.B) {
	m := fullMessage()
	for b.Loop() {
		BuildEvent(testKey, Config{}, m)
	}
}
