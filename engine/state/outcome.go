package state

// Outcome is what became of one notification: the decision about it
// (Planned.Outcome), or what a delivery attempt and its settling made of
// it (Settle). History keeps it, and `notifier history` shows it.
type Outcome string

// The decisions (Apply, and the run when it has no state).
const (
	OutcomeFirst        Outcome = "first"        // notified: the first, or the first after the window
	OutcomeSuppressed   Outcome = "suppressed"   // held back by the rule's suppression window
	OutcomeEscalated    Outcome = "escalated"    // the escalation channels told
	OutcomeCounted      Outcome = "counted"      // counted toward an escalation that has not happened
	OutcomeSilenced     Outcome = "silenced"     // held back by a silence
	OutcomeMuted        Outcome = "muted"        // the rule's mute expression held
	OutcomeDuplicate    Outcome = "duplicate"    // another invocation of the same alert decided already
	OutcomeResolved     Outcome = "resolved"     // a resolve of what the incident told
	OutcomeSkipped      Outcome = "skipped"      // a resolve with no incident to resolve
	OutcomeUnsuppressed Outcome = "unsuppressed" // delivered without state (it was unusable)
	OutcomeUnmatched    Outcome = "unmatched"    // no rule matched
	OutcomeDropped      Outcome = "dropped"      // a rule dropped the event
	OutcomeNobody       Outcome = "nobody"       // the deciding rule notifies nobody
	OutcomeInhibited    Outcome = "inhibited"    // held back while an inhibiting incident is open
	OutcomeFlapping     Outcome = "flapping"     // the notice that a key flaps, or a change held while it does
	OutcomeGrouped      Outcome = "grouped"      // joined (or cleared in) a group: told with the group's notification
	OutcomeDigest       Outcome = "digest"       // a group's notification: its members
	OutcomeRateLimited  Outcome = "rate-limited" // held by the channel's rate cap: told in its digest
)

// What settling an attempt made of a queued entry (Settle).
const (
	OutcomeDelivered  Outcome = "delivered"  // delivered: it left the outbox
	OutcomeQueued     Outcome = "queued"     // waits for its next attempt
	OutcomeFailed     Outcome = "failed"     // given up: a dead letter
	OutcomeSuperseded Outcome = "superseded" // another run took the entry over meanwhile
)

// AttemptStatus is how an attempt to deliver an entry ended.
type AttemptStatus int

const (
	// AttemptSkipped: not tried, because an earlier entry of its chain
	// failed; it waits, unchanged, behind that one.
	AttemptSkipped AttemptStatus = iota
	// AttemptDelivered: the channel took it.
	AttemptDelivered
	// AttemptRetryable: a failure that may pass (a timeout, a 5xx, a
	// 429); retried until GiveUpAfter.
	AttemptRetryable
	// AttemptRejected: a permanent failure; a dead letter at once.
	AttemptRejected
)
