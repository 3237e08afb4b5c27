package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"notifier/engine/state"
)

// meddler is a store on which another run changes the outbox between a
// flush's Scan and its Update under the lock: meddle runs (once) just
// before the first Update that names only outbox records.
type meddler struct {
	state.Store
	meddle func(recs map[string]*state.Record)
}

func (m *meddler) Update(ctx context.Context, ids []string, fn func(map[string]*state.Record) error) error {
	if m.meddle != nil && len(ids) > 0 && allOutbox(ids) {
		meddle := m.meddle
		m.meddle = nil
		err := m.Store.Update(ctx, ids, func(recs map[string]*state.Record) error {
			meddle(recs)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return m.Store.Update(ctx, ids, fn)
}

func allOutbox(ids []string) bool {
	for _, id := range ids {
		if !strings.HasPrefix(id, state.OutboxPrefix) {
			return false
		}
	}
	return true
}

// rewrite changes every outbox entry in recs with change.
func rewrite(t *testing.T, change func(*state.Entry)) func(map[string]*state.Record) {
	return func(recs map[string]*state.Record) {
		for _, e := range state.Entries(recs) {
			change(&e)
			r, err := e.Record()
			if err != nil {
				t.Error(err)
				return
			}
			recs[e.ID] = r
		}
	}
}

// TestFlushUsesRecordsChangedUnderIt: a record another run changed
// between the flush's Scan and its lock is judged, and delivered, as it
// now is — not as it was scanned.
func TestFlushUsesRecordsChangedUnderIt(t *testing.T) {
	const key = "cmon/ctl/1/7"
	t.Run("rewritten", func(t *testing.T) {
		r := newRig(t, testPolicy)
		queueFor(t, r, key)
		m := &meddler{Store: r.store}
		m.meddle = rewrite(t, func(e *state.Entry) { e.Message.Summary = "rewritten by another run" })
		r.store = m
		rep, err := r.pl.Flush(context.Background(), false)
		if err != nil || rep.Delivered != 1 {
			t.Fatalf("flush: delivered %d, err %v; want the queued trigger", rep.Delivered, err)
		}
		if m.meddle != nil {
			t.Fatal("no Update under the lock: the test did not change anything under the flush")
		}
		if got := r.chans["pager"].messages(); len(got) != 1 || got[0].Summary != "rewritten by another run" {
			t.Fatalf("pager told %+v, want the rewritten summary", got)
		}
	})
	t.Run("taken", func(t *testing.T) {
		r := newRig(t, testPolicy)
		queueFor(t, r, key)
		other := state.NewOwner() // this process: alive
		m := &meddler{Store: r.store}
		m.meddle = rewrite(t, func(e *state.Entry) { e.LeaseOwner, e.LeasedUntil = other, r.clock.Add(time.Minute) })
		r.store = m
		rep, err := r.pl.Flush(context.Background(), false)
		if err != nil || rep.Delivered != 0 {
			t.Fatalf("flush: delivered %d, err %v; want nothing: another live run holds the entry now", rep.Delivered, err)
		}
		if m.meddle != nil {
			t.Fatal("no Update under the lock: the test did not change anything under the flush")
		}
		if got := r.chans["pager"].messages(); len(got) != 0 {
			t.Fatalf("pager told %+v", got)
		}
		if q := r.outbox(t); len(q) != 1 || q[0].LeaseOwner != other {
			t.Fatalf("outbox %+v, want the entry left to the run that holds it", q)
		}
	})
}
