package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"notifier/internal/harness"
	"notifier/internal/redistest"
)

// deadLetterPolicy pages critical events once per 30 minutes and sends
// warnings to syslog.
const deadLetterPolicy = `
channels:
  pager: {type: pagerduty}
  local: {type: syslog}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
    suppress: {for: 30m}
  - name: warnings
    when: severity == "warning"
    notify: [local]
`

// TestE2EDeadLetterOpensNoWindow: a delivery PagerDuty rejects for good
// (a 400) opens no suppression window (issue 9, item 6). Until a delivery
// to that channel succeeds, every run — about any event — says that a
// page was given up and exits 1, and so do explain and history; the next
// occurrence pages (it is not "suppressed"), and from then on the window
// holds as usual.
func TestE2EDeadLetterOpensNoWindow(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { deadLetterOpensNoWindow(t, harness.Options{}) })
	t.Run("redis", func(t *testing.T) { deadLetterOpensNoWindow(t, harness.Options{RedisURL: redistest.StartURL(t)}) })
}

func deadLetterOpensNoWindow(t *testing.T, o harness.Options) {
	h := stateHarness(t, deadLetterPolicy, o)
	given := `channel "pager": a delivery given up since its last success`
	h.PagerDuty.FailNext(1, 400, "")
	if res := mustRun(t, h, criticalAlarm, 1); !strings.Contains(res.Stderr, "(given up)") {
		t.Fatalf("the 400 is not reported: %s", res.Stderr)
	}
	// Another event, another channel, delivered: the page given up is
	// still said, exit 1.
	if res := mustRun(t, h, "cmon/alarm-new-warning.json", 1); !strings.Contains(res.Stderr, given) || strings.Count(res.Stderr, "\n") != 1 {
		t.Errorf("the run after the dead letter: stderr %q, want one line saying the page was given up", res.Stderr)
	}
	if n := len(h.Syslog.Messages()); n != 1 {
		t.Errorf("syslog got %d messages, want the warning", n)
	}
	res := mustCommand(t, h, 1, "explain", "--event", filepath.Join(examples, criticalAlarm))
	if !strings.Contains(res.Stdout, `pager (pagerduty): trigger, by rule "critical": first`) || !strings.Contains(res.Stderr, given) {
		t.Errorf("explain must show the page going out again and say the last was given up:\n%s\n%s", res.Stdout, res.Stderr)
	}
	if res := mustCommand(t, h, 1, "history"); !strings.Contains(res.Stderr, given) || !strings.Contains(res.Stdout, "dead letters") {
		t.Errorf("history: stderr %q, stdout:\n%s", res.Stderr, res.Stdout)
	}
	if res := mustCommand(t, h, 1, "flush"); !strings.Contains(res.Stderr, given) {
		t.Errorf("flush: stderr %q, want the page given up", res.Stderr)
	}
	if g := history(t, h).GivenUp; len(g) != 1 || g[0].Channel != "pager" || g[0].Count != 1 || !strings.Contains(g[0].Error, "400") {
		t.Errorf("history --format json: given_up_channels %+v, want pager's 400", g)
	}
	// The dead letter's message keeps the shape history has always
	// printed (channels.Message's field names), whatever the outbox's
	// own storage form.
	if res := mustCommand(t, h, 1, "history", "--format", "json"); !strings.Contains(res.Stdout, `"Key": "`) || !strings.Contains(res.Stdout, `"EventType": "`) || strings.Contains(res.Stdout, `"v": 1`) {
		t.Errorf("history --format json: a dead letter's message is not in channels.Message's shape:\n%s", res.Stdout)
	}
	// The next occurrence pages — it would have been "suppressed" — and
	// the delivery clears the mark.
	mustRun(t, h, criticalAlarm, 0)
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.EventAction != "trigger" {
		t.Fatalf("after the dead letter PagerDuty accepted %s, want the trigger", harness.DescribePagerDuty(got))
	}
	if res := mustRun(t, h, "cmon/alarm-new-warning.json", 0); res.Stderr != "" {
		t.Errorf("after a delivery to pager succeeded: stderr %q", res.Stderr)
	}
	// Now the window holds, from the page that was delivered.
	mustRun(t, h, criticalAlarm, 0)
	mustRun(t, h, criticalClear, 0)
	got := harness.Accepted(h.PagerDuty.Events())
	if len(got) != 2 || got[1].Event.EventAction != "resolve" {
		t.Errorf("PagerDuty accepted %s, want the trigger and its resolve", harness.DescribePagerDuty(got))
	}
	if o := history(t, h).Outcomes(); o["first"] != 4 || o["suppressed"] != 1 || o["failed"] != 1 {
		t.Errorf("history outcomes %v, want first 4 (two pages, two warnings), suppressed 1, failed 1", o)
	}
}

// TestE2EDeadLetterNoResolve: the recovery of an alarm whose only page
// was given up resolves nothing: PagerDuty never opened the alert.
func TestE2EDeadLetterNoResolve(t *testing.T) {
	h := stateHarness(t, deadLetterPolicy, harness.Options{})
	h.PagerDuty.FailNext(1, 400, "")
	mustRun(t, h, criticalAlarm, 1)
	res := mustRun(t, h, criticalClear, 1) // the mark is still said
	if n := len(h.PagerDuty.Events()); n != 1 {
		t.Errorf("PagerDuty received %d requests, want only the rejected trigger: %s", n, harness.DescribePagerDuty(h.PagerDuty.Events()))
	}
	if !strings.Contains(res.Stderr, `channel "pager"`) {
		t.Errorf("stderr %q", res.Stderr)
	}
	// A new occurrence after the recovery pages at once.
	mustRun(t, h, criticalAlarm, 0)
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.EventAction != "trigger" {
		t.Errorf("PagerDuty accepted %s, want one trigger", harness.DescribePagerDuty(got))
	}
}

// TestE2EDeadLetterPacemaker: the same through Pacemaker's invocation: a
// node loss whose page was rejected is paged again by the next alert.
func TestE2EDeadLetterPacemaker(t *testing.T) {
	h := stateHarness(t, `
channels:
  pager: {type: pagerduty}
rules:
  - name: node-lost
    when: kind == "node" && !ok
    notify: [pager]
    suppress: {for: 30m}
`, harness.Options{})
	h.PagerDuty.FailNext(1, 400, "")
	for i, want := range []int{1, 0, 0} {
		res, err := h.RunPacemaker(testCtx(t), filepath.Join(examples, nodeLost), fmt.Sprintf("CRM_alert_timestamp_epoch=%d", 1795302001+i))
		if err != nil {
			t.Fatal(err)
		}
		if res.Exit != want {
			t.Fatalf("alert %d: exit %d, want %d; stderr %s", i+1, res.Exit, want, res.Stderr)
		}
	}
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 {
		t.Errorf("PagerDuty accepted %s, want the second alert's page only (the third suppressed)", harness.DescribePagerDuty(got))
	}
}
