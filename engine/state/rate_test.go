package state

import (
	"errors"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// TestRetryAfterHoldsARateCappedChannel: a Retry-After (a 429) settled on
// a rate-capped channel's delivery holds everything new for it until it
// has passed, whatever the window still allows; an uncapped channel has
// no window and is not held.
func TestRetryAfterHoldsARateCappedChannel(t *testing.T) {
	spec := policy.RateSpec{Max: 10, Per: time.Minute}
	recs := map[string]*Record{}
	if err := putWindow(recs, "pager", RateWindow{Start: at(0), Sent: 1}, spec); err != nil {
		t.Fatal(err)
	}
	e := Entry{ID: "o/1", Key: "k", Channel: "pager", Created: at(0), LeaseOwner: "me", LeasedUntil: at(1)}
	queue(t, recs, e)
	if ids := SettleIDs(e, Attempt{Status: AttemptRetryable, RetryAfter: 5 * time.Minute}, at(0), false); len(ids) != 1 || ids[0] != RateID("pager") {
		t.Fatalf("SettleIDs = %v, want the channel's rate window", ids)
	}
	if _, err := Settle(recs, e, Attempt{Status: AttemptRetryable, Err: errors.New("HTTP 429"), RetryAfter: 5 * time.Minute}, at(0), "me"); err != nil {
		t.Fatal(err)
	}
	w := window(recs, "pager", spec, at(1))
	if full, until := w.full(spec, at(1)); !full || !until.Equal(at(5)) {
		t.Errorf("one minute after a 429 with Retry-After 5m: full %v until %s, want held until %s", full, until, at(5))
	}
	if full, _ := window(recs, "pager", spec, at(6)).full(spec, at(6)); full {
		t.Error("still held after the Retry-After passed")
	}
	throttle(recs, "chat", at(9)) // no window: not capped
	if recs[RateID("chat")] != nil {
		t.Error("an uncapped channel got a rate window")
	}
}

// TestSetDueKeepsWhatWasMadeDueMeanwhile: a scan that found nothing due
// does not clear the due index when a decision made something due while
// it looked, even later than the index said (its Seq moved).
func TestSetDueKeepsWhatWasMadeDueMeanwhile(t *testing.T) {
	recs := map[string]*Record{}
	noteDue(recs, at(0))
	seen := Due(recs)               // the scan begins
	noteDue(recs, at(60))           // another run holds something, due in an hour
	SetDue(recs, seen, time.Time{}) // the scan, begun before it, found nothing
	if DueAt(recs).IsZero() {
		t.Error("the due index was cleared with something held")
	}
	seen = Due(recs)
	SetDue(recs, seen, at(60)) // a scan with nothing in between sets it right
	if !DueAt(recs).Equal(at(60)) {
		t.Errorf("index %s, want %s", DueAt(recs), at(60))
	}
}

// TestFullRateGroupCountsUnlisted: alerts a full rate group cannot list
// are counted, said in its digest, and keep it open until they clear.
func TestFullRateGroupCountsUnlisted(t *testing.T) {
	defer func(n int) { maxGroupMembers = n }(maxGroupMembers)
	maxGroupMembers = 2
	spec := policy.RateSpec{Max: 1, Per: time.Hour}
	recs := map[string]*Record{}
	in := func(key, action string, now time.Time) Input {
		return Input{Event: &event.Event{Key: key, Action: action, Severity: "critical"}, Now: now, Rates: map[string]policy.RateSpec{"pager": spec},
			Decision: &engine.Decision{Key: key}, ClearIDs: []string{RateGroupID("pager")}}
	}
	p := Planned{Delivery: engine.Delivery{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "r"}}
	for i, key := range []string{"a", "b", "c"} {
		if _, _, err := joinRate(in(key, event.ActionNew, at(i)), p, spec, at(60), recs); err != nil {
			t.Fatal(err)
		}
	}
	g, _ := getGroup(recs, RateGroupID("pager"))
	if len(g.Members) != 2 || g.Unlisted != 1 || digestOf(g).Unlisted != 1 {
		t.Fatalf("members %d, unlisted %d; want 2 listed, 1 counted", len(g.Members), g.Unlisted)
	}
	IncidentKind.Put(recs, IncidentID(g.Key), Incident{Key: g.Key, Told: []Told{{Channel: "pager", Type: "pagerduty"}}}, at(600))
	for _, key := range []string{"a", "b"} {
		var res Result
		if err := clearMember(in(key, event.ActionRemove, at(70)), GroupRef{ID: RateGroupID("pager"), Key: g.Key}, recs, &res); err != nil || len(res.Send) != 0 {
			t.Fatalf("clear of %s: %v, sent %v; the unlisted one is still open", key, err, res.Send)
		}
	}
	var res Result
	if err := clearMember(in("c", event.ActionRemove, at(71)), GroupRef{ID: RateGroupID("pager"), Key: g.Key}, recs, &res); err != nil || len(res.Send) != 1 || res.Send[0].Action != engine.DeliverResolve {
		t.Fatalf("the last clear: %v, sent %v; want the rate group's resolve", err, res.Send)
	}
}
