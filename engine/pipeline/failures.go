package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"notifier/engine"
	"notifier/engine/state"
	"notifier/internal/keys"
)

// FailureMarks reads the failure marks of p's channels from the shared
// store: each a channel whose last given-up delivery has not been
// followed by one that succeeded (state.Undo sets them, a delivery
// clears them). A read without the lock: a run pays for it once.
func FailureMarks(ctx context.Context, p *engine.Policy, shared state.Store) (map[string]state.Failure, error) {
	ids := failureIDs(p)
	recs, err := shared.View(ctx, ids)
	if err != nil {
		return nil, err
	}
	return marksOf(p, recs, ids), nil
}

// failureIDs are the ids of the failure marks of p's channels, sorted.
func failureIDs(p *engine.Policy) []string {
	ids := make([]string, 0, len(p.Channels))
	for _, name := range slices.Sorted(maps.Keys(p.Channels)) {
		ids = append(ids, state.FailureID(name))
	}
	return ids
}

// marksOf is the failure marks of p's channels among recs, of which
// only ids (failureIDs) are looked at: recs may be an Update's, holding
// other records too. The map is never nil.
func marksOf(p *engine.Policy, recs map[string]*state.Record, ids []string) map[string]state.Failure {
	mine := make(map[string]*state.Record, len(ids))
	for _, id := range ids {
		if r, ok := recs[id]; ok && r != nil {
			mine[id] = r
		}
	}
	out := map[string]state.Failure{}
	for _, f := range state.Failures(mine) {
		if _, ok := p.Channels[f.Channel]; ok {
			out[f.Channel] = f
		}
	}
	return out
}

func (p *Pipeline) failureMarks(ctx context.Context, st *state.Topology) (map[string]state.Failure, error) {
	return FailureMarks(ctx, p.Policy, st.Shared())
}

// markedSet is the channels marks names, for flushOutbox.
func markedSet(marks map[string]state.Failure) map[string]bool {
	out := make(map[string]bool, len(marks))
	for ch := range marks {
		out[ch] = true
	}
	return out
}

// FailureLine says that someone may not have been told: a page given up
// is an outage nobody saw, so every run says it until the channel
// delivers again.
func FailureLine(f state.Failure) string {
	n := "a delivery"
	if f.Count > 1 {
		n = fmt.Sprintf("%d deliveries", f.Count)
	}
	return fmt.Sprintf("channel %q: %s given up since its last success, the last at %s (%s for %s: %s): someone may not have been told, see notifier history; said until a delivery to %q succeeds",
		f.Channel, n, f.At.UTC().Format(time.RFC3339), f.Action, keys.Bound(f.Key, 255), oneLine(f.Error), f.Channel)
}

// reportFailures notes a line per mark still in still (cleared by no
// delivery of this run), each a problem that needs a person.
func (p *Pipeline) reportFailures(r *Report, marks map[string]state.Failure, still map[string]bool) {
	for _, ch := range slices.Sorted(maps.Keys(marks)) {
		if !still[ch] {
			continue // cleared by a delivery in this run
		}
		p.problem(r, "%s", FailureLine(marks[ch]))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
