package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/channels/pagerduty"
	"notifier/internal/harness"
	"notifier/internal/redistest"
)

// TestE2ELongKeys: keys far beyond bbolt's 32 KiB key limit — a 40 000
// digit CMON alarm id, a 100 KB Pacemaker node name — are decided like
// any other (issue 9, item 5): the first pages, a repeat is suppressed
// (exit 0), the recovery resolves the very alert the trigger opened.
func TestE2ELongKeys(t *testing.T) {
	t.Run("cmon id of 40000 digits", func(t *testing.T) { longCMONID(t, harness.Options{}) })
	t.Run("cmon id of 40000 digits, redis", func(t *testing.T) { longCMONID(t, harness.Options{RedisURL: redistest.StartURL(t)}) })
	t.Run("pacemaker node of 100 KB", func(t *testing.T) {
		h := stateHarness(t, `
channels:
  pager: {type: pagerduty}
rules:
  - name: node-lost
    when: kind == "node"
    notify: [pager]
    suppress: {for: 30m}
`, harness.Options{})
		node := strings.Repeat("n", 100_000)
		lost := filepath.Join(examples, nodeLost)
		member := filepath.Join(examples, "pacemaker/node-member-cluster-node.env")
		seq := 0
		run := func(file string) (harness.Result, error) {
			// Each its own alert, not another recipient's copy of one, nor
			// another node's report of it (settings.dedup_window).
			seq++
			return h.RunPacemaker(testCtx(t), file, "CRM_alert_node="+node, fmt.Sprintf("CRM_alert_timestamp_epoch=%d", 1795302001+300*seq))
		}
		longKeySequence(t, h, "pacemaker/default/node/"+node, run, []string{lost, lost, member})
	})
}

// longCMONID: a CMON alarm id of 40 000 digits, raised twice and cleared.
func longCMONID(t *testing.T, o harness.Options) {
	h := stateHarness(t, pagerPolicy, o)
	id := "1" + strings.Repeat("0", 39999)
	write := func(example string) string {
		data, err := harness.WithAlarmID(readExample(t, example), id)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), filepath.Base(example))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	raise, clear := write(criticalAlarm), write(criticalClear)
	longKeySequence(t, h, cmonKey(id), func(file string) (harness.Result, error) { return h.RunCMON(testCtx(t), file) },
		[]string{raise, raise, clear})
}

// longKeySequence runs raise, raise again, clear, and checks that
// PagerDuty got one trigger and its resolve for key, and that history
// says so.
func longKeySequence(t *testing.T, h *harness.Harness, key string, run func(string) (harness.Result, error), files []string) {
	t.Helper()
	for i, f := range files {
		res, err := run(f)
		if err != nil {
			t.Fatal(err)
		}
		if res.Exit != 0 || res.Stderr != "" {
			t.Fatalf("run %d (%s): exit %d, want 0; stderr: %.300s", i+1, filepath.Base(f), res.Exit, res.Stderr)
		}
	}
	got := harness.Accepted(h.PagerDuty.Events())
	if len(got) != 2 || got[0].Event.EventAction != "trigger" || got[1].Event.EventAction != "resolve" {
		t.Fatalf("PagerDuty accepted %d events, want a trigger then its resolve", len(got))
	}
	if want := pagerduty.DedupKey(key); got[0].Event.DedupKey != want || got[1].Event.DedupKey != want {
		t.Errorf("dedup keys %.60q / %.60q, want both %.60q", got[0].Event.DedupKey, got[1].Event.DedupKey, want)
	}
	hist := history(t, h)
	if o := hist.Outcomes(); o["first"] != 1 || o["suppressed"] != 1 || o["resolved"] != 1 || o["delivered"] != 2 {
		t.Errorf("history outcomes = %v, want first, suppressed, resolved once, delivered twice", o)
	}
	if len(hist.Queued)+len(hist.DeadLetters) != 0 {
		t.Errorf("outbox not empty: %d queued, %d dead", len(hist.Queued), len(hist.DeadLetters))
	}
}
