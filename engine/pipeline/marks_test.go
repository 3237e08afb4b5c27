package pipeline

import (
	"context"
	"errors"
	"maps"
	"sync/atomic"
	"testing"

	"notifier/engine/state"
	"notifier/engine/state/mem"
)

// viewCounter is a store that counts its Views.
type viewCounter struct {
	state.Store
	views atomic.Int32
}

func (v *viewCounter) View(ctx context.Context, ids []string) (map[string]*state.Record, error) {
	v.views.Add(1)
	return v.Store.View(ctx, ids)
}

// TestRunReadsMarksInItsCommit: with one store (the bbolt file, no
// Redis) a run reads the failure marks in its commit's Update, not in a
// View of their own, and finds what the View finds, before the decision
// was made and once it was (AlreadyDecided); with a separate shared
// store (Redis) it reads them with a View, without naming them in the
// Update (each name would be a lock every run waits for).
func TestRunReadsMarksInItsCommit(t *testing.T) {
	for _, separate := range []bool{false, true} {
		r := newRig(t, testPolicy)
		counted := &viewCounter{Store: r.store}
		r.pl.Open = func() (*state.Topology, error) {
			if separate {
				return state.NewTopology(mem.New(r.pl.Clock), counted), nil
			}
			return state.NewTopology(counted, nil), nil
		}
		r.chans["pager"].fail = errors.New("HTTP 400: Invalid routing key")
		if rep := r.run(t, alarm("new", "critical")); rep.Failed != 1 {
			t.Fatalf("separate %v: failed %d, want the pager given up", separate, rep.Failed)
		}
		want, err := FailureMarks(context.Background(), r.pl.Policy, r.store)
		if err != nil || len(want) != 1 {
			t.Fatalf("separate %v: marks %v, %v; want the pager's", separate, want, err)
		}
		other := alarm("new", "info")
		other.Key = "cmon/ctl/1/43"
		for i, entry := range []string{"e1", "e1"} { // the second time AlreadyDecided
			counted.views.Store(0)
			ctx, cancel := context.WithTimeout(context.Background(), 10e9)
			other.Time = r.clock
			rep := r.pl.RunEntry(ctx, other, entry)
			cancel()
			if i == 1 && !rep.Plan.AlreadyDecided {
				t.Fatalf("separate %v: second run of %s not AlreadyDecided", separate, entry)
			}
			if !maps.Equal(rep.Marks, want) {
				t.Errorf("separate %v, run %d: marks %v, want %v", separate, i, rep.Marks, want)
			}
			if views, wantViews := counted.views.Load(), map[bool]int32{false: 0, true: 1}[separate]; views != wantViews {
				t.Errorf("separate %v, run %d: %d Views of the shared store, want %d", separate, i, views, wantViews)
			}
		}
	}
}
