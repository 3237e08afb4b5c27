package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"notifier/channels"
	"notifier/channels/syslog"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/lastgood"
	"notifier/engine/policy"
	"notifier/engine/state"
)

// runCmd handles one event: decode, decide, deliver to every chosen
// channel concurrently within the policy's deadline. Nothing goes to
// stdout; each failed channel gets one stderr line.
func (a *app) runCmd(args []string) error {
	fs := a.newFlags("run")
	configFlag := fs.String("config", "", configUsage)
	source := fs.String("source", sourceAuto, "event source: auto, cmon, pacemaker or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w := newWiring()
	defer w.close()
	path := a.configPath(*configFlag)
	p, loadErr := a.loadPolicy(path, w)
	lastGood := false
	if loadErr != nil {
		// Loudly: every run says it, until someone fixes the policy.
		if lg := a.lastGood(path, loadErr, w); lg != nil {
			p, loadErr, lastGood = lg, nil, true
		}
	}
	deadline := policy.DefaultDeadline
	var cluster event.ClusterDefaults
	if p != nil {
		deadline, cluster = p.Settings.Deadline, p.Settings.Cluster
	}
	ctx, cancel := context.WithDeadline(context.Background(), a.start.Add(deadline))
	defer cancel()

	in, err := a.readInput(ctx, *source, "")
	if err != nil {
		if in != nil {
			err = a.rejected(p, in, err)
		}
		return errors.Join(loadErr, err)
	}
	ev, err := in.decode(a.start, cluster)
	if errors.Is(err, errIgnored) {
		fmt.Fprintf(a.stderr, "notifier: %v\n", err)
		return loadErr
	}
	if err != nil {
		return errors.Join(loadErr, a.rejected(p, in, err))
	}
	if loadErr != nil {
		return a.fallback(ctx, ev, loadErr)
	}
	d := p.Evaluate(ev)
	a.reportDecision(ev, d)
	err = a.deliverWithState(ctx, p, w, ev, d)
	if err == nil && lastGood {
		return problemsFound() // delivered, but the policy on disk is broken
	}
	return err
}

// rejected keeps input that could not be used — nothing an alarm source
// sent is dropped silently — and says where in the error.
func (a *app) rejected(p *engine.Policy, in *input, err error) error {
	if path, kerr := a.keepRejected(p, in); kerr == nil {
		return fmt.Errorf("%w (input kept in %s)", err, path)
	} else {
		return fmt.Errorf("%w (and it could not be kept: %v)", err, kerr)
	}
}

// deliverWithState decides with the shared state, queues, delivers and
// records the outcome. When the state cannot be used the event is still
// delivered, without suppression (fail open), and the run exits 1.
func (a *app) deliverWithState(ctx context.Context, p *engine.Policy, w *wiring, ev *event.Event, d *engine.Decision) error {
	st, err := a.openStores(p)
	if err != nil {
		return a.failOpen(ctx, p, w, ev, d, d.Deliveries, err)
	}
	defer st.Close()
	owner := state.NewOwner()
	a.importKept(ctx, p, st, owner)
	res, err := a.decide(ctx, p, st, ev, d, owner)
	a.reportShared(p, ev, res)
	degraded := false
	if err != nil && st.Separate() && len(res.Send) == 0 && errors.Is(err, state.ErrUnavailable) {
		// Redis is down: decide with this node's own state, so deliveries
		// are still queued durably (and suppressed per node), and say so.
		fmt.Fprintf(a.stderr, "notifier: shared state unusable, deciding with this node's state only: %v\n", err)
		st = st.LocalOnly()
		res, err = a.decide(ctx, p, st, ev, d, owner)
		degraded = true
	}
	if err != nil {
		if len(res.Send) > 0 { // the shared decision stood; only queueing failed
			return a.failOpen(ctx, p, w, ev, d, deliveriesOf(res.Send), err)
		}
		return a.failOpen(ctx, p, w, ev, d, d.Deliveries, err)
	}
	marks, err := failureMarks(ctx, p, st)
	if errors.Is(err, state.ErrDamaged) {
		// The file holding what was just queued is damaged and moved
		// aside: deliver the decision's notifications without it.
		return a.failOpen(ctx, p, w, ev, d, deliveriesOf(res.Send), err)
	} // any other error: the flush below meets it too and says why
	marked := markedSet(marks)
	delivered, _, failed, err := a.flushOutbox(ctx, p, w, st, owner, false, marked)
	if errors.Is(err, state.ErrDamaged) && delivered == 0 && len(res.Send) > 0 {
		// Found damaged before anything was sent: what this run queued
		// went aside with the file, so deliver it without the state.
		return a.failOpen(ctx, p, w, ev, d, deliveriesOf(res.Send), err)
	}
	a.reportFailures(marks, marked)
	a.audit(p, ev, d, res, err)
	if err != nil {
		fmt.Fprintf(a.stderr, "notifier: state: %v (what was not recorded is retried by the next run)\n", err)
		return problemsFound()
	}
	if failed > 0 || degraded || a.attention.Load() {
		return problemsFound()
	}
	return nil
}

func deliveriesOf(ps []state.Planned) []engine.Delivery {
	out := make([]engine.Delivery, len(ps))
	for i, p := range ps {
		out[i] = p.Delivery
	}
	return out
}

// failOpen delivers without state: better a duplicate page than none.
// Every way the state can fail (unreachable, damaged, a lock not had in
// time) ends here. What cannot be delivered is kept in the pending
// directory, where the next run or flush that can use the state queues it.
func (a *app) failOpen(ctx context.Context, p *engine.Policy, w *wiring, ev *event.Event, d *engine.Decision, ds []engine.Delivery, cause error) error {
	fmt.Fprintf(a.stderr, "notifier: state unusable, delivering without suppression: %v\n", cause)
	// Kept before delivering: a run killed while it delivers (Pacemaker
	// kills at 30 s) must leave behind what it had not delivered.
	dir, names, kerr := a.keepPending(p, ev, ds)
	if kerr != nil {
		fmt.Fprintf(a.stderr, "notifier: %d notification(s) could not be kept for the next run (kept only if delivered now): %v\n", len(ds), kerr)
	}
	errs := a.deliver(ctx, p, w, ev, ds)
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
		if err := a.dropPending(p, delivered); err != nil {
			fmt.Fprintf(a.stderr, "notifier: delivered, but what was kept could not be removed (the next run delivers it again): %v\n", err)
		}
	}
	if undelivered > 0 {
		if kerr != nil {
			fmt.Fprintf(a.stderr, "notifier: %d undelivered notification(s) could not be kept either: %v\n", undelivered, kerr)
		} else {
			fmt.Fprintf(a.stderr, "notifier: %d undelivered notification(s) kept in %s: the next run or notifier flush that can use the state queues them\n", undelivered, dir)
		}
	}
	a.audit(p, ev, d, withoutState(ds), cause)
	return problemsFound()
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

// reportDecision puts on stderr what an operator must hear about even
// when delivery succeeds: a rule that failed on this event, and an event
// that no rule matched (Pacemaker and CMON both log an agent's stderr).
func (a *app) reportDecision(ev *event.Event, d *engine.Decision) {
	matched := false
	for _, r := range d.Rules {
		matched = matched || r.Matched
		if r.Error != "" {
			fmt.Fprintf(a.stderr, "notifier: rule %q failed on %s: %s\n", r.Name, ev.Key, r.Error)
			a.attention.Store(true)
		}
	}
	if !matched && ev.Action != event.ActionRemove { // a remove resolves by the state, not the rules
		fmt.Fprintf(a.stderr, "notifier: no rule matched %s (%s %s %s); nobody was told\n", ev.Key, ev.Source, ev.EventType, ev.Severity)
	}
}

// loadPolicy loads and checks the policy as a run needs it (lint's
// checks are lint's), keeping it as the last good one when it loads;
// its errors are all printed.
func (a *app) loadPolicy(path string, w *wiring) (*engine.Policy, error) {
	p, ps, err := lastgood.Load(path, a.cacheDir(), w.loadOptions())
	return policyOrError(path, p, ps, err)
}

// lastGood is the last policy from path that loaded, when path does not
// (loadErr), said on stderr; or nil.
func (a *app) lastGood(path string, loadErr error, w *wiring) *engine.Policy {
	lg, notes := lastgood.Fallback(path, a.cacheDir(), loadErr, w.loadOptions())
	for _, n := range notes {
		fmt.Fprintf(a.stderr, "notifier: %s\n", n)
	}
	return lg
}

func policyOrError(path string, p *engine.Policy, ps policy.Problems, err error) (*engine.Policy, error) {
	if err != nil {
		return nil, configErr(policyMissing(path, err))
	}
	if p == nil {
		return nil, configErr(fmt.Errorf("policy %s does not load:\n%w", path, ps))
	}
	return p, nil
}

// fallback: with no usable policy the event must still reach someone, so
// it goes to the local syslog, and the run fails loudly. One attempt: a
// host without a syslog socket will not grow one in the next seconds.
func (a *app) fallback(ctx context.Context, ev *event.Event, loadErr error) error {
	ch, err := syslog.New(syslog.Config{})
	if err == nil {
		m := messageFor(ev, engine.Delivery{Rule: "policy-failed-to-load", Action: engine.DeliverMessage}, 0, "")
		err = ch.Notify(ctx, m)
		ch.Close()
	}
	if err != nil {
		return errors.Join(loadErr, fmt.Errorf("fallback to local syslog failed too: %w", err))
	}
	return errors.Join(loadErr, errors.New("the event was sent to the local syslog instead"))
}

// deliver tells every channel concurrently and reports each failure on
// stderr. It returns each delivery's error (nil: delivered).
func (a *app) deliver(ctx context.Context, p *engine.Policy, w *wiring, ev *event.Event, ds []engine.Delivery) []error {
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() {
			ch, err := w.channel(p, d.Channel)
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = channels.Deliver(ctx, ch, messageFor(ev, d, 0, ""), channels.DefaultBackoff)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(a.stderr, "notifier: channel %q: %v\n", ds[i].Channel, err)
		}
	}
	return errs
}

// messageFor builds what a channel is told about ev; suppressed counts
// the occurrences held back since the last notification, ref points a
// resolve at the original message.
func messageFor(ev *event.Event, d engine.Delivery, suppressed int, ref string) *channels.Message {
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
