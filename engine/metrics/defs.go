// Package metrics is what notifier says about itself to Prometheus: the
// metric families (names, help, labels, buckets: defined once here), the
// observations one decision or flush makes (ObserveReport), the gauges
// read from the spool and the state (ReadGauges), and the node_exporter
// textfile that in-process runs keep (Textfile).
//
// It does not import client_golang: the in-process path (notifier run,
// notifier flush) links this package, and client_golang's package
// initialisation alone (its default registry's collectors, procfs,
// protobuf) costs about 1 ms a process, a tenth of an in-process run
// (docs/BENCHMARKS.md). The engine's /metrics is served through
// client_golang (engine/metrics/prom, in notifier-engine) from the same
// definitions.
package metrics

// Kind is a metric family's type.
type Kind int

const (
	Counter Kind = iota
	Gauge
	Histogram
)

func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	}
	return "histogram"
}

// Def is one metric family.
type Def struct {
	Name    string
	Help    string
	Kind    Kind
	Labels  []string
	Buckets []float64 // Histogram only: upper bounds, ascending (+Inf implied)
	// EngineOnly families are not written to the textfile.
	EngineOnly bool
}

// Event outcomes (notifier_events_total's outcome label): one per event
// received, the strongest of what its decision did (see EventOutcome).
const (
	OutcomeNotified    = "notified"
	OutcomeSuppressed  = "suppressed"
	OutcomeGrouped     = "grouped"
	OutcomeInhibited   = "inhibited"
	OutcomeSilenced    = "silenced"
	OutcomeMuted       = "muted"
	OutcomeFlapping    = "flapping"
	OutcomeRateLimited = "rate_limited"
	OutcomeDuplicate   = "duplicate"
	OutcomeDropped     = "dropped"
	OutcomeUnmatched   = "unmatched"
	OutcomeRejected    = "rejected"
)

// Delivery results (notifier_deliveries_total's result label): one per
// attempt.
const (
	ResultOK          = "ok"
	ResultRetried     = "retried"      // failed; queued for its next attempt
	ResultRateLimited = "rate_limited" // refused with a Retry-After (a 429); queued
	ResultFailed      = "failed"       // failed and not queued: delivered without state, kept for the next run
	ResultDeadLetter  = "dead_letter"  // given up: nobody received it
)

// The families.
var (
	Events = &Def{Name: "notifier_events_total", Kind: Counter, Labels: []string{"source", "outcome"},
		Help: "Events decided, by source and by what their decision did (notified, suppressed, grouped, inhibited, silenced, muted, flapping, rate_limited, duplicate, dropped, unmatched, rejected)."}
	Deliveries = &Def{Name: "notifier_deliveries_total", Kind: Counter, Labels: []string{"channel", "result"},
		Help: "Delivery attempts, by channel and result (ok, retried, rate_limited, failed, dead_letter)."}
	DeliveryDuration = &Def{Name: "notifier_delivery_duration_seconds", Kind: Histogram, Labels: []string{"channel"},
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20},
		Help:    "How long each delivery attempt took, its in-process retries included."}
	FailOpen = &Def{Name: "notifier_state_fail_open_total", Kind: Counter,
		Help: "Decisions made without the state (it was unusable): delivered without suppression."}
	Degraded = &Def{Name: "notifier_state_degraded_total", Kind: Counter,
		Help: "Decisions made with this node's state only: the shared store (Redis) was unusable."}
	Reloads = &Def{Name: "notifier_engine_reloads_total", Kind: Counter, Labels: []string{"result"}, EngineOnly: true,
		Help: "Policy loads by the engine after its start (ok, failed: the last good copy stays)."}
	SelfAlerts = &Def{Name: "notifier_self_alerts_total", Kind: Counter, Labels: []string{"condition", "action"},
		Help: "Self-alerts sent (settings.self_alert), by condition and action (trigger, resolve)."}

	OutboxEntries = &Def{Name: "notifier_outbox_entries", Kind: Gauge,
		Help: "Deliveries queued in the outbox, waiting for their next attempt."}
	OutboxOldest = &Def{Name: "notifier_outbox_oldest_entry_age_seconds", Kind: Gauge,
		Help: "Age of the oldest delivery in the outbox (0 when it is empty)."}
	SpoolEntries = &Def{Name: "notifier_spool_entries", Kind: Gauge, Labels: []string{"queue"},
		Help: "Spool entries: new (not yet claimed), claimed (being decided), bad (unreadable, kept aside)."}
	SpoolOldest = &Def{Name: "notifier_spool_oldest_entry_age_seconds", Kind: Gauge,
		Help: "Age of the oldest new or claimed spool entry (0 when there is none)."}
	Rejected = &Def{Name: "notifier_rejected_inputs", Kind: Gauge,
		Help: "Inputs the decoders rejected, kept in rejected/ beside the state (the newest 100), whoever rejected them (notifier-drop too)."}
	RejectedLast = &Def{Name: "notifier_rejected_last_timestamp_seconds", Kind: Gauge,
		Help: "When the newest input kept in rejected/ was rejected (0: none kept)."}
	DeadLetters = &Def{Name: "notifier_dead_letters", Kind: Gauge,
		Help: "Dead letters kept in the state: deliveries given up (notifier history shows them)."}
	ChannelFailing = &Def{Name: "notifier_channel_failing", Kind: Gauge, Labels: []string{"channel"},
		Help: "1 while the channel's last given-up delivery has not been followed by one that succeeded."}
	PolicyLastGood = &Def{Name: "notifier_policy_last_good", Kind: Gauge, Labels: []string{"policy"},
		Help: "1 when the policy does not load and its last good copy decides; 0 when it loads."}
	SelfAlertOpen = &Def{Name: "notifier_self_alert_open", Kind: Gauge, Labels: []string{"condition"},
		Help: "1 while a self-alert is open (dead_letter, outbox_stuck, spool_stuck, policy_last_good, state_fail_open)."}
	EngineUp = &Def{Name: "notifier_engine_up", Kind: Gauge, EngineOnly: true,
		Help: "1: the engine (notifier serve) is serving."}
	BuildInfo = &Def{Name: "notifier_build_info", Kind: Gauge, Labels: []string{"version", "commit", "goversion"},
		Help: "The running build: 1, labelled with its version, commit and Go version."}
)

// All is every family, in the order they are written.
var All = []*Def{Events, Deliveries, DeliveryDuration, FailOpen, Degraded, Reloads, SelfAlerts,
	OutboxEntries, OutboxOldest, SpoolEntries, SpoolOldest, Rejected, RejectedLast, DeadLetters, ChannelFailing, PolicyLastGood,
	SelfAlertOpen, EngineUp, BuildInfo}

// Sink takes observations: a Set (the in-process path's, written to the
// textfile) or the engine's client_golang registry. Labels are given in
// the family's Labels order.
type Sink interface {
	// Add adds v to a counter.
	Add(d *Def, v float64, labels ...string)
	// Observe adds one observation to a histogram.
	Observe(d *Def, v float64, labels ...string)
	// Set sets a gauge.
	Set(d *Def, v float64, labels ...string)
	// Reset drops every series of a gauge family: what follows sets the
	// whole family (a channel no longer failing disappears).
	Reset(d *Def)
}
