package mem_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
	"notifier/engine/state/mem"
	"notifier/engine/state/storetest"
)

func TestMemConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) state.Store { return mem.New(time.Now) })
}

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

func hitPolicy(sup time.Duration, after int) (*event.Event, *engine.Decision) {
	ev := &event.Event{Key: "cmon/cc/1/42", Action: event.ActionNew, Severity: "critical"}
	d := &engine.Decision{
		Key:        ev.Key,
		Hits:       []engine.Hit{{Rule: "crit", SuppressKey: ev.Key, SuppressFor: sup, EscalateAfter: after, EscalateWithin: time.Hour, Escalation: []engine.Delivery{{Channel: "boss", Type: "pagerduty", Action: "trigger", Rule: "crit"}}}},
		Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "crit"}, {Channel: "ops", Type: "slack", Action: "message", Rule: "crit"}},
	}
	return ev, d
}

func summary(r state.Result) string {
	var s []string
	for _, p := range r.Send {
		s = append(s, "send "+p.Channel+" "+p.Action+": "+p.Reason)
	}
	for _, p := range r.Skip {
		s = append(s, "skip "+p.Channel+": "+p.Reason)
	}
	return strings.Join(s, "\n")
}

// The occurrences held back are told with the next notification, even
// when it comes after the window (the store drops expired records, so
// the count must outlive the window).
func TestSuppressedCountSurvivesTheWindow(t *testing.T) {
	var now time.Time
	store := mem.New(func() time.Time { return now })
	ev, d := hitPolicy(30*time.Minute, 0)
	apply := func(min int) state.Result {
		t.Helper()
		now = at(min)
		in := state.Input{Event: ev, Decision: d, Now: now}
		var res state.Result
		err := store.Update(context.Background(), state.IDs(in), func(recs map[string]*state.Record) error {
			var err error
			res, err = state.Apply(in, recs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	apply(0)
	apply(5)
	apply(6)
	res := apply(95) // an hour after the window ended
	if len(res.Send) != 2 || res.Send[0].Suppressed != 2 || res.Send[0].Reason != "first after 2 suppressed" {
		t.Fatalf("after the window:\n%s", summary(res))
	}
	if res := apply(96); len(res.Send) != 0 {
		t.Fatalf("the count starts again after it is told:\n%s", summary(res))
	}
}
