package metrics

import (
	"notifier/engine/event"
	"notifier/engine/pipeline"
	"notifier/engine/state"
)

// ObserveEvent counts one event decided as r says (an event received:
// not a held event decided again, not an entry decided before), its
// deliveries, and a decision made without the state. With ev nil (a
// flush; an entry put back, to be counted when decided again) only the
// deliveries and the state are.
func ObserveEvent(s Sink, ev *event.Event, r *pipeline.Report) {
	if r == nil {
		return
	}
	if ev != nil && !r.Plan.AlreadyDecided {
		s.Add(Events, 1, SourceOf(ev), EventOutcome(r))
	}
	observeDeliveries(s, r)
}

// ObserveRejected counts an input that could not be used.
func ObserveRejected(s Sink, source string) {
	if source == "" {
		source = "unknown"
	}
	s.Add(Events, 1, source, OutcomeRejected)
}

// observeDeliveries counts the attempts r made (a flush's, or a
// decision's own) and the decisions made without the state.
func observeDeliveries(s Sink, r *pipeline.Report) {
	if r == nil {
		return
	}
	for _, d := range r.Deliveries {
		s.Add(Deliveries, 1, d.Channel, DeliveryResult(d))
		if d.Took > 0 {
			s.Observe(DeliveryDuration, d.Took.Seconds(), d.Channel)
		}
	}
	if r.FailedOpen {
		s.Add(FailOpen, 1)
	}
	if r.Degraded {
		s.Add(Degraded, 1)
	}
}

// SourceOf is an event's source label.
func SourceOf(ev *event.Event) string {
	if ev == nil || ev.Source == "" {
		return "unknown"
	}
	return ev.Source
}

// DeliveryResult is an attempt's result label.
func DeliveryResult(d pipeline.Delivery) string {
	switch d.Outcome {
	case state.OutcomeDelivered:
		return ResultOK
	case state.OutcomeFailed:
		return ResultDeadLetter
	case pipeline.OutcomeUndelivered:
		return ResultFailed
	}
	// Queued for the next attempt (or taken over by another run, which
	// makes it).
	if d.RetryAfter > 0 {
		return ResultRateLimited
	}
	return ResultRetried
}

// skipRank orders what a decision held back, strongest first: an event
// is counted by the strongest reason nobody was told of it.
var skipRank = []struct {
	outcome state.Outcome
	label   string
}{
	{state.OutcomeSilenced, OutcomeSilenced},
	{state.OutcomeMuted, OutcomeMuted},
	{state.OutcomeInhibited, OutcomeInhibited},
	{state.OutcomeFlapping, OutcomeFlapping},
	{state.OutcomeGrouped, OutcomeGrouped},
	{state.OutcomeRateLimited, OutcomeRateLimited},
	{state.OutcomeDuplicate, OutcomeDuplicate},
	{state.OutcomeSuppressed, OutcomeSuppressed},
	{state.OutcomeCounted, OutcomeSuppressed},
}

// EventOutcome is what one decision did with its event: notified when
// it told any channel of it (a group's digest is not the event's own
// notification: that is grouped), else the strongest reason it held it
// back, else dropped (a rule dropped it) or unmatched (no rule matched,
// the rule tells nobody, or a recovery with nothing open to resolve).
func EventOutcome(r *pipeline.Report) string {
	grouped := false
	for _, p := range r.Plan.Send {
		if p.Outcome == state.OutcomeDigest {
			grouped = true
			continue
		}
		return OutcomeNotified
	}
	for _, k := range skipRank {
		for _, p := range r.Plan.Skip {
			if p.Outcome == k.outcome {
				return k.label
			}
		}
	}
	switch {
	case grouped:
		return OutcomeGrouped
	case r.Decision != nil && r.Decision.Dropped:
		return OutcomeDropped
	}
	return OutcomeUnmatched
}

// Sources are the sources an event comes from (notifier_events_total's
// source label; "unknown" for input rejected before it said).
var Sources = []string{event.SourceCMON, event.SourcePacemaker}

// Outcomes and Results are every value of the outcome and result labels.
var (
	Outcomes = []string{OutcomeNotified, OutcomeSuppressed, OutcomeGrouped, OutcomeInhibited, OutcomeSilenced, OutcomeMuted,
		OutcomeFlapping, OutcomeRateLimited, OutcomeDuplicate, OutcomeDropped, OutcomeUnmatched, OutcomeRejected}
	Results = []string{ResultOK, ResultRetried, ResultRateLimited, ResultFailed, ResultDeadLetter}
	// Conditions are the self-alerts' (engine/watch).
	Conditions = []string{"dead_letter", "outbox_stuck", "spool_stuck", "policy_last_good", "state_fail_open"}
)

// Zero makes every counter series a policy with these channels can
// have exist, at 0 where it is new: Prometheus' increase() sees the
// first event of a series only if the series was there before it.
func Zero(s Sink, channels []string) {
	for _, src := range Sources {
		for _, o := range Outcomes {
			s.Add(Events, 0, src, o)
		}
	}
	for _, ch := range channels {
		for _, r := range Results {
			s.Add(Deliveries, 0, ch, r)
		}
	}
	s.Add(FailOpen, 0)
	s.Add(Degraded, 0)
	for _, c := range Conditions {
		for _, a := range []string{"trigger", "resolve"} {
			s.Add(SelfAlerts, 0, c, a)
		}
	}
}
