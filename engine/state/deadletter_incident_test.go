package state

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
)

// settleNamed settles e as a run does: in an Update that names only e
// and SettleIDs, so it sees no other run's outbox entries.
func settleNamed(t *testing.T, recs map[string]*Record, e Entry, o Attempt, now time.Time, owner string) string {
	t.Helper()
	sub := map[string]*Record{}
	for _, id := range append([]string{e.ID}, SettleIDs(e, o, now, recs[FailureID(e.Channel)] != nil)...) {
		if r, ok := recs[id]; ok {
			sub[id] = r
		}
	}
	what, err := Settle(sub, e, o, now, owner)
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range sub {
		if r == nil {
			delete(recs, id)
		} else {
			recs[id] = r
		}
	}
	return string(what)
}

// queueDecided decides ev at minute min and queues its delivery to
// channel, leased to owner.
func queueDecided(t *testing.T, recs map[string]*Record, ev *event.Event, d *engine.Decision, min int, channel, owner string) Entry {
	t.Helper()
	res, err := Apply(Input{Event: ev, Decision: d, Now: at(min)}, recs)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.Send, func(p Planned) bool { return p.Channel == channel })
	if i < 0 {
		t.Fatalf("minute %d sends nothing to %s:\n%s", min, channel, summary(res))
	}
	p := res.Send[i]
	e := Entry{ID: OutboxPrefix + channel + string(rune('a'+min)), Key: ev.Key, Channel: channel, Type: p.Type, Action: p.Action,
		Created: at(min), LeaseOwner: owner, LeasedUntil: at(min + 100), Opened: &p.Opened}
	queue(t, recs, e)
	return e
}

func removeOf(t *testing.T, recs map[string]*Record, ev *event.Event, min int) string {
	t.Helper()
	rm := *ev
	rm.Action = event.ActionRemove
	res, err := Apply(Input{Event: &rm, Decision: &engine.Decision{Key: ev.Key}, Now: at(min)}, recs)
	if err != nil {
		t.Fatal(err)
	}
	return summary(res)
}

// TestDeadLetterWithAnotherRunsEntryQueued: run A's trigger T1 to pager
// retries; run B queues T2 to pager for the same key; T1 is given up in
// an Update that does not name T2. Pager stays in the incident, so the
// recovery resolves the alert T2 raises.
func TestDeadLetterWithAnotherRunsEntryQueued(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	t1 := queueDecided(t, recs, ev, d, 0, "pager", "A")
	t2 := queueDecided(t, recs, ev, d, 31, "pager", "B")
	if what := settleNamed(t, recs, t1, rejected, at(32), "A"); what != "failed" {
		t.Fatalf("T1: %s", what)
	}
	if got := removeOf(t, recs, ev, 33); !strings.Contains(got, "send pager resolve: ") {
		t.Fatalf("T2 to pager is still queued: the recovery must resolve pager:\n%s", got)
	}
	if what := settleNamed(t, recs, t2, deliveredOK, at(34), "B"); what != "delivered" {
		t.Fatalf("T2: %s", what)
	}
}

// TestDeadLetterCountsSettleOnce: once the other run's entry is settled
// too (given up), nothing is queued for pager any more and no attempt
// was uncertain: the recovery sends pager nothing.
func TestDeadLetterCountsSettleOnce(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	t1 := queueDecided(t, recs, ev, d, 0, "pager", "A")
	t2 := queueDecided(t, recs, ev, d, 31, "pager", "B")
	settleNamed(t, recs, t1, rejected, at(32), "A")
	settleNamed(t, recs, t2, rejected, at(33), "B")
	// T2 did not add pager (T1 had), so it keeps it: an extra resolve is
	// harmless; what matters is that the count went down to 0. (Ops was
	// never queued here.)
	inc, _ := readIncident(recs, IncidentID(ev.Key))
	for _, tl := range inc.Told {
		if tl.Channel == "pager" && tl.Queued != 0 {
			t.Errorf("told %+v: nothing is queued any more", tl)
		}
	}
}

// TestDeadLetterAfterUncertainAttempts: a delivery given up after
// GiveUpAfter of timeouts may have raised the alert (PagerDuty took the
// first request, the answer was lost): its channel stays in the
// incident and the recovery resolves it. Only definite rejections take
// the channel out.
func TestDeadLetterAfterUncertainAttempts(t *testing.T) {
	timeout := Attempt{Status: AttemptRetryable, Err: errors.New("context deadline exceeded")}
	cases := []struct {
		name     string
		attempts []Attempt
		resolve  bool
	}{
		{"timeouts for GiveUpAfter", []Attempt{timeout, timeout}, true},
		{"a timeout, then a 400", []Attempt{timeout, rejected}, true},
		{"a 400 after a timeout in the same delivery", []Attempt{{Status: AttemptRejected, Err: rejected.Err, Uncertain: true}}, true},
		{"a 400", []Attempt{rejected}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := map[string]*Record{}
			ev, d := hitPolicy(30*time.Minute, 0)
			e := queueDecided(t, recs, ev, d, 0, "pager", "A")
			for i, o := range c.attempts {
				now := at(i)
				if i == len(c.attempts)-1 && o.Status == AttemptRetryable {
					now = e.Created.Add(GiveUpAfter)
				}
				want := "queued"
				if i == len(c.attempts)-1 {
					want = "failed"
				}
				if what := settleNamed(t, recs, e, o, now, "A"); what != want {
					t.Fatalf("attempt %d: %s, want %s", i+1, what, want)
				}
				if want == "queued" {
					cur := Entries(map[string]*Record{e.ID: recs[e.ID]})
					e = cur[0]
					e.LeaseOwner = "A"
					queue(t, recs, e)
				}
			}
			got := removeOf(t, recs, ev, 2000)
			if has := strings.Contains(got, "send pager resolve: "); has != c.resolve {
				t.Fatalf("recovery resolves pager: %v, want %v:\n%s", has, c.resolve, got)
			}
		})
	}
}
