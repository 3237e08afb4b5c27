package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/state"
)

// TestRunDecidesAndDelivers: an event is decided against the state,
// queued, delivered to exactly the channels its rule names and settled —
// the outbox empty afterwards, the decision in history.
func TestRunDecidesAndDelivers(t *testing.T) {
	r := newRig(t, testPolicy)
	rep := r.run(t, alarm("new", "critical"))
	if !rep.OK() || rep.FailedOpen || rep.Degraded {
		t.Fatalf("report: needs person %v, failed open %v, degraded %v", rep.NeedsPerson, rep.FailedOpen, rep.Degraded)
	}
	if rep.Delivered != 2 || rep.Queued != 0 || rep.Failed != 0 {
		t.Errorf("delivered %d, queued %d, failed %d; want 2, 0, 0", rep.Delivered, rep.Queued, rep.Failed)
	}
	// PagerDuty opens an incident; Slack keeps none: a plain message.
	for name, want := range map[string]channels.Action{"pager": channels.Trigger, "chat": channels.Inform} {
		got := r.chans[name].messages()
		if len(got) != 1 || got[0].Action != want || got[0].Key != "cmon/ctl/1/42" || got[0].Rule != "critical" {
			t.Errorf("%s got %+v, want one %s for cmon/ctl/1/42 by rule critical", name, got, want)
		}
	}
	if got := r.chans["log"].messages(); len(got) != 0 {
		t.Errorf("log got %d messages; the critical rule does not continue", len(got))
	}
	if len(rep.Plan.Send) != 2 || rep.Plan.Send[0].Outcome != state.OutcomeFirst {
		t.Errorf("plan %+v, want two first notifications", rep.Plan.Send)
	}
	if q := r.outbox(t); len(q) != 0 {
		t.Errorf("outbox holds %d entries after delivering, want none", len(q))
	}
	hist, _ := r.store.Scan(context.Background(), state.HistoryPrefix)
	outcomes := map[state.Outcome]int{}
	for _, h := range state.History(hist, "", 0) {
		outcomes[h.Outcome]++
	}
	if outcomes[state.OutcomeFirst] != 2 || outcomes[state.OutcomeDelivered] != 2 {
		t.Errorf("history outcomes %v, want 2 first and 2 delivered", outcomes)
	}
}

// TestRunSuppressesRepeat: a repeat within the rule's window tells
// nobody; the first after it says how many were held back.
func TestRunSuppressesRepeat(t *testing.T) {
	r := newRig(t, testPolicy)
	r.run(t, alarm("new", "critical"))
	r.clock = r.clock.Add(time.Minute)
	rep := r.run(t, alarm("update", "critical"))
	if !rep.OK() || rep.Delivered != 0 || len(rep.Plan.Send) != 0 {
		t.Fatalf("repeat: delivered %d, plan %+v, needs %v; want nothing sent", rep.Delivered, rep.Plan.Send, rep.NeedsPerson)
	}
	if len(rep.Plan.Skip) != 2 || rep.Plan.Skip[0].Outcome != state.OutcomeSuppressed {
		t.Errorf("skipped %+v, want pager and chat suppressed", rep.Plan.Skip)
	}
	if n := len(r.chans["pager"].messages()); n != 1 {
		t.Errorf("pager got %d messages, want the first only", n)
	}
	r.clock = r.clock.Add(30 * time.Minute)
	rep = r.run(t, alarm("update", "critical"))
	got := r.chans["pager"].messages()
	if rep.Delivered != 2 || len(got) != 2 || got[1].Suppressed != 1 {
		t.Errorf("after the window: delivered %d, pager got %+v; want a second message saying 1 was suppressed", rep.Delivered, got)
	}
}

// TestRemoveResolvesTheChannelsTold: the recovery resolves exactly the
// channels the problem told — not the channels its own rules name, not
// a channel told nothing.
func TestRemoveResolvesTheChannelsTold(t *testing.T) {
	r := newRig(t, testPolicy)
	r.run(t, alarm("new", "critical"))
	rep := r.run(t, alarm("remove", "info"))
	if !rep.OK() {
		t.Fatalf("needs person: %v", rep.NeedsPerson)
	}
	for name, want := range map[string][]string{"pager": {"trigger", "resolve"}, "chat": {"message", "resolve"}, "log": nil} {
		if got := actions(r.chans[name].messages()); !slices.Equal(got, want) {
			t.Errorf("%s got %v, want %v", name, got, want)
		}
	}
	// A second remove finds no incident: nothing more is sent.
	rep = r.run(t, alarm("remove", "info"))
	if rep.Delivered != 0 || len(rep.Plan.Send) != 0 {
		t.Errorf("second remove sent %+v", rep.Plan.Send)
	}
}

// TestUnbuildableChannelStaysQueued: a channel that cannot be built (a
// secret file being rewritten) leaves its delivery queued, not dropped,
// and the report says someone must look; once it builds, a flush
// delivers it.
func TestUnbuildableChannelStaysQueued(t *testing.T) {
	r := newRig(t, testPolicy)
	r.unbuilt["pager"] = errors.New("routing_key_file: permission denied")
	rep := r.run(t, alarm("new", "critical"))
	if rep.Delivered != 1 || rep.Queued != 1 || rep.Failed != 0 {
		t.Errorf("delivered %d, queued %d, failed %d; want chat delivered, pager queued", rep.Delivered, rep.Queued, rep.Failed)
	}
	if rep.OK() || !strings.Contains(fmt.Sprint(rep.NeedsPerson), `channel "pager": routing_key_file: permission denied`) {
		t.Errorf("needs person %v, want the pager's build error", rep.NeedsPerson)
	}
	q := r.outbox(t)
	if len(q) != 1 || q[0].Channel != "pager" || q[0].Attempts != 1 {
		t.Fatalf("outbox %+v, want the pager's entry, attempted once", q)
	}
	delete(r.unbuilt, "pager")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fr, err := r.pl.Flush(ctx, true)
	if err != nil || !fr.OK() || fr.Delivered != 1 {
		t.Fatalf("flush: %v, delivered %d, needs %v", err, fr.Delivered, fr.NeedsPerson)
	}
	if got := actions(r.chans["pager"].messages()); !slices.Equal(got, []string{"trigger"}) {
		t.Errorf("pager got %v after the flush", got)
	}
}

// TestRejectedDeliveryIsGivenUp: a permanent rejection is given up at
// once (a dead letter), needs a person, and every later run says so
// until the channel delivers again.
func TestRejectedDeliveryIsGivenUp(t *testing.T) {
	r := newRig(t, testPolicy)
	r.chans["pager"].fail = errors.New("HTTP 400: Invalid routing key")
	rep := r.run(t, alarm("new", "critical"))
	if rep.Failed != 1 || rep.Delivered != 1 || rep.OK() {
		t.Fatalf("failed %d, delivered %d, needs %v; want the pager given up", rep.Failed, rep.Delivered, rep.NeedsPerson)
	}
	if !strings.Contains(fmt.Sprint(rep.NeedsPerson), "Invalid routing key (given up)") {
		t.Errorf("needs person %v, want the given-up line", rep.NeedsPerson)
	}
	dead, _ := r.store.Scan(context.Background(), state.DeadPrefix)
	if len(dead) != 1 {
		t.Errorf("%d dead letters, want 1", len(dead))
	}
	other := alarm("new", "info")
	other.Key = "cmon/ctl/1/43"
	rep = r.run(t, other)
	if rep.OK() || !strings.Contains(fmt.Sprint(rep.NeedsPerson), `channel "pager": a delivery given up since its last success`) {
		t.Errorf("next run: needs %v, want the pager's mark said", rep.NeedsPerson)
	}
	if _, marked := rep.Marks["pager"]; !marked {
		t.Errorf("marks %v, want pager", rep.Marks)
	}
}

// TestFailOpen: with the state unusable the event is still delivered,
// without suppression, and the report says so. What cannot be delivered
// then is kept in the pending directory, and the next run that can use
// the state queues and delivers it.
func TestFailOpen(t *testing.T) {
	r := newRig(t, testPolicy)
	mem := r.store
	r.store = unavailable{mem}
	r.chans["chat"].fail = errors.New("HTTP 404: no_service")
	rep := r.run(t, alarm("new", "critical"))
	if !rep.FailedOpen || !errors.Is(rep.StateErr, state.ErrUnavailable) || rep.OK() {
		t.Fatalf("failed open %v, state error %v, needs %v", rep.FailedOpen, rep.StateErr, rep.NeedsPerson)
	}
	if got := r.chans["pager"].messages(); len(got) != 1 || got[0].Action != channels.Trigger {
		t.Errorf("pager got %+v, want the trigger delivered without state", got)
	}
	if len(rep.Plan.Send) != 2 || rep.Plan.Send[0].Outcome != state.OutcomeUnsuppressed {
		t.Errorf("plan %+v, want both unsuppressed", rep.Plan.Send)
	}
	kept, _ := os.ReadDir(PendingDir(r.pl.StatePath))
	if len(kept) != 1 {
		t.Fatalf("pending directory holds %d files, want the chat's undelivered one", len(kept))
	}

	// The state is back, the chat too: the kept delivery is imported
	// before deciding, and delivered.
	r.store = mem
	r.chans["chat"].fail = nil
	other := alarm("new", "info")
	other.Key = "cmon/ctl/1/43"
	rep = r.run(t, other)
	if !rep.OK() || rep.FailedOpen {
		t.Fatalf("needs %v, failed open %v", rep.NeedsPerson, rep.FailedOpen)
	}
	if got := r.chans["chat"].messages(); len(got) != 1 || got[0].Key != "cmon/ctl/1/42" {
		t.Errorf("chat got %+v, want the kept message", got)
	}
	if kept, _ := os.ReadDir(PendingDir(r.pl.StatePath)); len(kept) != 0 {
		t.Errorf("pending directory still holds %d files", len(kept))
	}
	// Imported, it opened the incident: the remove resolves it there.
	r.run(t, alarm("remove", "info"))
	if got := actions(r.chans["chat"].messages()); !slices.Equal(got, []string{"message", "resolve"}) {
		t.Errorf("chat got %v, want the kept message resolved", got)
	}
}

// TestOpenFails: stores that cannot even be opened fail open too.
func TestOpenFails(t *testing.T) {
	r := newRig(t, testPolicy)
	r.storeErr = fmt.Errorf("%w: open state.db: permission denied", state.ErrUnavailable)
	rep := r.run(t, alarm("new", "critical"))
	if !rep.FailedOpen || rep.OK() || len(r.chans["pager"].messages()) != 1 {
		t.Errorf("failed open %v, needs %v, pager %v", rep.FailedOpen, rep.NeedsPerson, r.chans["pager"].messages())
	}
}

// TestDegraded: the shared store down, the run decides with the local
// one, delivers and says so.
func TestDegraded(t *testing.T) {
	r := newRig(t, testPolicy)
	local := r.store
	r.pl.Open = func() (*state.Topology, error) { return state.NewTopology(local, unavailable{local}), nil }
	rep := r.run(t, alarm("new", "critical"))
	if !rep.Degraded || rep.FailedOpen || rep.OK() || rep.Delivered != 2 {
		t.Errorf("degraded %v, failed open %v, delivered %d, needs %v", rep.Degraded, rep.FailedOpen, rep.Delivered, rep.NeedsPerson)
	}
	// Decided with the local state: a repeat is suppressed there.
	r.clock = r.clock.Add(time.Minute)
	if rep := r.run(t, alarm("update", "critical")); rep.Delivered != 0 {
		t.Errorf("repeat delivered %d, want it suppressed by the local state", rep.Delivered)
	}
}

// TestDecideNeverWrites: the dry run decides as Run would, on a copy:
// nothing is recorded or delivered, and a channel that cannot be built
// is named.
func TestDecideNeverWrites(t *testing.T) {
	r := newRig(t, testPolicy)
	r.unbuilt["chat"] = errors.New("webhook_url_file: no such file")
	ev := alarm("new", "critical")
	for range 2 {
		rep := r.pl.Decide(context.Background(), ev)
		if len(rep.Plan.Send) != 2 || rep.Plan.Send[0].Outcome != state.OutcomeFirst || rep.FailedOpen {
			t.Fatalf("plan %+v (failed open %v), want two first notifications", rep.Plan.Send, rep.FailedOpen)
		}
		if rep.ChannelErrs["chat"] == nil || len(rep.ChannelErrs) != 1 {
			t.Errorf("channel errors %v, want chat's", rep.ChannelErrs)
		}
	}
	for _, prefix := range []string{"", state.OutboxPrefix} {
		if recs, _ := r.store.Scan(context.Background(), prefix); len(recs) != 0 {
			t.Errorf("the dry run wrote %d records under %q", len(recs), prefix)
		}
	}
	if n := len(r.chans["pager"].messages()); n != 0 {
		t.Errorf("the dry run delivered %d messages", n)
	}
}

// TestRecordDecidesLikeRun: Record keeps the decision (a repeat is
// suppressed) but queues nothing; check sees the rules first.
func TestRecordDecidesLikeRun(t *testing.T) {
	r := newRig(t, testPolicy)
	ctx := context.Background()
	rep, err := r.pl.Record(ctx, alarm("new", "critical"), nil)
	if err != nil || len(rep.Plan.Send) != 2 {
		t.Fatalf("%v, plan %+v", err, rep)
	}
	if q := r.outbox(t); len(q) != 0 {
		t.Errorf("Record queued %d entries", len(q))
	}
	rep, _ = r.pl.Record(ctx, alarm("update", "critical"), nil)
	if len(rep.Plan.Send) != 0 || len(rep.Plan.Skip) != 2 {
		t.Errorf("repeat: plan %+v, want suppressed", rep.Plan)
	}
	stop := errors.New("stop")
	if _, err := r.pl.Record(ctx, alarm("new", "critical"), func(d *engine.Decision, _ []BadSilence) error {
		if d.Matched()[0] != "critical" {
			t.Errorf("check saw %v", d.Matched())
		}
		return stop
	}); !errors.Is(err, stop) {
		t.Errorf("Record returned %v, want check's error", err)
	}
}
