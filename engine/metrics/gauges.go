package metrics

import (
	"context"
	"maps"
	"slices"
	"time"

	"notifier/engine"
	"notifier/engine/drop"
	"notifier/engine/pipeline"
	"notifier/engine/spool"
	"notifier/engine/state"
)

// StateGauges is what a policy's state holds of its deliveries.
type StateGauges struct {
	Outbox       int
	OutboxOldest time.Time // zero when the outbox is empty
	// OutboxChannels are the channels of the entries older than the
	// age ReadState was asked about (the self-alerts' stuck ones).
	OutboxChannels []string
	DeadLetters    int
	// Failing are the failure marks of the policy's channels.
	Failing map[string]state.Failure
	// Partial: only Failing is known (from what a decision read), not
	// the outbox or the dead letters.
	Partial bool
}

// ReadState reads the outbox, the dead letters and the failure marks
// of policy p's state, without a lock; OutboxChannels are those of the
// entries created before stuckBefore (zero: none).
func ReadState(ctx context.Context, st *state.Topology, p *engine.Policy, stuckBefore time.Time) (StateGauges, error) {
	var g StateGauges
	queued, err := st.Shared().Scan(ctx, state.OutboxPrefix)
	if err != nil {
		return g, err
	}
	entries := state.Entries(queued)
	g.Outbox = len(entries)
	stuck := map[string]bool{}
	for _, e := range entries {
		if g.OutboxOldest.IsZero() || e.Created.Before(g.OutboxOldest) {
			g.OutboxOldest = e.Created
		}
		if e.Created.Before(stuckBefore) {
			stuck[e.Channel] = true
		}
	}
	g.OutboxChannels = slices.Sorted(maps.Keys(stuck))
	dead, err := st.Shared().Scan(ctx, state.DeadPrefix)
	if err != nil {
		return g, err
	}
	g.DeadLetters = len(state.Entries(dead))
	g.Failing, err = pipeline.FailureMarks(ctx, p, st.Shared())
	return g, err
}

// Set sets the state's gauges at now.
func (g StateGauges) Set(s Sink, now time.Time) {
	s.Set(OutboxEntries, float64(g.Outbox))
	s.Set(OutboxOldest, age(g.OutboxOldest, now))
	s.Set(DeadLetters, float64(g.DeadLetters))
	s.Reset(ChannelFailing)
	for ch := range g.Failing {
		s.Set(ChannelFailing, 1, ch)
	}
}

// SetSpool sets the spool's gauges from its stats at now.
func SetSpool(s Sink, st spool.Stats, now time.Time) {
	s.Set(SpoolEntries, float64(st.New), "new")
	s.Set(SpoolEntries, float64(st.Claimed), "claimed")
	s.Set(SpoolEntries, float64(st.Bad), "bad")
	s.Set(SpoolOldest, age(st.Oldest, now))
}

func age(t, now time.Time) float64 {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return now.Sub(t).Seconds()
}

// SetRejected sets the rejected inputs' gauges from the rejected/
// directory dir (drop.RejectedDir): what notifier-drop rejects, without
// a policy to say where metrics go, is seen here.
func SetRejected(s Sink, dir string) {
	n, newest, err := drop.RejectedStats(dir)
	if err != nil {
		return
	}
	s.Set(Rejected, float64(n))
	if newest.IsZero() {
		s.Set(RejectedLast, 0)
	} else {
		s.Set(RejectedLast, float64(newest.UnixNano())/1e9)
	}
}
