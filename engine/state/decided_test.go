package state_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
	"notifier/engine/state/mem"
)

// A spool entry decided twice (claimed again after a crash between its
// decision's commit and its delete) is decided once: the second decision
// is a no-op that leaves every record as it was — no suppression
// counted, no escalation occurrence, no incident touched — and says so.
func TestApplyEntryDecidedOnce(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	now := t0
	s := mem.New(func() time.Time { return now })
	ev := &event.Event{Key: "cmon/cc/1/42", Action: event.ActionNew, Severity: "critical"}
	d := &engine.Decision{
		Key:        ev.Key,
		Hits:       []engine.Hit{{Rule: "crit", SuppressFor: 30 * time.Minute, EscalateAfter: 3, EscalateWithin: time.Hour}},
		Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "crit"}},
	}
	decide := func(entry string) state.Result {
		t.Helper()
		in := state.Input{Event: ev, Decision: d, Now: now, Entry: entry}
		var res state.Result
		err := s.Update(ctx, state.IDs(in), func(recs map[string]*state.Record) error {
			var err error
			res, err = state.Apply(in, recs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	all := func() map[string]*state.Record {
		t.Helper()
		recs, err := s.Scan(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	same := func(a, b map[string]*state.Record) bool {
		return maps.EqualFunc(a, b, func(x, y *state.Record) bool {
			return string(x.Data) == string(y.Data) && x.Expires.Equal(y.Expires)
		})
	}

	if res := decide("entry-1"); res.AlreadyDecided || len(res.Send) != 1 || res.Send[0].Outcome != state.OutcomeFirst {
		t.Fatalf("first decision of entry-1: %+v", res)
	}
	before := all()
	now = t0.Add(time.Minute)
	if res := decide("entry-1"); !res.AlreadyDecided || len(res.Send) != 0 || len(res.Skip) != 0 {
		t.Fatalf("entry-1 again: %+v, want already decided and nothing planned", res)
	}
	if after := all(); !same(before, after) {
		t.Errorf("deciding entry-1 again changed the records:\nbefore %v\nafter  %v", before, after)
	}
	id := state.DecidedID("entry-1")
	rec, ok := state.DecidedKind.Get(before, id)
	if !ok || rec.Entry != "entry-1" || rec.Key != ev.Key || !rec.Decided.Equal(t0) {
		t.Errorf("decided record = %+v, %v", rec, ok)
	}
	if r := before[id]; r == nil || !r.Expires.Equal(t0.Add(state.DecidedTTL)) {
		t.Errorf("decided record %+v, want it to expire at %v", r, t0.Add(state.DecidedTTL))
	}

	// Another entry of the identical event is another occurrence:
	// suppressed and counted as usual.
	res := decide("entry-2")
	if res.AlreadyDecided || len(res.Send) != 0 || len(res.Skip) != 1 || res.Skip[0].Outcome != state.OutcomeSuppressed {
		t.Fatalf("entry-2: %+v, want it suppressed", res)
	}
	w, _ := state.WindowKind.Get(all(), state.WindowID("crit", ev.Key))
	if w.Suppressed != 1 || w.Count != 2 {
		t.Errorf("window after entry-2: %+v, want 1 suppressed of 2", w)
	}

	// Once the record has expired the entry would be decided again: the
	// TTL is what bounds the recognition.
	now = t0.Add(state.DecidedTTL + time.Minute)
	if res := decide("entry-1"); res.AlreadyDecided {
		t.Errorf("entry-1 after %v still recognised", state.DecidedTTL)
	}
}

// A resolve of a spool entry is recorded too: decided again, it resolves
// nothing a second time.
func TestApplyEntryResolveDecidedOnce(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	ev := &event.Event{Key: "k", Action: event.ActionNew}
	d := &engine.Decision{Key: "k", Hits: []engine.Hit{{Rule: "r"}},
		Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "r"}}}
	recs := map[string]*state.Record{}
	if _, err := state.Apply(state.Input{Event: ev, Decision: d, Now: now, Entry: "a"}, recs); err != nil {
		t.Fatal(err)
	}
	rm := &event.Event{Key: "k", Action: event.ActionRemove}
	in := state.Input{Event: rm, Decision: &engine.Decision{Key: "k"}, Now: now.Add(time.Minute), Entry: "b"}
	if res, err := state.Apply(in, recs); err != nil || len(res.Send) != 1 || res.Send[0].Outcome != state.OutcomeResolved {
		t.Fatalf("resolve: %+v, %v", res, err)
	}
	if _, ok := state.DecidedKind.Get(recs, state.DecidedID("b")); !ok {
		t.Fatal("the resolve's entry is not recorded")
	}
	if res, err := state.Apply(in, recs); err != nil || !res.AlreadyDecided || len(res.Send) != 0 {
		t.Fatalf("resolve again: %+v, %v", res, err)
	}
}
