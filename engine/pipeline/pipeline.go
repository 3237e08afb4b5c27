// Package pipeline takes one event end to end — decide (silences, rules,
// state), record, deliver, settle — and flushes the outbox. It is the
// only decide path: `notifier run`, `notifier explain`, `notifier test`
// (and the resident engine to come) all decide through it, so they cannot
// drift apart.
//
// It takes everything it touches as parameters — the policy, the stores,
// the channels, the clock — and returns what happened (a Report) instead
// of printing or choosing an exit status: the command line turns a Report
// into stderr lines and an exit code, tests read it.
package pipeline

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// Pipeline is what deciding and delivering events needs. Its fields are
// read, never changed, by its methods; one Pipeline serves one command
// (and, with the same policy, any number of events).
type Pipeline struct {
	// Policy is the compiled policy that decides.
	Policy *engine.Policy
	// Open opens the stores (state.Topology: the shared store, and the
	// local one for history); each Run, Decide, Record and Flush opens
	// them once and closes them before it returns. An error makes Run
	// deliver without state (fail open).
	Open func() (*state.Topology, error)
	// Channel returns the channel the policy calls name (built on first
	// use); the pipeline never closes it: whoever made it does, once the
	// command is done.
	Channel func(name string) (channels.Channel, error)
	// Clock says what time it is: decisions, outbox ids, retries.
	// Nil is time.Now.
	Clock func() time.Time
	// Owner is the lease owner of what this pipeline queues and claims
	// (state.NewOwner); "" makes one.
	Owner string
	// Host names this host in the records a policy writes to a state file
	// (state.PolicyID): "" leaves them unmarked.
	Host string
	// StatePath is the embedded store's file: the pending directory lives
	// beside it (StatePath + ".pending"), and messages name it.
	StatePath string
	// Occurrence identifies the alert ev is one invocation of, when the
	// caller runs notifier more than once for it (state.Input.Occurrence);
	// nil, or "", for none.
	Occurrence func(ev *event.Event, now time.Time) string
	// Decided, if set, is told by RunEntry the entry's id as soon as its
	// decision is durable — the state transaction that recorded it
	// committed (the outbox holds what it queued), or, failing open, what
	// it is to deliver was kept in the pending directory — and before
	// anything is delivered: from then on the spool entry may be deleted
	// (a run killed while it delivers has lost nothing). Called at most
	// once per RunEntry, from its goroutine.
	Decided func(entryID string)
	// KeyFlush makes Run and RunEntry deliver only what the outbox holds
	// for their event's key (their own deliveries, and those queued for
	// the key before them, which go first), not every due delivery:
	// for the resident engine, which flushes the rest on its own timer,
	// so that each decision of a storm does not read the whole outbox.
	KeyFlush bool
	// Templates are the policy's compiled message templates
	// (Wiring.Templates): each delivery's are rendered into its message's
	// Parts when it is decided, and kept with it in the outbox. Nil: none.
	Templates *Templates
	// Engine says the resident engine runs this pipeline: it keeps the
	// timers, so a group's first notification waits for the group's
	// wait (state.Input.Engine). Without it, the first is sent at once.
	Engine bool
	// Note receives, as it happens, each line an operator must read (the
	// command prints it as "notifier: <line>" on stderr), from one
	// goroutine at a time. Nil discards.
	Note func(line string)
}

func (p *Pipeline) now() time.Time {
	if p.Clock != nil {
		return p.Clock()
	}
	return time.Now()
}

// owner is the lease owner of one Run or Flush.
func (p *Pipeline) owner() string {
	if p.Owner == "" {
		return state.NewOwner()
	}
	return p.Owner
}

// Report is what one Run, Decide or Record did.
type Report struct {
	// Decision is the rules' verdict on the event.
	Decision *engine.Decision
	// Plan is what the state decided: Send the deliveries made (or, with
	// no state, every delivery the rules chose), Skip those not made, each
	// with its reason.
	Plan state.Result
	// Deliveries are the attempts this run made, in the order they were
	// settled: its own and other runs' queued entries.
	Deliveries []Delivery
	// Delivered, Queued and Failed count the outbox entries this run
	// delivered, left queued (to be retried) and gave up.
	Delivered, Queued, Failed int
	// Released counts the held events (state.Held) this run decided
	// again: due, or released by its own decision.
	Released int
	// Releases are those decisions, in the order made.
	Releases []Released
	// NextHeld (Flush) is when the next held event is due; zero for none.
	NextHeld time.Time
	// FailedOpen says the state could not be used: the rules' deliveries
	// were made without suppression (StateErr says why).
	FailedOpen bool
	// Degraded says the shared store (Redis) could not be used: the
	// decision was made with this node's state only.
	Degraded bool
	// StateErr is why the state could not be used, or what could not be
	// recorded after delivering.
	StateErr error
	// PendingErr (with FailedOpen) is why the deliveries could not be
	// kept in the pending directory before they were made.
	PendingErr error
	// Marks are the failure marks of the policy's channels as read before
	// delivering: channels whose last given-up delivery has not been
	// followed by one that succeeded.
	Marks map[string]state.Failure
	// ChannelErrs (Decide only) are the channels of Plan.Send that cannot
	// be built: a run would leave their deliveries queued.
	ChannelErrs map[string]error
	// Messages (Decide and Record only) are the messages of Plan.Send, in its order,
	// with their templates rendered (Parts); PartErrs the templates that
	// failed (a run would send the channel's built-in text for them and
	// exit 1).
	Messages []*channels.Message
	PartErrs []error
	// NeedsPerson are the problems someone must look at though the run
	// did what it could (a rule that failed, a delivery given up, the
	// state unusable, a channel that cannot be built): the command exits
	// 1 when there is any. Each was also given to Note, in these or
	// other words (a channel that cannot be built: "queued for retry").
	NeedsPerson []error

	// entry is RunEntry's spool entry id; decided says Decided was told.
	entry   string
	decided bool

	mu sync.Mutex
}

// markDecided tells Decided, once, that r's entry is durable.
func (p *Pipeline) markDecided(r *Report) {
	if r.entry == "" || r.decided || p.Decided == nil {
		return
	}
	r.decided = true
	p.Decided(r.entry)
}

// OK says nothing needs a person.
func (r *Report) OK() bool { return len(r.NeedsPerson) == 0 }

// Delivery is one attempt to deliver.
type Delivery struct {
	Key, Channel, Action string
	// Outcome is what settling the attempt made of the queued entry
	// (state.OutcomeDelivered, OutcomeQueued, OutcomeFailed,
	// OutcomeSuperseded); delivering without state, OutcomeDelivered or
	// OutcomeUndelivered.
	Outcome state.Outcome
	Err     error
	// Took is how long the attempt took; RetryAfter the wait the
	// service asked for (a 429's Retry-After), if it did.
	Took, RetryAfter time.Duration
}

// OutcomeUndelivered is a delivery made without state that failed: it
// is kept in the pending directory for the next run, if it could be.
const OutcomeUndelivered state.Outcome = "undelivered"

// message is Message for the planned delivery s, with the templates of
// its rule (state.Planned.Templates: for a resolve, the rule that told
// the channel) rendered into its Parts; a template that failed is left
// out (the channel sends its built-in text) and returned as a
// *PartError. The plan's note (flapping, what cleared meanwhile) follows
// the summary.
func (p *Pipeline) message(ev *event.Event, s state.Planned) (*channels.Message, []error) {
	var members []*event.Event
	if s.Digest != nil && len(s.Digest.Events) > 0 {
		ev, members = s.Digest.LeadEvent(), s.Digest.Events // the lead member speaks for the group
	}
	m := Message(ev, s.Delivery, s.Suppressed, s.Ref)
	if s.Key != "" {
		m.Key = s.Key
	}
	if s.Digest != nil {
		digestMessage(m, s.Digest)
	}
	if s.Note != "" {
		m.Summary += " (" + s.Note + ")"
	}
	parts, errs := p.Templates.render(ev, m, s.Channel, s.Templates(), members)
	m.Parts = parts
	return m, errs
}

// partProblems says each template that failed: the message went with
// the channel's built-in text, and the run needs a person (exit 1).
func (p *Pipeline) partProblems(r *Report, errs []error) {
	for _, err := range errs {
		p.problem(r, "%w", err)
	}
}

// note gives a line to Note.
func (p *Pipeline) note(format string, args ...any) {
	if p.Note != nil {
		p.Note(fmt.Sprintf(format, args...))
	}
}

// problem notes a line that needs a person and keeps it in r.
func (p *Pipeline) problem(r *Report, format string, args ...any) {
	err := fmt.Errorf(format, args...)
	p.note("%s", err.Error())
	r.needs(err)
}

// needs keeps err in r.NeedsPerson; the caller notes it (or it is noted
// in other words elsewhere). Safe for concurrent deliveries.
func (r *Report) needs(err error) {
	r.mu.Lock()
	r.NeedsPerson = append(r.NeedsPerson, err)
	r.mu.Unlock()
}

// policyID is the policy's identity in the records it writes: this host
// and where the policy lives (its file, or its directory). Only for a
// state file: Redis is shared by nodes on purpose, and nodes that run on
// one host (tests, containers) would look like two policies there.
func (p *Pipeline) policyID(st *state.Topology) string {
	files := p.Policy.Files
	if p.Host == "" || len(files) == 0 || st.Separate() {
		return ""
	}
	path := files[0]
	if len(files) > 1 {
		path = filepath.Dir(path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // one policy, however it is reached
	}
	return state.PolicyID(p.Host, path)
}
