package storetest

import (
	"context"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// decidedEntries: a spool entry decided, then decided again (claimed
// again after a crash between the commit and the delete), is decided
// once: the second decision sends, counts and writes nothing, and the
// entry's record, with its expiry, is there to say so. Another entry of
// the same event is decided as usual (suppressed).
func decidedEntries(t *testing.T, open func(t *testing.T) state.Store) {
	ctx := context.Background()
	s := open(t)
	now := time.Now().UTC().Truncate(time.Second)
	ev := &event.Event{Key: "cmon/cc/1/42", Action: event.ActionNew, Severity: "critical"}
	d := &engine.Decision{
		Key:        ev.Key,
		Hits:       []engine.Hit{{Rule: "crit", SuppressFor: time.Hour}},
		Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "crit"}},
	}
	const entry = "00000001795230245000000000-4242-0a1b2c3d"
	decide := func(entry string, at time.Time) state.Result {
		t.Helper()
		return apply(t, s, state.Input{Event: ev, Decision: d, Now: at, Entry: entry})
	}
	window := func() state.Window {
		t.Helper()
		id := state.WindowID("crit", ev.Key)
		recs, err := s.View(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		w, ok := state.WindowKind.Get(recs, id)
		if !ok {
			t.Fatalf("no window %s", id)
		}
		return w
	}

	if res := decide(entry, now); res.AlreadyDecided || len(res.Send) != 1 {
		t.Fatalf("first decision: %+v, want one delivery", res)
	}
	before := window()
	if res := decide(entry, now.Add(time.Minute)); !res.AlreadyDecided || len(res.Send)+len(res.Skip) != 0 {
		t.Fatalf("the same entry again: %+v, want already decided and nothing planned", res)
	}
	if after := window(); after != before {
		t.Errorf("the second decision changed the window: %+v, was %+v", after, before)
	}
	id := state.DecidedID(entry)
	recs, err := s.View(ctx, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := state.DecidedKind.Get(recs, id)
	if !ok || rec.Entry != entry || rec.Key != ev.Key || !rec.Decided.Equal(now) {
		t.Errorf("decided record = %+v, %v", rec, ok)
	}
	if r := recs[id]; r == nil || r.Expires.Sub(now.Add(state.DecidedTTL)).Abs() > time.Second {
		t.Errorf("decided record expires %v, want %v", r, now.Add(state.DecidedTTL))
	}

	res := decide("00000001795230245000000001-4242-0a1b2c3d", now.Add(2*time.Minute))
	if res.AlreadyDecided || len(res.Send) != 0 || len(res.Skip) != 1 || res.Skip[0].Outcome != state.OutcomeSuppressed {
		t.Fatalf("another entry of the same event: %+v, want it suppressed", res)
	}
	if w := window(); w.Suppressed != 1 {
		t.Errorf("window after another entry: %+v, want 1 suppressed", w)
	}
}
