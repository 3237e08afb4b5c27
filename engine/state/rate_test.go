package state

import (
	"errors"
	"testing"
	"time"

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
