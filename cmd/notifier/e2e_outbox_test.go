package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"notifier/internal/apitest"
	"notifier/internal/harness"
	"notifier/internal/redistest"
)

// End-to-end tests of the durable outbox and of the state commands:
// deliveries that fail, queue and are flushed in order; a run killed
// while delivering; silences and history through the binary. Helpers are
// in e2e_state_test.go.

// TestE2EStateOutboxRetry: PagerDuty fails (503, then 429 asking for an
// hour); the run queues and exits 0; the resolve that follows waits
// behind its trigger; flush delivers both, in order, once PagerDuty
// answers again.
func TestE2EStateOutboxRetry(t *testing.T) {
	h := stateHarness(t, pagerPolicy, harness.Options{})
	key := cmonKey(criticalID)
	h.PagerDuty.FailNext(1, 503, "")
	h.PagerDuty.FailNext(1, 429, "3600") // beyond the run's deadline: queue it
	res := mustRun(t, h, criticalAlarm, 0)
	if !strings.Contains(res.Stderr, `channel "pager"`) || !strings.Contains(res.Stderr, "429") || !strings.Contains(res.Stderr, "queued") {
		t.Errorf("stderr = %q, want the channel, the 429 and that it is queued", res.Stderr)
	}
	if strings.Contains(res.Stderr, harness.RoutingKey) {
		t.Errorf("routing key leaked to stderr")
	}
	if got := h.PagerDuty.Events(); len(got) != 2 || got[0].Status != 503 || got[1].Status != 429 {
		t.Fatalf("PagerDuty attempts = %s, want 503 then 429", harness.DescribePagerDuty(got))
	}
	hist := history(t, h)
	if len(hist.Queued) != 1 || hist.Queued[0].Key != key || hist.Queued[0].Action != "trigger" || hist.Queued[0].Attempts != 1 || !strings.Contains(hist.Queued[0].LastError, "429") {
		t.Fatalf("queued = %s, want the trigger after 1 attempt, failed with 429", harness.DescribeEntries(hist.Queued))
	}
	if hist.Outcomes()["queued"] != 1 {
		t.Errorf("history outcomes = %v, want one queued", hist.Outcomes())
	}

	// The alarm clears while its trigger is still queued: the resolve is
	// queued behind it and nothing goes out of order.
	mustRun(t, h, criticalClear, 0)
	if got := h.PagerDuty.Events(); len(got) != 2 {
		t.Fatalf("the resolve went out while its trigger was queued: %s", harness.DescribePagerDuty(got[2:]))
	}
	hist = history(t, h)
	if len(hist.Queued) != 2 || hist.Queued[0].Action != "trigger" || hist.Queued[1].Action != "resolve" || hist.Queued[1].Key != key {
		t.Fatalf("queued = %s, want the trigger, then the resolve of %s", harness.DescribeEntries(hist.Queued), key)
	}

	// flush ignores the hour PagerDuty asked for, but a new 429 asking
	// for an hour again cannot be waited out: still queued, in order.
	h.PagerDuty.FailNext(1, 429, "3600")
	out := mustCommand(t, h, 0, "flush")
	if strings.TrimSpace(out.Stdout) != "delivered 0, still queued 2, failed 0" {
		t.Errorf("first flush printed %q", out.Stdout)
	}
	// Now PagerDuty asks for a second: flush waits it out within its
	// deadline, then sends the trigger and the resolve.
	h.PagerDuty.FailNext(1, 429, "1")
	out = mustCommand(t, h, 0, "flush")
	if strings.TrimSpace(out.Stdout) != "delivered 2, still queued 0, failed 0" {
		t.Errorf("second flush printed %q", out.Stdout)
	}

	got := h.PagerDuty.Events()
	ok := harness.Accepted(got)
	if len(ok) != 2 || ok[0].Event.EventAction != "trigger" || ok[1].Event.EventAction != "resolve" || ok[0].Event.DedupKey != key || ok[1].Event.DedupKey != key {
		t.Fatalf("accepted = %s, want the trigger then the resolve of %s", harness.DescribePagerDuty(ok), key)
	}
	for _, r := range got[:ok[0].Seq-1] {
		if r.Event.EventAction != "trigger" {
			t.Errorf("request %d (%s, HTTP %d) went before the trigger was accepted", r.Seq, r.Event.EventAction, r.Status)
		}
	}
	if statuses := statusesOf(got); !slices.Equal(statuses, []int{503, 429, 429, 429, 202, 202}) {
		t.Errorf("PagerDuty answered %v, want 503 429 (run) 429 (flush) 429 202 202 (flush)", statuses)
	}
	hist = history(t, h)
	if len(hist.Queued)+len(hist.DeadLetters) != 0 {
		t.Errorf("after flush: queued %s, dead %s", harness.DescribeEntries(hist.Queued), harness.DescribeEntries(hist.DeadLetters))
	}
	if o := hist.Outcomes(); o["delivered"] != 2 {
		t.Errorf("history outcomes = %v, want two delivered", o)
	}
}

func statusesOf(reqs []apitest.PagerDutyRequest) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

// TestE2EStateKilled: a run killed (SIGKILL, as Pacemaker does at its
// timeout) after recording and while delivering loses nothing: its
// delivery is in the outbox, leased to a process that is gone, and the
// next flush or run sends it at once.
func TestE2EStateKilled(t *testing.T) {
	alarm := readExample(t, criticalAlarm)
	for _, next := range []string{"flush", "run"} {
		t.Run("then "+next, func(t *testing.T) {
			h := stateHarness(t, pagerPolicy, harness.Options{})
			ctx := testCtx(t)
			h.PagerDuty.StallNext(1)
			p, err := h.StartCMON(ctx, alarm, nil)
			if err != nil {
				t.Fatal(err)
			}
			await(t, 30*time.Second, "PagerDuty to receive the trigger", func() bool { return len(h.PagerDuty.Events()) > 0 })
			if err := p.Kill(); err != nil {
				t.Fatal(err)
			}
			if res, err := p.Wait(); err != nil || res.Exit != -1 {
				t.Fatalf("killed run: exit %d, %v, want killed by a signal; stderr %q", res.Exit, err, res.Stderr)
			}
			hist := history(t, h)
			owner := fmt.Sprintf("/%d/", p.Pid())
			if len(hist.Queued) != 1 || !strings.Contains(hist.Queued[0].LeaseOwner, owner) {
				t.Fatalf("queued = %s, want the trigger leased to the killed process %d", harness.DescribeEntries(hist.Queued), p.Pid())
			}

			switch next {
			case "flush":
				if out := mustCommand(t, h, 0, "flush"); strings.TrimSpace(out.Stdout) != "delivered 1, still queued 0, failed 0" {
					t.Errorf("flush printed %q", out.Stdout)
				}
			case "run":
				// The same alarm again: itself suppressed, it delivers what
				// the killed run left.
				mustRun(t, h, criticalAlarm, 0)
			}
			got := h.PagerDuty.Events()
			if len(got) != 2 || got[0].Status != 0 || got[1].Status != 202 || got[1].Event.EventAction != "trigger" || got[1].Event.DedupKey != cmonKey(criticalID) {
				t.Errorf("PagerDuty = %s, want the unanswered trigger, then one accepted trigger", harness.DescribePagerDuty(got))
			}
			if hist := history(t, h); len(hist.Queued)+len(hist.DeadLetters) != 0 {
				t.Errorf("after %s: queued %s, dead %s", next, harness.DescribeEntries(hist.Queued), harness.DescribeEntries(hist.DeadLetters))
			}
		})
	}
}

// TestE2EStateSilences: silence add, list and expire through the binary;
// a silenced alarm is recorded, not delivered; after expiry it is.
func TestE2EStateSilences(t *testing.T) {
	h := stateHarness(t, pagerPolicy, harness.Options{})
	key := cmonKey(criticalID)

	bad := mustCommand(t, h, 2, "silence", "add", "--match", `severity == "critical" &&`, "--for", "1h", "--comment", "maintenance")
	if !strings.Contains(bad.Stderr, "--match:1:") {
		t.Errorf("a bad --match: stderr %q, want its position", bad.Stderr)
	}
	add := mustCommand(t, h, 0, "silence", "add", "--match", `event_type == "MySqlDisconnected"`, "--for", "1h", "--comment", "planned maintenance", "--author", "alice")
	id := strings.TrimSpace(add.Stdout)
	if !strings.HasPrefix(id, "s-") {
		t.Fatalf("silence add printed %q, want the silence id", add.Stdout)
	}
	list := mustCommand(t, h, 0, "silence", "list")
	for _, want := range []string{id, "alice", `event_type == "MySqlDisconnected"`, "planned maintenance"} {
		if !strings.Contains(list.Stdout, want) {
			t.Errorf("silence list lacks %q:\n%s", want, list.Stdout)
		}
	}

	mustRun(t, h, criticalAlarm, 0)
	if got := h.PagerDuty.Events(); len(got) != 0 {
		t.Fatalf("a silenced alarm was delivered: %s", harness.DescribePagerDuty(got))
	}
	hist := history(t, h)
	if len(hist.History) != 1 || hist.History[0].Outcome != "silenced" || hist.History[0].Key != key || !strings.Contains(hist.History[0].Reason, id) {
		t.Errorf("history = %+v, want one entry: %s silenced by %s", hist.History, key, id)
	}

	// Expired early: the alarm it held, still open, is told now.
	if out := mustCommand(t, h, 0, "silence", "expire", id); out.Stdout != "expired "+id+"\n1 held alert(s) it silenced are told now (by the engine, or the next run or flush)\n" {
		t.Errorf("silence expire printed %q", out.Stdout)
	}
	// An unknown id is a clear error, not a stack trace; expiring twice
	// says it had already expired.
	if out := mustCommand(t, h, 1, "silence", "expire", "s-00000000"); !strings.Contains(out.Stderr, `no silence "s-00000000"`) || strings.Contains(out.Stderr, "goroutine") {
		t.Errorf("silence expire of an unknown id: stderr %q", out.Stderr)
	}
	if out := mustCommand(t, h, 0, "silence", "expire", id); !strings.Contains(out.Stdout, id+" had already expired at ") {
		t.Errorf("silence expire of an expired silence printed %q", out.Stdout)
	}
	if out := mustCommand(t, h, 0, "silence", "list"); strings.Contains(out.Stdout, id) {
		t.Errorf("an expired silence is listed without --all:\n%s", out.Stdout)
	}
	if out := mustCommand(t, h, 0, "silence", "list", "--all"); !strings.Contains(out.Stdout, id) || !strings.Contains(out.Stdout, "(expired)") {
		t.Errorf("silence list --all does not show %s as expired:\n%s", id, out.Stdout)
	}

	mustRun(t, h, criticalAlarm, 0)
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.DedupKey != key {
		t.Errorf("after expiry PagerDuty accepted %s, want the trigger", harness.DescribePagerDuty(got))
	}
	hist = history(t, h)
	if o := hist.Outcomes(); o["silenced"] != 1 || o["first"] != 1 || o["delivered"] != 1 {
		t.Errorf("history outcomes = %v, want silenced 1, first 1, delivered 1", o)
	}
}

// TestE2EStateOutboxOrderAcrossNodes: with Redis the outbox is shared, so
// a resolve decided on node B waits behind the trigger node A could not
// deliver yet, and nothing is lost between the decision and the queue
// (both are one Redis transaction).
func TestE2EStateOutboxOrderAcrossNodes(t *testing.T) {
	o := harness.Options{RedisURL: redistest.StartURL(t)}
	a := stateHarness(t, pagerPolicy, o)
	b, err := a.Node(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	a.PagerDuty.FailNext(1, 429, "3600") // node A's trigger cannot go now: queued
	mustRun(t, a, criticalAlarm, 0)
	mustRun(t, b, criticalClear, 0) // node B's resolve must not overtake it
	if got := harness.Accepted(a.PagerDuty.Events()); len(got) != 0 {
		t.Fatalf("delivered before the trigger could be: %s", harness.DescribePagerDuty(got))
	}
	if out := mustCommand(t, b, 0, "flush"); strings.TrimSpace(out.Stdout) != "delivered 2, still queued 0, failed 0" {
		t.Fatalf("flush on node B: %q", out.Stdout)
	}
	got := harness.Accepted(a.PagerDuty.Events())
	if len(got) != 2 || got[0].Event.EventAction != "trigger" || got[1].Event.EventAction != "resolve" || got[0].Event.DedupKey != got[1].Event.DedupKey {
		t.Fatalf("PagerDuty accepted %s, want the trigger, then its resolve", harness.DescribePagerDuty(got))
	}
}
