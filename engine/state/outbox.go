package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The outbox: every delivery is recorded before it is attempted, in the
// same transaction as the decision (or right after, with Redis), and
// leaves it only when delivered or given up. A run killed at any point
// leaves its deliveries queued: the next run or `notifier flush` sends
// them, at most once more than needed.

// Retry policy for queued deliveries.
const (
	firstRetry = 30 * time.Second
	maxRetry   = 15 * time.Minute
	// GiveUpAfter: a delivery still failing this long after it was queued
	// goes to the dead letters.
	GiveUpAfter = 24 * time.Hour
	deadTTL     = 30 * 24 * time.Hour
)

// Entry is one queued delivery.
type Entry struct {
	ID          string    `json:"id"`
	Key         string    `json:"key"`
	Channel     string    `json:"channel"`
	Type        string    `json:"type"`
	Action      string    `json:"action"`
	Rule        string    `json:"rule"`
	Reason      string    `json:"reason"`
	Message     Message   `json:"message"` // what the channel is told
	Created     time.Time `json:"created"`
	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LeaseOwner  string    `json:"lease_owner,omitempty"`
	LeasedUntil time.Time `json:"leased_until,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Uncertain: an attempt failed in a way that may not have been a
	// rejection (a timeout, a 5xx, a 429): the channel may hold the alert,
	// so a dead letter leaves it in the incident (see Undo).
	Uncertain bool `json:"uncertain,omitempty"`
	// Opened is what the decision that queued it started in the state:
	// undone if it becomes a dead letter (see Undo).
	Opened *Opened `json:"opened,omitempty"`

	// message is Message as stored, not decoded yet (Decoded.Heads); nil
	// once it is, or when it was decoded with the rest.
	message json.RawMessage
}

// NewEntryID makes an id that sorts in creation order.
func NewEntryID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return OutboxKind.ID(fmt.Sprintf("%020d-%s", now.UnixNano(), hex.EncodeToString(b[:])))
}

// NewOwner makes a lease owner id for one run: host, process id and a
// random part, so that a run on the same host can tell that the owner of
// a lease was killed (see OwnerAlive) instead of waiting out the lease.
func NewOwner() string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", hostname(), os.Getpid(), hex.EncodeToString(b[:]))
}

// hostname is this host's name, asked once per process: OwnerAlive runs
// for every leased entry a scan finds.
var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

// OwnerAlive reports whether the run that owns a lease may still be
// working: false only when it ran on this host and its process is gone
// (kill -9 between recording and delivering). Owners on other hosts are
// trusted until their lease ends.
func OwnerAlive(owner string) bool {
	host, rest, ok := strings.Cut(owner, "/")
	pidText, _, ok2 := strings.Cut(rest, "/")
	pid, err := strconv.Atoi(pidText)
	if !ok || !ok2 || err != nil || pid <= 0 {
		return true
	}
	if host != hostname() {
		return true
	}
	return processAlive(pid)
}

// LeasedByOther reports whether e is leased at now to a run other than
// owner that may still be working on it (alive, normally OwnerAlive):
// such an entry, and the entries behind it in its chain, are that run's.
func (e Entry) LeasedByOther(owner string, now time.Time, alive func(string) bool) bool {
	return e.LeaseOwner != "" && e.LeaseOwner != owner && now.Before(e.LeasedUntil) && alive(e.LeaseOwner)
}

// Record stores e under its id.
func (e Entry) Record() (*Record, error) { return OutboxKind.Encode(e.withMessage(), time.Time{}) }

// Entries decodes outbox records, oldest first.
func Entries(recs map[string]*Record) []Entry { return (*Decoded)(nil).Heads(recs) }

// Claim chooses what owner delivers now and leases it until until. Per
// key and channel, entries go in creation order — a resolve never
// overtakes its trigger — so a chain is claimed whole or not at all: when
// its oldest entry is leased by another live run, or waits for its next
// attempt (unless force, as flush does, or the entry is owner's own), the
// chain waits too. Claimed entries are updated in recs.
//
// alive says whether another lease owner may still be working (normally
// OwnerAlive); a lease whose owner died is taken over at once. changed
// says whether any record had to be written: claiming only what owner
// queued itself (leased to it until until) changes nothing, and needs no
// lock.
func Claim(recs map[string]*Record, owner string, now, until time.Time, force bool, alive func(string) bool) (chains [][]Entry, changed bool, err error) {
	return (*Decoded)(nil).Claim(recs, owner, now, until, force, alive)
}

// Claim is Claim, decoding through d only the records it has not seen
// with the same bytes; d remembers the records it writes (for Settle).
func (d *Decoded) Claim(recs map[string]*Record, owner string, now, until time.Time, force bool, alive func(string) bool) (chains [][]Entry, changed bool, err error) {
	type chainKey struct{ key, channel string }
	byKey := map[chainKey][]Entry{}
	var order []chainKey
	for _, e := range d.Heads(recs) {
		k := chainKey{e.Key, e.Channel}
		if _, seen := byKey[k]; !seen {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], e)
	}
	for _, k := range order {
		chain := byKey[k]
		head := chain[0]
		mine := head.LeaseOwner == owner
		if head.LeasedByOther(owner, now, alive) || !(mine || force || !now.Before(head.NextAttempt)) {
			continue
		}
		// Behind the head, stop at an entry another live run holds: it is
		// delivering (or about to), and its place in the order is its own.
		for i := 1; i < len(chain); i++ {
			if chain[i].LeasedByOther(owner, now, alive) {
				chain = chain[:i]
				break
			}
		}
		for i := range chain {
			chain[i] = d.full(chain[i]) // claimed: to be delivered
			if chain[i].LeaseOwner == owner && chain[i].LeasedUntil.Equal(until) {
				continue // already ours (queued by this run): no write, no fsync
			}
			chain[i].LeaseOwner, chain[i].LeasedUntil = owner, until
			r, err := chain[i].Record()
			if err != nil {
				return nil, false, err
			}
			recs[chain[i].ID] = r
			d.claimed(chain[i], r)
			changed = true
		}
		chains = append(chains, chain)
	}
	return chains, changed, nil
}

// Attempt is how one attempt to deliver an entry went.
type Attempt struct {
	Status     AttemptStatus
	Err        error         // why it failed
	RetryAfter time.Duration // the server's Retry-After, if it gave one
	Ref        string        // the channel's reference to what it posted
	// Uncertain: the failure may not be a rejection — an attempt timed
	// out or failed retryably before a permanent answer — so the channel
	// may hold the message (see Entry.Uncertain).
	Uncertain bool
	// Took is how long the attempt took (its in-process retries
	// included); zero when it was not made.
	Took time.Duration
}

// Settle records an outcome: a delivered entry leaves the outbox; a
// retryable failure waits for its next attempt (exponential, honouring
// Retry-After); a permanent failure, or one that kept failing for
// GiveUpAfter, becomes a dead letter, and what its decision opened is
// undone (Undo). It returns what happened, for history:
// OutcomeDelivered, OutcomeQueued, OutcomeFailed. The records SettleIDs
// names must be in recs.
//
// Settle acts only while the entry is still owner's: a run that settles
// after its lease ran out (stopped, or slow to get the lock) and was taken
// over must not bring back an entry another run already delivered. It
// then returns OutcomeSuperseded and changes nothing.
func Settle(recs map[string]*Record, e Entry, o Attempt, now time.Time, owner string) (Outcome, error) {
	return (*Decoded)(nil).Settle(recs, e, o, now, owner)
}

// Settle is Settle, reading whose the entry is through d: the record
// Claim left (wrote, or found already leased to owner) is not decoded
// again while its bytes are unchanged.
func (d *Decoded) Settle(recs map[string]*Record, e Entry, o Attempt, now time.Time, owner string) (Outcome, error) {
	cur, ok := d.settling(e.ID, recs[e.ID])
	if !ok || cur.LeaseOwner != owner {
		return OutcomeSuperseded, nil
	}
	e = e.withMessage() // one of Decoded.Heads' would lose its message in a dead letter
	e.LeaseOwner, e.LeasedUntil = "", time.Time{}
	switch o.Status {
	case AttemptDelivered:
		recs[e.ID] = nil
		delivered(recs, e)
		return OutcomeDelivered, nil
	case AttemptSkipped:
		r, err := e.Record()
		recs[e.ID] = r
		return OutcomeQueued, err
	}
	e.Attempts++
	e.LastError = o.Err.Error()
	e.Uncertain = e.Uncertain || o.Status == AttemptRetryable || o.Uncertain
	if !givesUp(e, o, now) {
		wait := firstRetry << min(e.Attempts-1, 10)
		wait = min(wait, maxRetry)
		wait = max(wait, o.RetryAfter)
		if o.RetryAfter > 0 {
			throttle(recs, e.Channel, now.Add(o.RetryAfter))
		}
		e.NextAttempt = now.Add(wait)
		r, err := e.Record()
		recs[e.ID] = r
		return OutcomeQueued, err
	}
	recs[e.ID] = nil
	if err := DeadKind.Put(recs, DeadKind.ID(strings.TrimPrefix(e.ID, OutboxPrefix)), e, now.Add(deadTTL)); err != nil {
		return "", err
	}
	Undo(recs, e, now)
	return OutcomeFailed, nil
}
