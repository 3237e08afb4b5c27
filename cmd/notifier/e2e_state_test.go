package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/internal/harness"
	"notifier/internal/redistest"

	"notifier/internal/apitest"
)

// End-to-end tests of the state (issue 3): the built binary, many real
// processes at once on one state file, alarms raised and cleared at the
// same moment, two nodes sharing Redis, and failing open. The outbox and
// the state commands are in e2e_outbox_test.go; both use the helpers
// here.

// pagerPolicy pages critical events, once per alarm per 30 minutes. The
// harness points the channel at its local PagerDuty.
const pagerPolicy = `
channels:
  pager: {type: pagerduty}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
    suppress: {for: 30m}
`

// nodeLostPolicy pages and tells Slack when a cluster node is lost.
const nodeLostPolicy = `
channels:
  pager: {type: pagerduty}
  ops: {type: slack}
rules:
  - name: node-lost
    when: kind == "node" && !ok
    notify: [pager, ops]
    suppress: {for: 30m}
`

const (
	criticalAlarm = "cmon/alarm-new-critical.json"
	criticalClear = "cmon/alarm-remove-critical.json"
	criticalID    = "10736685724696984427"
	nodeLost      = "pacemaker/node-lost-cluster-node-crash.env"
)

// cmonKey is the event key (and PagerDuty dedup_key) of a CMON alarm of
// cluster 1 sent without cmon_hostname, as the examples are.
func cmonKey(id string) string {
	host, _ := os.Hostname()
	return "cmon/" + host + "/1/" + id
}

// shippedGroupKey is the key the shipped policy pages a CMON critical of
// cluster 1 from this host under: its cluster's group.
func shippedGroupKey() string {
	host, _ := os.Hostname()
	return "group/critical/" + host + "/1"
}

// stateHarness runs policy against local endpoints, with state as o says.
func stateHarness(t *testing.T, policy string, o harness.Options) *harness.Harness {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(src, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := harness.NewWithOptions(binary, src, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examples, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// storm runs one process per input, all at once (harness.Storm).
func storm(t *testing.T, h *harness.Harness, inputs [][]byte) []harness.Result {
	t.Helper()
	results, err := h.Storm(testCtx(t), inputs)
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// wantClean fails unless every run exited 0 and printed nothing.
func wantClean(t *testing.T, results []harness.Result) {
	t.Helper()
	bad := 0
	for i, r := range results {
		if r.Exit != 0 || r.Stdout != "" || r.Stderr != "" {
			if bad++; bad <= 3 {
				t.Errorf("process %d: exit %d, stdout %q, stderr %q", i, r.Exit, r.Stdout, r.Stderr)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d processes failed or printed", bad, len(results))
	}
}

// waitAll waits for every process and returns their results.
func waitAll(t *testing.T, procs []*harness.Proc) []harness.Result {
	t.Helper()
	var results []harness.Result
	for _, p := range procs {
		res, err := p.Wait()
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	return results
}

func history(t *testing.T, h *harness.Harness) *harness.History {
	t.Helper()
	hist, err := h.History(testCtx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

// await polls cond, a condition another process makes true, until it
// holds or d has passed.
func await(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		<-tick.C
	}
}

func mustCommand(t *testing.T, h *harness.Harness, wantExit int, args ...string) harness.Result {
	t.Helper()
	res, err := h.Command(testCtx(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != wantExit {
		t.Fatalf("notifier %s: exit %d, want %d; stdout %q; stderr %q", strings.Join(args, " "), res.Exit, wantExit, res.Stdout, res.Stderr)
	}
	return res
}

// TestE2EStateStorm: 200 processes on one state file at once, as
// Pacemaker starts one per recipient and CMON sends update storms.
func TestE2EStateStorm(t *testing.T) {
	const n = 200
	alarm := readExample(t, criticalAlarm)

	t.Run("one alarm pages once", func(t *testing.T) {
		h := stateHarness(t, pagerPolicy, harness.Options{})
		inputs := make([][]byte, n)
		for i := range inputs {
			inputs[i] = alarm
		}
		wantClean(t, storm(t, h, inputs))
		got := h.PagerDuty.Events()
		if len(got) != 1 || got[0].Status != 202 || got[0].Event.EventAction != "trigger" || got[0].Event.DedupKey != cmonKey(criticalID) {
			t.Fatalf("PagerDuty received %d requests, want exactly one accepted trigger for %s: %s", len(got), cmonKey(criticalID), harness.DescribePagerDuty(got))
		}
		hist := history(t, h)
		if o := hist.Outcomes(); o["first"] != 1 || o["suppressed"] != n-1 || o["delivered"] != 1 {
			t.Errorf("history outcomes = %v, want first 1, suppressed %d, delivered 1", o, n-1)
		}
		if len(hist.Queued)+len(hist.DeadLetters) != 0 {
			t.Errorf("outbox not empty: queued %s, dead %s", harness.DescribeEntries(hist.Queued), harness.DescribeEntries(hist.DeadLetters))
		}
	})

	t.Run("distinct alarms page once each", func(t *testing.T) {
		h := stateHarness(t, pagerPolicy, harness.Options{})
		inputs := make([][]byte, n)
		want := map[string]bool{}
		for i := range inputs {
			id := strconv.FormatUint(math.MaxUint64-uint64(i), 10) // ids beyond int64, as CMON's are
			data, err := harness.WithAlarmID(alarm, id)
			if err != nil {
				t.Fatal(err)
			}
			inputs[i] = data
			want[cmonKey(id)] = true
		}
		wantClean(t, storm(t, h, inputs))
		got := h.PagerDuty.Events()
		keys := map[string]int{}
		for _, r := range got {
			if r.Status != 202 || r.Event.EventAction != "trigger" {
				t.Errorf("request %d: %d %s, want an accepted trigger", r.Seq, r.Status, r.Event.EventAction)
			}
			keys[r.Event.DedupKey]++
		}
		if len(got) != n || len(keys) != n {
			t.Errorf("PagerDuty received %d requests for %d keys, want %d for %d", len(got), len(keys), n, n)
		}
		for k, c := range keys {
			if c != 1 || !want[k] {
				t.Errorf("dedup_key %q: %d triggers (expected key: %v)", k, c, want[k])
			}
		}
		hist := history(t, h)
		if o := hist.Outcomes(); o["first"] != n || o["delivered"] != n || o["suppressed"] != 0 {
			t.Errorf("history outcomes = %v, want first %d, delivered %d", o, n, n)
		}
		if len(hist.Queued)+len(hist.DeadLetters) != 0 {
			t.Errorf("outbox not empty: %d queued, %d dead", len(hist.Queued), len(hist.DeadLetters))
		}
	})
}

// TestE2EStateRaisedAndCleared: alarms raised and cleared at the same
// moment, each by its own process, all at once. Whichever decision comes
// first, PagerDuty must see per key a trigger, or a trigger and then its
// resolve: never a resolve first, never a second trigger.
func TestE2EStateRaisedAndCleared(t *testing.T) {
	const n = 100
	h := stateHarness(t, pagerPolicy, harness.Options{})
	raise, clear := readExample(t, criticalAlarm), readExample(t, criticalClear)
	var inputs [][]byte
	for i := range n {
		for _, ev := range [][]byte{raise, clear} {
			data, err := harness.WithAlarmID(ev, strconv.Itoa(1000+i))
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, data)
		}
	}
	wantClean(t, storm(t, h, inputs))
	hist := history(t, h)
	if len(hist.Queued) > 0 {
		// Not lost, but late: a resolve queued behind a trigger that
		// another run was delivering waits for the next run or flush.
		t.Logf("%d deliveries still queued after the runs; flushing", len(hist.Queued))
		mustCommand(t, h, 0, "flush")
		hist = history(t, h)
	}
	resolved := map[string]bool{} // keys whose clear found the incident open
	for _, e := range hist.History {
		if e.Outcome == "resolved" {
			resolved[e.Key] = true
		}
	}
	seq := map[string][]string{}
	for _, r := range harness.Accepted(h.PagerDuty.Events()) {
		seq[r.Event.DedupKey] = append(seq[r.Event.DedupKey], r.Event.EventAction)
	}
	for i := range n {
		key := cmonKey(strconv.Itoa(1000 + i))
		want := []string{"trigger"}
		if resolved[key] {
			want = append(want, "resolve")
		}
		if !slices.Equal(seq[key], want) {
			t.Errorf("%s: PagerDuty accepted %v, want %v", key, seq[key], want)
		}
	}
	if len(hist.Queued)+len(hist.DeadLetters) != 0 {
		t.Errorf("after flush: %d queued, %d dead letters", len(hist.Queued), len(hist.DeadLetters))
	}
	// Resolving must actually happen: with a hundred pairs released at
	// once, most clears come after their alarm. (Without this, a state
	// that never resolved would pass the loop above.)
	if len(resolved) < n/4 {
		t.Errorf("only %d of %d clears resolved an incident", len(resolved), n)
	}
	// And whatever was resolved is gone from the state: no incident left
	// open for a key whose clear found it.
	checked := 0
	for key := range resolved {
		if checked++; checked > 10 {
			break
		}
		ev := filepath.Join(t.TempDir(), "remove.json")
		os.WriteFile(ev, []byte(`{"source":"cmon","kind":"alarm","action":"remove","severity":"critical","key":"`+key+`","id":"x"}`), 0o644)
		if res := mustCommand(t, h, 0, "explain", "--format", "json", "--source", "json", "--event", ev); strings.Contains(res.Stdout, "resolves the incident") {
			t.Errorf("%s: an incident is still open after its resolve", key)
		}
	}
}

// TestE2EStateTwoNodes: every cluster node reports a node loss; with
// Redis shared by the nodes, it is one page and one Slack message.
func TestE2EStateTwoNodes(t *testing.T) {
	cases := []struct {
		name       string
		recipients int  // processes per node (Pacemaker runs one per recipient)
		redis      bool // nodes share Redis
		wantPages  int
	}{
		{"two nodes share redis", 1, true, 1},
		{"two nodes with three recipients each share redis", 3, true, 1},
		// The control: without shared state each node pages on its own,
		// so the cases above pass because of Redis, not by accident.
		{"two nodes without shared state", 1, false, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o harness.Options
			if c.redis {
				o.RedisURL = redistest.StartURL(t)
			}
			a := stateHarness(t, nodeLostPolicy, o)
			b, err := a.Node(t.TempDir(), o)
			if err != nil {
				t.Fatal(err)
			}
			if a.State == b.State {
				t.Fatalf("the nodes share the state file %s", a.State)
			}
			ctx := testCtx(t)
			var procs []*harness.Proc
			for _, node := range []*harness.Harness{a, b} {
				for r := range c.recipients {
					p, err := node.StartPacemaker(ctx, filepath.Join(examples, nodeLost), fmt.Sprintf("CRM_alert_recipient=r%d", r))
					if err != nil {
						t.Fatal(err)
					}
					procs = append(procs, p)
				}
			}
			wantClean(t, waitAll(t, procs))
			pd := a.PagerDuty.Events()
			if len(pd) != c.wantPages || len(harness.Accepted(pd)) != c.wantPages {
				t.Errorf("PagerDuty received %s, want %d accepted trigger(s)", harness.DescribePagerDuty(pd), c.wantPages)
			}
			for _, r := range pd {
				if r.Event.EventAction != "trigger" || r.Event.DedupKey != "pacemaker/default/node/vm2" {
					t.Errorf("PagerDuty got %s %q, want a trigger for pacemaker/default/node/vm2", r.Event.EventAction, r.Event.DedupKey)
				}
			}
			if sl := a.Slack.Messages(); len(sl) != c.wantPages {
				t.Errorf("Slack received %d messages, want %d", len(sl), c.wantPages)
			}
		})
	}
}

// syslogPolicy logs everything, with no suppression: only the recognition
// of one alert's several invocations keeps a line from being repeated.
const syslogPolicy = `
channels:
  local: {type: syslog}
rules:
  - name: everything
    when: "true"
    notify: [local]
`

// TestE2EStateRecipients: Pacemaker runs the agent once per recipient,
// all at once, with the same alert; each alert is delivered once however
// many recipients there are, and the next alert of the same key is
// delivered again.
func TestE2EStateRecipients(t *testing.T) {
	h := stateHarness(t, syslogPolicy, harness.Options{})
	ctx := testCtx(t)
	runAll := func(extra ...string) {
		t.Helper()
		var procs []*harness.Proc
		for r := range 4 {
			env := append([]string{fmt.Sprintf("CRM_alert_recipient=r%d", r), fmt.Sprintf("CRM_notify_recipient=r%d", r)}, extra...)
			p, err := h.StartPacemaker(ctx, filepath.Join(examples, "pacemaker/attribute-change.env"), env...)
			if err != nil {
				t.Fatal(err)
			}
			procs = append(procs, p)
		}
		wantClean(t, waitAll(t, procs))
		// Every connection closed: every message sent has been read.
		if err := h.Syslog.WaitIdle(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	runAll()
	if n := len(h.Syslog.Messages()); n != 1 {
		t.Fatalf("4 recipients of one alert: %d syslog messages, want 1", n)
	}
	runAll("CRM_alert_timestamp_usec=1", "CRM_notify_timestamp_usec=1") // the next alert
	if n := len(h.Syslog.Messages()); n != 2 {
		t.Fatalf("4 recipients of a second alert: %d syslog messages in all, want 2", n)
	}
	if got := history(t, h).Outcomes(); got["duplicate"] != 6 {
		t.Errorf("history outcomes %v, want 6 duplicates", got)
	}
}

// TestE2EStateFailOpen: when the state cannot be used the event is still
// delivered, stderr says what is wrong with the state, and the exit
// status is 1.
func TestE2EStateFailOpen(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	cases := []struct {
		name      string
		o         harness.Options
		wantInErr []string
	}{
		{"state directory missing", harness.Options{StatePath: filepath.Join(missing, "state.db")},
			[]string{"state unusable", missing, "no such file or directory"}},
		{"redis unreachable", harness.Options{RedisURL: "redis://" + apitest.ClosedAddr(t) + "/0"},
			[]string{"state unusable", "redis"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := stateHarness(t, pagerPolicy, c.o)
			res := mustRun(t, h, criticalAlarm, 1)
			for _, want := range c.wantInErr {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, res.Stderr)
				}
			}
			if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.EventAction != "trigger" {
				t.Errorf("PagerDuty accepted %s, want the trigger all the same", harness.DescribePagerDuty(got))
			}
		})
	}
}

// TestE2EStateHistoryNobody: a decision that tells nobody is in history
// too, saying why: dropped by a rule, or no rule matched.
func TestE2EStateHistoryNobody(t *testing.T) {
	h := stateHarness(t, `
channels:
  local: {type: syslog}
rules:
  - name: noise
    when: status == 1
    drop: true
  - name: nodes
    when: kind == "node"
    notify: [local]
`, harness.Options{})
	ctx := testCtx(t)
	for _, ev := range []string{"pacemaker/resource-monitor-cancelled.env", "pacemaker/attribute-change.env"} {
		if res, err := h.RunPacemaker(ctx, filepath.Join(examples, ev)); err != nil || res.Exit != 0 && res.Exit != 1 {
			t.Fatalf("%s: %v %+v", ev, err, res)
		}
	}
	got := history(t, h).Outcomes()
	if got["dropped"] != 1 || got["unmatched"] != 1 {
		t.Errorf("history outcomes %v, want one dropped and one unmatched", got)
	}
	out := mustCommand(t, h, 0, "history")
	if !strings.Contains(out.Stdout, "dropped by rule noise") || !strings.Contains(out.Stdout, "no rule matched") {
		t.Errorf("history:\n%s", out.Stdout)
	}
}
