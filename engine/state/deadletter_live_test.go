package state

import (
	"strings"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
)

var deliveredOK = Attempt{Status: AttemptDelivered}

// runPerChannel decides ev at minute min on recs, queues its deliveries
// and settles each with the outcome outcome gives its channel.
func runPerChannel(t *testing.T, recs map[string]*Record, ev *event.Event, d *engine.Decision, min int, outcome func(channel string) Attempt) string {
	t.Helper()
	return summary(settleEach(t, recs, ev, d, min, outcome))
}

// TestDeadLetterOneChannelKeepsTheWindow: notify [pager, ops], suppress
// 30m; pager answers 400, ops delivers. Ops was told, so the window
// stands: the next occurrences are suppressed for both, not sent to ops
// again every time.
func TestDeadLetterOneChannelKeepsTheWindow(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	pagerRejected := func(ch string) Attempt {
		if ch == "pager" {
			return rejected
		}
		return deliveredOK
	}
	want := []string{
		"send pager trigger: first\nsend ops message: first",
		"skip pager: suppressed until 2026-11-22T03:30:00Z (1 so far)\nskip ops: suppressed until 2026-11-22T03:30:00Z (1 so far)",
		"skip pager: suppressed until 2026-11-22T03:30:00Z (2 so far)\nskip ops: suppressed until 2026-11-22T03:30:00Z (2 so far)",
		"skip pager: suppressed until 2026-11-22T03:30:00Z (3 so far)\nskip ops: suppressed until 2026-11-22T03:30:00Z (3 so far)",
	}
	for min, w := range want {
		if got := runPerChannel(t, recs, ev, d, min, pagerRejected); got != w {
			t.Fatalf("minute %d:\n%s\nwant:\n%s", min, got, w)
		}
	}
	// After the window the next occurrence notifies; when every
	// notification of it is given up, the window reopens.
	if got := runPerChannel(t, recs, ev, d, 30, func(string) Attempt { return rejected }); got != "send pager trigger: first after 3 suppressed\nsend ops message: first after 3 suppressed" {
		t.Fatalf("minute 30:\n%s", got)
	}
	if got := runPerChannel(t, recs, ev, d, 31, pagerRejected); got != "send pager trigger: first\nsend ops message: first" {
		t.Fatalf("minute 31, after both were given up:\n%s", got)
	}
}

// TestDeadLetterOneEscalationChannelKeepsTheEscalation: the same for an
// escalation to two channels: one given up, one delivered, it is not
// repeated.
func TestDeadLetterOneEscalationChannelKeepsTheEscalation(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(0, 2)
	d.Hits[0].Escalation = append(d.Hits[0].Escalation, engine.Delivery{Channel: "boss2", Type: "slack", Action: "message", Rule: "crit"})
	bossRejected := func(ch string) Attempt {
		if ch == "boss" {
			return rejected
		}
		return deliveredOK
	}
	runPerChannel(t, recs, ev, d, 0, bossRejected)
	if got := runPerChannel(t, recs, ev, d, 1, bossRejected); !strings.Contains(got, "send boss trigger: escalated") || !strings.Contains(got, "send boss2 message: escalated") {
		t.Fatalf("second occurrence:\n%s", got)
	}
	if got := runPerChannel(t, recs, ev, d, 2, bossRejected); strings.Contains(got, "escalated") {
		t.Fatalf("boss2 was told: the escalation must not repeat:\n%s", got)
	}
}
