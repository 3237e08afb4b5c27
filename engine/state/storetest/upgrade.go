package storetest

import (
	"context"
	"testing"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// upgrade: a store written by the version before the kind registry and
// state.Message — an outbox entry whose message is channels.Message's
// own encoding, and an alert's occurrence record, both under "o/" —
// still works: the queued page is found by the outbox scan, decodes to
// the message that version would have sent, is claimed and settled; the
// occurrence record still marks the alert's other invocations as
// duplicates; and the outbox never takes the occurrence record for an
// entry.
func upgrade(t *testing.T, open func(t *testing.T) state.Store) {
	ctx := context.Background()
	s := open(t)
	now := time.Now().UTC().Truncate(time.Second)
	entryID := "o/00000001795230245000000000-0a1b2c3d"
	oldEntry := `{"id":"` + entryID + `","key":"cmon/cc/1/42","channel":"pager","type":"pagerduty","action":"trigger","rule":"crit","reason":"first",` +
		`"message":{"Key":"cmon/cc/1/42","Action":"trigger","Severity":"critical","Summary":"[critical] db1: MySQL down","Rule":"crit","Source":"cmon",` +
		`"Kind":"alarm","EventType":"alarm","Cluster":"prod","ClusterID":7,"Node":"db1","Controller":"cc1","Name":"MySqlDown","Text":"mysqld is not running",` +
		`"Recommendation":"","Count":1,"Time":"2026-11-22T03:00:00Z","Details":null},"created":"` + now.Format(time.RFC3339) + `"}`
	occ := "pacemaker-17-node1"
	oldOcc := "o/" + occ
	err := s.Update(ctx, nil, func(m map[string]*state.Record) error {
		m[entryID] = &state.Record{Data: []byte(oldEntry)}
		m[oldOcc] = &state.Record{Data: []byte(`{"rules":["crit"]}`), Expires: now.Add(time.Hour)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The other invocation of the alert the old version decided.
	ev := &event.Event{Key: "cmon/cc/1/42", Action: event.ActionNew, Severity: "critical"}
	d := &engine.Decision{Key: ev.Key, Hits: []engine.Hit{{Rule: "crit"}},
		Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "crit"}}}
	res := apply(t, s, state.Input{Event: ev, Decision: d, Now: now, Occurrence: occ})
	if len(res.Send) != 0 || len(res.Skip) != 1 || res.Skip[0].Outcome != state.OutcomeDuplicate {
		t.Fatalf("an invocation after the old version's: send %+v skip %+v, want a duplicate", res.Send, res.Skip)
	}

	found, err := s.Scan(ctx, state.OutboxPrefix)
	if err != nil {
		t.Fatal(err)
	}
	es := state.Entries(found)
	if len(es) != 1 || es[0].ID != entryID {
		t.Fatalf("outbox after the upgrade: %+v", es)
	}
	m, err := es[0].Message.Channels()
	if err != nil || m.Summary != "[critical] db1: MySQL down" || m.ClusterID != 7 || m.Action != channels.Trigger || m.Key != ev.Key {
		t.Fatalf("queued message = %+v, %v", m, err)
	}
	var chains [][]state.Entry
	err = s.Update(ctx, []string{entryID}, func(recs map[string]*state.Record) error {
		chains, _, err = state.Claim(recs, "me", now, now.Add(time.Minute), false, func(string) bool { return true })
		return err
	})
	if err != nil || len(chains) != 1 || len(chains[0]) != 1 {
		t.Fatalf("claim: %v, %v", chains, err)
	}
	e := chains[0][0]
	o := state.Attempt{Status: state.AttemptDelivered}
	ids := append([]string{e.ID}, state.SettleIDs(e, o, now, false)...)
	var what state.Outcome
	err = s.Update(ctx, ids, func(recs map[string]*state.Record) error {
		what, err = state.Settle(recs, e, o, now, "me")
		return err
	})
	if err != nil || what != state.OutcomeDelivered {
		t.Fatalf("settle: %s, %v", what, err)
	}
	if left, _ := s.Scan(ctx, state.OutboxPrefix); len(state.Entries(left)) != 0 {
		t.Errorf("delivered entry still queued: %v", left)
	}
}

// formerOccurrence: invocations of one Pacemaker alert by versions on
// either side of the occurrence hash's change (SHA-256 before 2026-12,
// FNV-1a since) act on it once: the record the first one wrote under
// its identity is found by the second through FormerOccurrence, both
// ways round.
func formerOccurrence(t *testing.T, open func(t *testing.T) state.Store) {
	now := time.Now().UTC().Truncate(time.Second)
	ev := &event.Event{Key: "pacemaker/c/node/n1", Action: event.ActionNew, Severity: "critical"}
	d := &engine.Decision{Key: ev.Key, Hits: []engine.Hit{{Rule: "crit"}},
		Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "crit"}}}
	const sha, fnv = "pacemaker/5ha5ha", "pacemaker/f7f7f7"
	for _, order := range [][2]state.Input{
		{{Occurrence: sha}, {Occurrence: fnv, FormerOccurrence: sha}},                        // old version first
		{{Occurrence: fnv, FormerOccurrence: sha}, {Occurrence: sha, FormerOccurrence: fnv}}, // new first, then an old entry
	} {
		s := open(t)
		for i, in := range order {
			in.Event, in.Decision, in.Now = ev, d, now
			res := apply(t, s, in)
			dup := len(res.Send) == 0 && len(res.Skip) == 1 && res.Skip[0].Outcome == state.OutcomeDuplicate
			if first := i == 0; first == dup || first && len(res.Send) != 1 {
				t.Errorf("%s then %s, invocation %d: send %+v skip %+v", order[0].Occurrence, order[1].Occurrence, i+1, res.Send, res.Skip)
			}
		}
	}
}
