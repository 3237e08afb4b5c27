package state

import "time"

// A spool entry (engine/spool) is deleted only after the transaction that
// decided it has committed: a claimer killed between the commit and the
// delete leaves the entry to be claimed again. The decision therefore
// records the entry's id in the same transaction, and a second decision
// of the same entry finds it and does nothing (Result.AlreadyDecided):
// the notifications the first one queued are in the outbox already.

// DecidedTTL is how long a decided entry is remembered. It must outlive
// any re-claim of an entry whose claimer died after the commit: that
// entry waits in the spool until a claimer takes it over, which may be
// only when the engine next starts — after a reboot, a long outage, a
// weekend with the service stopped. A week covers those; the record is
// small, one per event.
const DecidedTTL = 7 * 24 * time.Hour

// Decided is what a DecidedID record holds: that the spool entry was
// decided, when, and for which key.
type Decided struct {
	Entry   string    `json:"entry"`
	Key     string    `json:"key"`
	Decided time.Time `json:"decided"`
}

// DecidedID is the record of one decided spool entry.
func DecidedID(entry string) string { return DecidedKind.ID(entry) }
