package state

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
)

// deadLetterRun decides ev at minute min on recs, queues its deliveries
// as the run does, and settles each with outcome o.
func deadLetterRun(t *testing.T, recs map[string]*Record, ev *event.Event, d *engine.Decision, min int, o Attempt) Result {
	t.Helper()
	return settleEach(t, recs, ev, d, min, func(string) Attempt { return o })
}

// settleEach decides ev at minute min on recs, queues its deliveries as
// the run does, and settles each with the outcome outcome gives its
// channel.
func settleEach(t *testing.T, recs map[string]*Record, ev *event.Event, d *engine.Decision, min int, outcome func(channel string) Attempt) Result {
	t.Helper()
	res, err := Apply(Input{Event: ev, Decision: d, Now: at(min)}, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range res.Send {
		e := Entry{ID: "o/" + p.Channel + string(rune('a'+min)) + string(rune('0'+i)), Key: ev.Key, Channel: p.Channel, Type: p.Type, Action: p.Action,
			Created: at(min), LeaseOwner: "me", LeasedUntil: at(min + 1)}
		if p.Opened != (Opened{}) {
			e.Opened = &p.Opened
		}
		queue(t, recs, e)
		if _, err := Settle(recs, e, outcome(p.Channel), at(min), "me"); err != nil {
			t.Fatal(err)
		}
	}
	for id, r := range recs {
		if r == nil {
			delete(recs, id)
		}
	}
	return res
}

var rejected = Attempt{Status: AttemptRejected, Err: errors.New("HTTP 400: Event object is invalid")}

// TestDeadLetterUndoesWhatItOpened: a notification given up opens no
// suppression window and tells no incident; its channel is marked until a
// delivery succeeds (issue 9, item 6).
func TestDeadLetterUndoesWhatItOpened(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	deadLetterRun(t, recs, ev, d, 0, rejected)
	marks := Failures(map[string]*Record{"p": recs[FailureID("pager")], "o": recs[FailureID("ops")]})
	if len(marks) != 2 || marks[1].Channel != "pager" || marks[1].Count != 1 || !strings.Contains(marks[1].Error, "400") {
		t.Fatalf("failure marks %+v, want pager and ops with the 400", marks)
	}
	// Within `for` of the given-up notification: notified, not suppressed.
	res := deadLetterRun(t, recs, ev, d, 5, Attempt{Status: AttemptDelivered})
	if got := summary(res); !strings.HasPrefix(got, "send pager trigger: first") {
		t.Fatalf("after a dead letter:\n%s", got)
	}
	if recs[FailureID("pager")] != nil {
		t.Error("a delivery to pager must clear its mark")
	}
	// The window now holds from the notification that was delivered.
	if got := summary(deadLetterRun(t, recs, ev, d, 6, rejected)); !strings.Contains(got, "skip pager: suppressed until 2026-11-22T03:35:00Z") {
		t.Fatalf("after a delivery:\n%s", got)
	}
	rm := *ev
	rm.Action = event.ActionRemove
	if got := summary(deadLetterRun(t, recs, &rm, &engine.Decision{Key: ev.Key}, 7, Attempt{Status: AttemptDelivered})); strings.Count(got, " resolve: ") != 2 {
		t.Fatalf("resolve:\n%s", got)
	}
}

func TestDeadLetterNoResolveForAnAlertNeverRaised(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	deadLetterRun(t, recs, ev, d, 0, rejected)
	rm := *ev
	rm.Action = event.ActionRemove
	res := deadLetterRun(t, recs, &rm, &engine.Decision{Key: ev.Key}, 1, Attempt{Status: AttemptDelivered})
	if len(res.Send) != 0 {
		t.Fatalf("resolve of an incident whose only notifications were given up:\n%s", summary(res))
	}
	if len(Failures(recs)) != 2 || len(recs) != 4 { // the two marks and the two dead letters
		t.Errorf("records left: %v", recs)
	}
}

func TestDeadLetterEscalatesAgain(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(0, 2)
	deadLetterRun(t, recs, ev, d, 0, Attempt{Status: AttemptDelivered})
	if got := summary(deadLetterRun(t, recs, ev, d, 1, rejected)); !strings.Contains(got, "send boss trigger: escalated") {
		t.Fatalf("second occurrence:\n%s", got)
	}
	if got := summary(deadLetterRun(t, recs, ev, d, 2, Attempt{Status: AttemptDelivered})); !strings.Contains(got, "send boss trigger: escalated: occurrence 3 of 2") {
		t.Fatalf("the escalation was given up: the next occurrence must escalate again:\n%s", got)
	}
	if got := summary(deadLetterRun(t, recs, ev, d, 3, Attempt{Status: AttemptDelivered})); strings.Contains(got, "escalated") {
		t.Fatalf("an escalation delivered is not repeated:\n%s", got)
	}
}

// TestDeadLetterKeepsWhatOthersOpened: a later notification restarted
// the window, or an earlier one told the incident: a dead letter leaves
// those alone, and a later delivery puts its channel back in the incident.
func TestDeadLetterKeepsWhatOthersOpened(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	deadLetterRun(t, recs, ev, d, 0, Attempt{Status: AttemptDelivered})
	// A repeat after the window, given up: the incident keeps pager (an
	// alert is open there) and the window restarts from the repeat only
	// when it is delivered.
	deadLetterRun(t, recs, ev, d, 40, rejected)
	inc, _ := readIncident(recs, IncidentID(ev.Key))
	if inc == nil || len(inc.Told) != 2 {
		t.Fatalf("incident %+v, want pager and ops still told", inc)
	}
	// An old entry settling after a newer notification restarted the
	// window must not reopen it.
	id := WindowID("crit", ev.Key)
	e := Entry{ID: "o/old", Key: ev.Key, Channel: "pager", Action: "trigger", LeaseOwner: "me", LeasedUntil: at(100), Opened: &Opened{Window: id, At: at(-10)}}
	queue(t, recs, e)
	deadLetterRun(t, recs, ev, d, 41, Attempt{Status: AttemptDelivered})
	if _, err := Settle(recs, e, rejected, at(42), "me"); err != nil {
		t.Fatal(err)
	}
	if got := summary(deadLetterRun(t, recs, ev, d, 43, Attempt{Status: AttemptDelivered})); !strings.Contains(got, "skip pager: suppressed") {
		t.Fatalf("a stale dead letter reopened the window:\n%s", got)
	}
	// A delivery puts its channel back in an incident a dead letter took
	// it out of.
	inc.Told = inc.Told[1:]
	writeIncident(recs, IncidentID(ev.Key), inc, at(1000))
	ok := Entry{ID: "o/late", Key: ev.Key, Channel: "pager", Action: "trigger", LeaseOwner: "me", LeasedUntil: at(100)}
	queue(t, recs, ok)
	if _, err := Settle(recs, ok, Attempt{Status: AttemptDelivered}, at(44), "me"); err != nil {
		t.Fatal(err)
	}
	if inc, _ := readIncident(recs, IncidentID(ev.Key)); inc == nil || len(inc.Told) != 2 {
		t.Errorf("incident %+v, want pager back", inc)
	}
}

// TestSettleIDs: a settle names the records it may change, and no more:
// a failure that stays queued names none (under an outage every run has
// one, and must not wait on the channel's mark).
func TestSettleIDs(t *testing.T) {
	e := Entry{ID: "o/1", Key: "k", Channel: "pager", Action: "trigger", Created: at(0), Opened: &Opened{Window: "w/r/k", At: at(0), Incident: true}}
	retry := Attempt{Status: AttemptRetryable, Err: errors.New("HTTP 503")}
	ok := Attempt{Status: AttemptDelivered}
	cases := []struct {
		name   string
		o      Attempt
		now    time.Time
		marked bool
		want   string
	}{
		{"retryable, stays queued", retry, at(1), false, ""},
		{"retryable past GiveUpAfter", retry, at(0).Add(GiveUpAfter), false, "i/k x/k w/r/k f/pager"},
		{"permanent", rejected, at(1), false, "i/k x/k w/r/k f/pager"},
		{"delivered", ok, at(1), false, "i/k"},
		{"delivered, channel marked", ok, at(1), true, "i/k f/pager"},
		{"not attempted", Attempt{}, at(1), true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Join(SettleIDs(e, c.o, c.now, c.marked), " "); got != c.want {
				t.Errorf("SettleIDs = %q, want %q", got, c.want)
			}
		})
	}
}

// TestDeadLetterWithAnotherQueuedBehind: the channel stays in the
// incident while another notification to it about the key is queued:
// that one may still raise the alert, which the recovery must resolve.
func TestDeadLetterWithAnotherQueuedBehind(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	res, err := Apply(Input{Event: ev, Decision: d, Now: at(0)}, recs)
	if err != nil {
		t.Fatal(err)
	}
	first := Entry{ID: "o/1", Key: ev.Key, Channel: "pager", Action: "trigger", Created: at(0), LeaseOwner: "me", LeasedUntil: at(1), Opened: &res.Send[0].Opened}
	behind := Entry{ID: "o/2", Key: ev.Key, Channel: "pager", Action: "trigger", Created: at(0), NextAttempt: at(5)}
	queue(t, recs, first, behind)
	if _, err := Settle(recs, first, rejected, at(0), "me"); err != nil {
		t.Fatal(err)
	}
	if inc, _ := readIncident(recs, IncidentID(ev.Key)); inc == nil || !slices.ContainsFunc(inc.Told, func(t Told) bool { return t.Channel == "pager" }) {
		t.Fatalf("incident %+v: pager must stay while another trigger to it is queued", inc)
	}
}
