package pipeline

import (
	"context"

	"notifier/engine/event"
)

// EntryDone reports whether the spool entry a RunEntry ran may be
// deleted: its decision committed (the state transaction recorded it,
// and the outbox holds what it queued), or, with the state unusable,
// nothing of it is lost without the entry (each delivery made, or kept
// in the pending directory for the next run).
func (r *Report) EntryDone() bool {
	if !r.FailedOpen {
		return true // every path that does not fail open has committed
	}
	if r.PendingErr == nil {
		return true
	}
	for _, d := range r.Deliveries {
		if d.Outcome == OutcomeUndelivered {
			return false
		}
	}
	return true
}

// RunClaimed is RunEntry for a claimed spool entry, with the rule for
// deleting the entry in one place: done is called once, as soon as the
// decision is durable (Decided: before anything is delivered, so that a
// run killed while it delivers leaves the outbox or the pending
// directory to deliver it, not an entry to decide again), or after the
// run when EntryDone says nothing is lost without the entry. It reports
// whether done was called; when not, the entry stays for another
// claimer (or goes back to new/).
func (p *Pipeline) RunClaimed(ctx context.Context, ev *event.Event, entryID string, done func()) (*Report, bool) {
	q := *p
	called := false
	q.Decided = func(string) { done(); called = true }
	r := q.RunEntry(ctx, ev, entryID)
	if !called && r.EntryDone() {
		done()
		called = true
	}
	return r, called
}
