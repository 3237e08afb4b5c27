package pipeline

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"notifier/engine/event"
	"notifier/engine/state"
)

func (r *rig) runEntry(t *testing.T, ev *event.Event, entry string) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev.Time = r.clock
	return r.pl.RunEntry(ctx, ev, entry)
}

func (r *rig) history(t *testing.T) []state.HistoryEntry {
	t.Helper()
	recs, err := r.store.Scan(context.Background(), state.HistoryPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return state.History(recs, "", 0)
}

// A spool entry decided and delivered, then claimed again (its claimer
// crashed between the commit and the delete), is not decided twice:
// nobody is told again, nothing is counted or written to history, and
// the report says it was decided already. Another entry of the identical
// event is another occurrence: suppressed as usual.
func TestRunEntryDecidedOnce(t *testing.T) {
	r := newRig(t, testPolicy)
	const entry = "00000001795230245000000000-4242-0a1b2c3d"
	rep := r.runEntry(t, alarm("new", "critical"), entry)
	if !rep.OK() || rep.Plan.AlreadyDecided || rep.Delivered != 2 {
		t.Fatalf("first: needs %v, already decided %v, delivered %d; want 2 delivered", rep.NeedsPerson, rep.Plan.AlreadyDecided, rep.Delivered)
	}
	hist := len(r.history(t))

	r.clock = r.clock.Add(time.Minute)
	rep = r.runEntry(t, alarm("new", "critical"), entry)
	if !rep.OK() || !rep.Plan.AlreadyDecided || rep.Delivered != 0 || len(rep.Plan.Send)+len(rep.Plan.Skip) != 0 {
		t.Fatalf("again: needs %v, plan %+v, delivered %d; want already decided, nothing planned or delivered", rep.NeedsPerson, rep.Plan, rep.Delivered)
	}
	for _, name := range []string{"pager", "chat"} {
		if n := len(r.chans[name].messages()); n != 1 {
			t.Errorf("%s got %d messages, want the first decision's only", name, n)
		}
	}
	if n := len(r.history(t)); n != hist {
		t.Errorf("history has %d lines after the second decision, was %d", n, hist)
	}

	r.clock = r.clock.Add(time.Minute)
	rep = r.runEntry(t, alarm("new", "critical"), "00000001795230245000000001-4242-0a1b2c3d")
	if rep.Plan.AlreadyDecided || rep.Delivered != 0 || len(rep.Plan.Skip) != 2 || rep.Plan.Skip[0].Outcome != state.OutcomeSuppressed {
		t.Errorf("another entry: plan %+v, delivered %d; want pager and chat suppressed", rep.Plan, rep.Delivered)
	}
}

// A crash left the first decision's delivery queued, undelivered: the
// entry claimed again decides nothing, but its run flushes the outbox,
// so the queued page goes out — once.
func TestRunEntryAgainFlushesWhatTheFirstQueued(t *testing.T) {
	r := newRig(t, testPolicy)
	const entry = "00000001795230245000000000-4242-0a1b2c3d"
	r.unbuilt["pager"] = errors.New("routing_key_file: permission denied")
	rep := r.runEntry(t, alarm("new", "critical"), entry)
	if rep.Delivered != 1 || rep.Queued != 1 {
		t.Fatalf("first: delivered %d, queued %d; want chat delivered, pager queued", rep.Delivered, rep.Queued)
	}
	delete(r.unbuilt, "pager")
	r.clock = r.clock.Add(time.Hour) // the retry is due, the lease over

	rep = r.runEntry(t, alarm("new", "critical"), entry)
	if !rep.OK() || !rep.Plan.AlreadyDecided || rep.Delivered != 1 || rep.Queued != 0 {
		t.Fatalf("again: needs %v, already decided %v, delivered %d, queued %d; want the queued pager delivered",
			rep.NeedsPerson, rep.Plan.AlreadyDecided, rep.Delivered, rep.Queued)
	}
	if got := actions(r.chans["pager"].messages()); !slices.Equal(got, []string{"trigger"}) {
		t.Errorf("pager got %v, want one trigger", got)
	}
	if n := len(r.chans["chat"].messages()); n != 1 {
		t.Errorf("chat got %d messages, want 1", n)
	}
	if q := r.outbox(t); len(q) != 0 {
		t.Errorf("outbox holds %+v", q)
	}
}

// Decided is told the entry once its decision is durable and before any
// channel hears of it: committed in the state, or, failing open, kept in
// the pending directory. Run (no entry) never tells it.
func TestRunEntryDecidedBeforeDelivering(t *testing.T) {
	const entry = "00000001795230245000000000-4242-0a1b2c3d"
	for _, failOpen := range []bool{false, true} {
		r := newRig(t, testPolicy)
		if failOpen {
			r.storeErr = errors.New("state.db: permission denied")
		}
		var told []string
		var heardBefore int
		r.pl.Decided = func(id string) {
			told = append(told, id)
			heardBefore = len(r.chans["pager"].messages()) + len(r.chans["chat"].messages())
		}
		rep := r.runEntry(t, alarm("new", "critical"), entry)
		if rep.FailedOpen != failOpen || !rep.EntryDone() {
			t.Fatalf("fail open %v: report failed open %v, entry done %v", failOpen, rep.FailedOpen, rep.EntryDone())
		}
		if !slices.Equal(told, []string{entry}) || heardBefore != 0 {
			t.Errorf("fail open %v: Decided told %q with %d message(s) already sent; want the entry once, before any", failOpen, told, heardBefore)
		}
		if n := len(r.chans["pager"].messages()); n != 1 {
			t.Errorf("fail open %v: pager got %d messages, want 1", failOpen, n)
		}
		told = nil
		r.clock = r.clock.Add(time.Minute)
		r.run(t, alarm("new", "critical"))
		if len(told) != 0 {
			t.Errorf("Run told Decided %q", told)
		}
	}
}

// EntryDone is false only when, failing open, the pending directory
// could not keep what was not delivered.
func TestEntryDone(t *testing.T) {
	keepErr := errors.New("pending: read-only file system")
	for _, tt := range []struct {
		r    *Report
		want bool
	}{
		{&Report{}, true},
		{&Report{FailedOpen: true}, true},
		{&Report{FailedOpen: true, PendingErr: keepErr, Deliveries: []Delivery{{Outcome: state.OutcomeDelivered}}}, true},
		{&Report{FailedOpen: true, PendingErr: keepErr, Deliveries: []Delivery{{Outcome: state.OutcomeDelivered}, {Outcome: OutcomeUndelivered}}}, false},
	} {
		if got := tt.r.EntryDone(); got != tt.want {
			t.Errorf("failed open %v, pending error %v, deliveries %v: EntryDone %v, want %v", tt.r.FailedOpen, tt.r.PendingErr, tt.r.Deliveries, got, tt.want)
		}
	}
}

// RunClaimed calls done once, before any channel hears of the event, and
// says so; failing open with the pending directory kept, the same.
func TestRunClaimedDoneOnceBeforeDelivering(t *testing.T) {
	const entry = "00000001795230245000000000-4242-0a1b2c3d"
	for _, failOpen := range []bool{false, true} {
		r := newRig(t, testPolicy)
		if failOpen {
			r.storeErr = errors.New("state.db: permission denied")
		}
		calls, heardBefore := 0, -1
		rep, gone := r.pl.RunClaimed(context.Background(), alarm("new", "critical"), entry, func() {
			calls++
			heardBefore = len(r.chans["pager"].messages()) + len(r.chans["chat"].messages())
		})
		if !gone || calls != 1 || heardBefore != 0 {
			t.Errorf("fail open %v: gone %v, done called %d times, %d message(s) sent before; want once, before any", failOpen, gone, calls, heardBefore)
		}
		if n := len(r.chans["pager"].messages()); n != 1 || rep.FailedOpen != failOpen {
			t.Errorf("fail open %v: pager got %d messages, report failed open %v", failOpen, n, rep.FailedOpen)
		}
	}
}
