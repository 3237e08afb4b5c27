package pipeline

import (
	"context"
	"sync"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// failOpen delivers ds without state: better a duplicate page than none.
// Every way the state can fail (unreachable, damaged, a lock not had in
// time) ends here, and needs a person. What cannot be delivered is kept
// in the pending directory, where the next run or flush that can use the
// state queues it.
func (p *Pipeline) failOpen(ctx context.Context, r *Report, ev *event.Event, d *engine.Decision, ds []engine.Delivery, cause error) {
	r.FailedOpen, r.StateErr, r.Plan = true, cause, withoutState(ds)
	p.problem(r, "state unusable, delivering without suppression: %w", cause)
	// Kept before delivering: a run killed while it delivers (Pacemaker
	// kills at 30 s) must leave behind what it had not delivered.
	msgs := make([]*channels.Message, len(ds))
	for i, d := range ds {
		var errs []error
		msgs[i], errs = p.message(ev, state.Planned{Delivery: d})
		p.partProblems(r, errs)
	}
	dir, names, kerr := p.keepPending(ev, ds, msgs)
	r.PendingErr = kerr
	if kerr == nil {
		p.markDecided(r) // kept: the next run or flush delivers it
	}
	if kerr != nil {
		p.note("%d notification(s) could not be kept for the next run (kept only if delivered now): %v", len(ds), kerr)
	}
	errs := p.deliver(ctx, r, ev, ds, msgs)
	var delivered []string
	undelivered := 0
	for i, err := range errs {
		if err != nil {
			undelivered++
		} else if kerr == nil {
			delivered = append(delivered, names[i])
		}
	}
	if len(delivered) > 0 {
		if err := p.dropPending(delivered); err != nil {
			p.note("delivered, but what was kept could not be removed (the next run delivers it again): %v", err)
		}
	}
	if undelivered > 0 {
		if kerr != nil {
			p.note("%d undelivered notification(s) could not be kept either: %v", undelivered, kerr)
		} else {
			p.note("%d undelivered notification(s) kept in %s: the next run or notifier flush that can use the state queues them", undelivered, dir)
		}
	}
	p.audit(ev, d, withoutState(ds), cause)
}

// withoutState is the plan when the state cannot be used: every delivery
// the rules chose is made.
func withoutState(ds []engine.Delivery) state.Result {
	var res state.Result
	for _, d := range ds {
		res.Send = append(res.Send, state.Planned{Delivery: d, Outcome: state.OutcomeUnsuppressed, Reason: "no state: delivered without suppression"})
	}
	return res
}

// deliver tells every channel of ds concurrently (msgs[i] for ds[i]) and
// notes each failure. It returns each delivery's error (nil: delivered).
func (p *Pipeline) deliver(ctx context.Context, r *Report, ev *event.Event, ds []engine.Delivery, msgs []*channels.Message) []error {
	errs := make([]error, len(ds))
	took := make([]time.Duration, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			ch, err := p.Channel(d.Channel)
			if err != nil {
				errs[i] = err
				return
			}
			began := time.Now()
			_, errs[i] = channels.Deliver(ctx, ch, msgs[i], channels.DefaultBackoff)
			took[i] = time.Since(began)
		})
	}
	wg.Wait()
	for i, err := range errs {
		outcome := state.OutcomeDelivered
		if err != nil {
			outcome = OutcomeUndelivered
			p.note("channel %q: %v", ds[i].Channel, err)
		}
		_, after := channels.IsRetryable(err)
		r.Deliveries = append(r.Deliveries, Delivery{Key: ev.Key, Channel: ds[i].Channel, Action: ds[i].Action, Outcome: outcome, Err: err, Took: took[i], RetryAfter: after})
	}
	return errs
}

// Message builds what a channel is told about ev for delivery d;
// suppressed counts the occurrences held back since the last
// notification, ref points a resolve at the original message.
func Message(ev *event.Event, d engine.Delivery, suppressed int, ref string) *channels.Message {
	action := channels.Inform
	switch d.Action {
	case engine.DeliverResolve:
		action = channels.Resolve
	case engine.DeliverTrigger:
		action = channels.Trigger
	}
	return &channels.Message{
		Key:            ev.Key,
		Action:         action,
		Severity:       ev.Severity,
		Summary:        event.Summary(ev),
		Rule:           d.Rule,
		Source:         ev.Source,
		Kind:           ev.Kind,
		EventType:      ev.EventType,
		Cluster:        ev.Cluster,
		ClusterID:      ev.ClusterID,
		Node:           ev.Node,
		Controller:     ev.Controller,
		Name:           ev.Name,
		Text:           ev.Message,
		Recommendation: ev.Recommendation,
		Count:          ev.Count,
		Time:           ev.Time,
		Details:        ev.Fields,
		Suppressed:     suppressed,
		Ref:            ref,
	}
}
