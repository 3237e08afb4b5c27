package pipeline

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
