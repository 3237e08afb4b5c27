package main

import (
	"strings"
	"testing"

	"notifier/internal/harness"
	"notifier/internal/redistest"
)

// twoChannelPolicy pages and logs critical events, once per 30 minutes.
const twoChannelPolicy = `
channels:
  pager: {type: pagerduty}
  local: {type: syslog}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager, local]
    suppress: {for: 30m}
`

// TestE2EDeadLetterOneChannelKeepsTheWindow: PagerDuty rejects the page
// (400), syslog takes the message: syslog was told, so the window holds
// and the repeats are suppressed — they do not log again every time.
func TestE2EDeadLetterOneChannelKeepsTheWindow(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { oneChannelKeepsTheWindow(t, harness.Options{}) })
	t.Run("redis", func(t *testing.T) { oneChannelKeepsTheWindow(t, harness.Options{RedisURL: redistest.StartURL(t)}) })
}

func oneChannelKeepsTheWindow(t *testing.T, o harness.Options) {
	h := stateHarness(t, twoChannelPolicy, o)
	h.PagerDuty.FailNext(3, 400, "") // every page this test could send
	for range 3 {
		mustRun(t, h, criticalAlarm, 1) // the page given up is said until a page succeeds
	}
	if n := len(h.Syslog.Messages()); n != 1 {
		t.Errorf("syslog got %d messages, want the first only (the repeats suppressed)", n)
	}
	if n := len(h.PagerDuty.Events()); n != 1 {
		t.Errorf("PagerDuty received %d requests, want the rejected one", n)
	}
}

// TestE2EDeadLetterAfterARetryResolves: the page's first attempt fails
// with a 503 (PagerDuty may have acted on it), the retry is rejected: the
// page is given up, but the recovery still sends PagerDuty the resolve,
// in case the alert exists.
func TestE2EDeadLetterAfterARetryResolves(t *testing.T) {
	h := stateHarness(t, deadLetterPolicy, harness.Options{})
	h.PagerDuty.FailNext(1, 503, "")
	h.PagerDuty.FailNext(1, 400, "")
	if res := mustRun(t, h, criticalAlarm, 1); !strings.Contains(res.Stderr, "(given up)") {
		t.Fatalf("the 400 is not reported: %s", res.Stderr)
	}
	mustRun(t, h, criticalClear, 0) // the resolve delivered clears the mark
	ev := h.PagerDuty.Events()
	if len(ev) != 3 || ev[2].Event.EventAction != "resolve" {
		t.Errorf("PagerDuty received %s, want the trigger twice, then the resolve", harness.DescribePagerDuty(ev))
	}
}
