package pipeline

import (
	"context"
	"errors"
	"slices"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// Run takes ev end to end: the rules, then, in one short transaction of
// the shared store, the silences, suppression, escalation and incidents,
// with the deliveries queued in the outbox; then it delivers what the
// outbox holds for this run (and what is due), settles each outcome and
// writes the audit line.
//
// When the state cannot be used (Open fails, the store is unavailable or
// damaged, a lock is not had in time) the event is still delivered,
// without suppression (fail open), and what could not be delivered is
// kept in the pending directory for the next run. With Redis down it
// decides with this node's state (Degraded).
func (p *Pipeline) Run(ctx context.Context, ev *event.Event) *Report {
	return p.run(ctx, ev, "")
}

// RunEntry is Run for an event taken from the spool: entryID, the spool
// entry's id, is recorded in the decision's transaction
// (state.Input.Entry). An entry claimed again after a crash between that
// commit and the entry's delete is then recognised: Plan.AlreadyDecided,
// nothing decided, queued, delivered for it or written to history or the
// audit log. The outbox is flushed all the same, so what the first
// decision queued and the crash left undelivered still goes out.
//
// Without state (fail open) the entry cannot be recognised: it is
// delivered as Run delivers.
func (p *Pipeline) RunEntry(ctx context.Context, ev *event.Event, entryID string) *Report {
	return p.run(ctx, ev, entryID)
}

func (p *Pipeline) run(ctx context.Context, ev *event.Event, entry string) *Report {
	d := p.Policy.Evaluate(ev)
	r := &Report{Decision: d, entry: entry}
	p.reportDecision(r, ev, d)
	st, err := p.Open()
	if err != nil {
		p.failOpen(ctx, r, ev, d, d.Deliveries, err)
		return r
	}
	defer st.Close()
	owner := p.owner()
	p.importKept(ctx, r, st, owner)
	var marks map[string]state.Failure // read by the commit, when it can (decide)
	var partErrs []error
	res, err := p.decide(ctx, st, ev, d, commit, owner, entry, nil, &marks, &partErrs, nil)
	p.reportShared(r, ev, res)
	if err != nil && st.Separate() && len(res.Send) == 0 && errors.Is(err, state.ErrUnavailable) {
		// Redis is down: decide with this node's own state, so deliveries
		// are still queued durably (and suppressed per node), and say so.
		p.problem(r, "shared state unusable, deciding with this node's state only: %v", err)
		st = st.LocalOnly()
		res, err = p.decide(ctx, st, ev, d, commit, owner, entry, nil, &marks, &partErrs, nil)
		r.Degraded = true
	}
	r.Plan = res
	if err != nil {
		if len(res.Send) > 0 { // the shared decision stood; only queueing failed
			p.failOpen(ctx, r, ev, d, deliveriesOf(res.Send), err)
		} else {
			p.failOpen(ctx, r, ev, d, d.Deliveries, err)
		}
		return r
	}
	p.markDecided(r) // committed: the outbox holds it
	p.partProblems(r, partErrs)
	due := res.DueIndex
	if marks == nil {
		// Read without the lock, after the commit (see decide). With a
		// store shared by several nodes a decision that could not make
		// anything due did not name (lock) the due index: read with them.
		markIDs := failureIDs(p.Policy)
		ids := markIDs
		readDue := due.IsZero() && st.Separate() && !p.KeyFlush
		if readDue {
			ids = append(slices.Clone(markIDs), state.DueID())
		}
		var recs map[string]*state.Record
		if recs, err = st.Shared().View(ctx, ids); err == nil {
			marks = marksOf(p.Policy, recs, markIDs)
			if readDue {
				due = state.DueAt(recs)
			}
		}
	}
	if res.Released > 0 || !p.KeyFlush && !due.IsZero() && !due.After(p.now()) {
		// The engine releases on its timer; without it, a run does when
		// something is due (the due index says so).
		p.releaseHeld(ctx, r, st, owner, commit, maxRunReleases)
	}
	if errors.Is(err, state.ErrDamaged) {
		// The file holding what was just queued is damaged and moved
		// aside: deliver the decision's notifications without it.
		p.failOpen(ctx, r, ev, d, deliveriesOf(res.Send), err)
		return r
	} // any other error: the flush below meets it too and says why
	r.Marks = marks
	marked := markedSet(marks)
	err = p.flushOutbox(ctx, r, st, owner, false, marked, p.flushKey(ev, res, r.Released))
	if errors.Is(err, state.ErrDamaged) && r.Delivered == 0 && len(res.Send) > 0 {
		// Found damaged before anything was sent: what this run queued
		// went aside with the file, so deliver it without the state.
		p.failOpen(ctx, r, ev, d, deliveriesOf(res.Send), err)
		return r
	}
	p.reportFailures(r, marks, marked)
	if !res.AlreadyDecided { // the first decision wrote its line
		p.audit(ev, d, res, err)
	}
	if err != nil {
		r.StateErr = err
		p.problem(r, "state: %v (what was not recorded is retried by the next run)", err)
	}
	return r
}

// Decide is a dry run of ev with the live state: the same decision Run
// makes (Run's decide, on a copy of the records read without the lock),
// never written, never delivered. Without state it shows what a run would
// do then: deliver everything the rules chose (FailedOpen, StateErr). It
// builds every channel the plan sends to, as a run does before delivering
// (secret files read, nothing sent), and says which cannot be built
// (ChannelErrs). What a run would report is in the Report's fields;
// NeedsPerson stays empty.
func (p *Pipeline) Decide(ctx context.Context, ev *event.Event) *Report {
	d := p.Policy.Evaluate(ev)
	r := &Report{Decision: d}
	p.dryRun(ctx, r, ev, d)
	p.render(r, ev)
	for _, s := range r.Plan.Send {
		if _, seen := r.ChannelErrs[s.Channel]; seen {
			continue
		}
		if r.ChannelErrs == nil {
			r.ChannelErrs = map[string]error{}
		}
		_, err := p.Channel(s.Channel)
		r.ChannelErrs[s.Channel] = err
	}
	for name, err := range r.ChannelErrs {
		if err == nil {
			delete(r.ChannelErrs, name)
		}
	}
	return r
}

func (p *Pipeline) dryRun(ctx context.Context, r *Report, ev *event.Event, d *engine.Decision) {
	stateless := func(err error) {
		r.FailedOpen, r.StateErr, r.Plan = true, err, withoutState(d.Deliveries)
		for _, m := range d.Muted {
			r.Plan.Skip = append(r.Plan.Skip, state.Planned{Delivery: m, Outcome: state.OutcomeMuted, Reason: m.Reason})
		}
	}
	st, err := p.Open()
	if err != nil {
		stateless(err)
		return
	}
	defer st.Close()
	res, err := p.decide(ctx, st, ev, d, dryRun, "", "", nil, nil, nil, nil)
	if err != nil {
		stateless(err)
		return
	}
	marks, err := p.failureMarks(ctx, st)
	if err != nil {
		stateless(err)
		return
	}
	r.Plan, r.Marks = res, marks
}

// Check sees, before Record changes the state, the rules' decision and
// the silences that no longer compile; its error stops the decision.
type Check func(d *engine.Decision, bad []BadSilence) error

// Record decides ev as Run does — silences, rules and the state, in one
// Update through Run's decide — and keeps the decision in the state
// (windows, incidents, occurrences), but queues and delivers nothing:
// policy tests, at virtual times. With Templates, the messages of
// Plan.Send are rendered (Messages, PartErrs) as a run would queue them.
// check, if not nil, runs before the state is touched (the silences
// that do not compile are then not noted: check decides about them).
func (p *Pipeline) Record(ctx context.Context, ev *event.Event, check Check) (*Report, error) {
	d := p.Policy.Evaluate(ev)
	st, err := p.Open()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res, err := p.decide(ctx, st, ev, d, record, "", "", check, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	r := &Report{Decision: d, Plan: res}
	if p.Templates != nil {
		p.render(r, ev)
	}
	return r, nil
}

// reportDecision notes what an operator must hear about even when
// delivery succeeds: a rule that failed on this event (it needs a
// person), and an event that no rule matched (Pacemaker and CMON both
// log an agent's stderr).
func (p *Pipeline) reportDecision(r *Report, ev *event.Event, d *engine.Decision) {
	matched := false
	for _, rr := range d.Rules {
		matched = matched || rr.Matched
		if rr.Error != "" {
			p.problem(r, "rule %q failed on %s: %s", rr.Name, ev.Key, rr.Error)
		}
	}
	if !matched && ev.Action != event.ActionRemove { // a remove resolves by the state, not the rules
		p.note("no rule matched %s (%s %s %s); nobody was told", ev.Key, ev.Source, ev.EventType, ev.Severity)
	}
}

// reportShared says, on every run it happens, that another policy's
// records were read: two policies share the state file.
func (p *Pipeline) reportShared(r *Report, ev *event.Event, res state.Result) {
	for _, other := range res.SharedWith {
		path := state.PolicyPath(other)
		p.problem(r, "%s: the state %s is also used by the policy %s, which decided this key before: they suppress and resolve each other's alerts; give each policy its own settings.state.path",
			ev.Key, p.StatePath, path)
	}
}

// render fills r.Messages and r.PartErrs: the messages of r.Plan.Send,
// their templates rendered, as a run would queue them.
func (p *Pipeline) render(r *Report, ev *event.Event) {
	for _, s := range r.Plan.Send {
		m, errs := p.message(ev, s)
		r.Messages, r.PartErrs = append(r.Messages, m), append(r.PartErrs, errs...)
	}
}

func deliveriesOf(ps []state.Planned) []engine.Delivery {
	out := make([]engine.Delivery, len(ps))
	for i, p := range ps {
		out[i] = p.Delivery
	}
	return out
}
