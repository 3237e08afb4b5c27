package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/internal/harness"
)

// The end-to-end tests build the real binary and run it exactly as CMON
// and Pacemaker do, against local endpoints that speak the real APIs.

var binary string // built once in TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "notifier-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "notifier")
	// notifier-engine beside it, as installed: `notifier serve` runs it.
	for _, b := range [][]string{{"-o", binary}, {"-tags", "engine", "-o", filepath.Join(dir, "notifier-engine")}} {
		build := exec.Command("go", append(append([]string{"build"}, b...), ".")...)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building notifier: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	examples      = "../../examples/events"
	defaultPolicy = "../../policies/default.yaml"
)

func newHarness(t *testing.T) *harness.Harness {
	t.Helper()
	h, err := harness.New(binary, defaultPolicy, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustRun(t *testing.T, h *harness.Harness, file string, wantExit int) harness.Result {
	t.Helper()
	res, err := h.Run(testCtx(t), filepath.Join(examples, file))
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != wantExit {
		t.Fatalf("%s: exit %d, want %d; stderr: %s", file, res.Exit, wantExit, res.Stderr)
	}
	if res.Stdout != "" {
		t.Errorf("%s: run printed on stdout: %q", file, res.Stdout)
	}
	return res
}

func TestE2ECMONTriggerAndExactResolve(t *testing.T) {
	h := newHarness(t)
	host, _ := os.Hostname()
	// The shipped policy pages a cluster's criticals as one group: a
	// group of one reads as its alarm, keyed by the group.
	wantKey := "group/critical/" + host + "/1"

	mustRun(t, h, "cmon/alarm-new-critical.json", 0)
	mustRun(t, h, "cmon/alarm-remove-critical.json", 0)
	mustRun(t, h, "cmon/alarm-new-warning.json", 0)

	got := h.PagerDuty.Events()
	if len(got) != 2 {
		t.Fatalf("PagerDuty received %d events, want a trigger and a resolve: %+v", len(got), got)
	}
	trig, res := got[0], got[1]
	if trig.Status != 202 || res.Status != 202 {
		t.Errorf("statuses %d, %d; want 202 (errors %v %v)", trig.Status, res.Status, trig.Errors, res.Errors)
	}
	if trig.Event.EventAction != "trigger" || trig.Event.DedupKey != wantKey {
		t.Errorf("first event = %s %q, want trigger %q", trig.Event.EventAction, trig.Event.DedupKey, wantKey)
	}
	if res.Event.EventAction != "resolve" || res.Event.DedupKey != wantKey {
		t.Errorf("second event = %s %q, want resolve %q", res.Event.EventAction, res.Event.DedupKey, wantKey)
	}
	if trig.Event.RoutingKey != harness.RoutingKey {
		t.Errorf("routing key from routing_key_file did not reach the wire")
	}
	p := trig.Event.Payload
	if p == nil || p.Severity != "critical" || !strings.Contains(p.Summary, "MySQL server disconnected") || p.Class != "MySqlDisconnected" {
		t.Errorf("trigger payload = %+v", p)
	}
	if p != nil && p.CustomDetails["recommendation"] != "Check error log of failed mysql server." {
		t.Errorf("custom_details lacks the recommendation: %v", p.CustomDetails)
	}
	slack := h.Slack.Messages()
	if len(slack) != 1 || !strings.Contains(slack[0].Text, "MySQL replication lag") {
		t.Errorf("Slack received %+v, want the replication-lag warning", slack)
	}
}

func TestE2EPacemaker(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	// Node loss is reported by every node: two invocations with different
	// sequence numbers and recipients must describe one incident.
	lost := filepath.Join(examples, "pacemaker/node-lost-cluster-node-crash.env")
	for _, extra := range [][]string{nil, {"CRM_alert_node_sequence=99", "CRM_alert_recipient=other", "CRM_notify_node_sequence=99"}} {
		res, err := h.RunPacemaker(ctx, lost, extra...)
		if err != nil || res.Exit != 0 {
			t.Fatalf("node lost: exit %d, %v, %s", res.Exit, err, res.Stderr)
		}
	}
	mustRun(t, h, "pacemaker/resource-monitor-cancelled.env", 0)
	mustRun(t, h, "pacemaker/resource-monitor-ok-first-recurring.env", 0)
	mustRun(t, h, "pacemaker/resource-monitor-fail.env", 0)
	mustRun(t, h, "pacemaker/resource-recovery-start-after-monitor-fail.env", 0)

	// The second copy of the node loss is the same incident: a duplicate.
	// The shipped policy pages it as its cluster's group.
	pd := h.PagerDuty.Events()
	if len(pd) != 1 || pd[0].Event.DedupKey != "group/critical/pacemaker/default" {
		t.Fatalf("PagerDuty = %s, want one trigger with key group/critical/pacemaker/default", harness.DescribePagerDuty(pd))
	}
	// The monitor failure went to Slack only, so its recovery resolves
	// exactly there: a green message, nothing to PagerDuty or syslog.
	slack := h.Slack.Messages()
	if len(slack) != 2 || !strings.Contains(slack[0].Text, "resource d1 monitor on vm failed") || !strings.Contains(slack[1].Text, "Resolved") {
		t.Errorf("Slack = %+v, want the monitor failure, then its resolve (cancelled and routine monitors are dropped)", slack)
	}
	if n := h.Syslog.Accepted(); n != 0 {
		t.Errorf("syslog got %d connections, want none", n)
	}
}

// TestE2EEveryExample runs every example event and checks that what the
// endpoints received is exactly what explain predicted for it.
func TestE2EEveryExample(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	files, err := harness.Events(examples)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, f := range files {
		x, err := h.Explain(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range x.Deliveries {
			want[d.Type]++
		}
		rel, _ := filepath.Rel(examples, f)
		mustRun(t, h, rel, 0)
	}
	logs, err := h.Syslog.Wait(want["syslog"], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{"pagerduty": len(h.PagerDuty.Events()), "slack": len(h.Slack.Messages()), "syslog": len(logs)}
	for typ, n := range got {
		if n != want[typ] {
			t.Errorf("%s received %d, explain predicted %d", typ, n, want[typ])
		}
	}
	if want["pagerduty"] == 0 || want["slack"] == 0 || want["syslog"] == 0 {
		t.Errorf("the examples should reach every channel type: %v", want)
	}
}

func TestE2EPacemakerNeverReadsStdin(t *testing.T) {
	h := newHarness(t)
	// An inherited stdin that never closes: a run that read it would hang
	// until its deadline instead of delivering.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	data, _ := os.ReadFile(filepath.Join(examples, "pacemaker/node-lost-cluster-node-crash.env"))
	env := strings.Split(strings.TrimSpace(string(data)), "\n")
	cmd := exec.CommandContext(testCtx(t), h.Bin)
	cmd.Env = append(env, h.Env()...)
	cmd.Stdin = r // an *os.File: handed to the child as is
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v: %s", err, out)
	}
	if n := len(h.PagerDuty.Events()); n != 1 {
		t.Errorf("PagerDuty received %d events, want 1", n)
	}
}

func TestE2EFailures(t *testing.T) {
	t.Run("retry until accepted", func(t *testing.T) {
		h := newHarness(t)
		h.PagerDuty.FailNext(1, 503, "")
		h.PagerDuty.FailNext(1, 429, "1")
		mustRun(t, h, "cmon/alarm-new-critical.json", 0)
		ev := h.PagerDuty.Events()
		if len(ev) != 3 || ev[0].Status != 503 || ev[1].Status != 429 || ev[2].Status != 202 {
			t.Errorf("attempts = %+v, want 503, 429, 202", ev)
		}
	})
	t.Run("rejected event names the channel and PagerDuty's reason", func(t *testing.T) {
		h := newHarness(t)
		h.PagerDuty.FailNext(1, 400, "")
		res := mustRun(t, h, "cmon/alarm-new-critical.json", 1)
		line := strings.TrimSpace(res.Stderr)
		if strings.Count(line, "\n") != 0 || !strings.Contains(line, `channel "pager"`) || !strings.Contains(line, "Event object is invalid") {
			t.Errorf("stderr = %q, want one line naming the channel and PagerDuty's text", res.Stderr)
		}
		if strings.Contains(res.Stderr, harness.RoutingKey) {
			t.Errorf("routing key leaked to stderr")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		h := newHarness(t)
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(`{"type":"alarm","action":"new","alarm":{"id":1`), 0o644)
		res, err := h.RunCMON(testCtx(t), bad)
		if err != nil {
			t.Fatal(err)
		}
		if res.Exit != 2 || !strings.Contains(res.Stderr, "truncated") || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 2 and one line saying the input is truncated", res.Exit, res.Stderr)
		}
		if len(h.PagerDuty.Events())+len(h.Slack.Messages()) != 0 {
			t.Errorf("something was delivered for bad input")
		}
	})
	t.Run("broken policy", func(t *testing.T) {
		h := newHarness(t)
		os.WriteFile(h.Config, []byte("rules:\n  - name: x\n    when: severity ==\n    notify: [nobody]\n"), 0o644)
		res := mustRun(t, h, "cmon/alarm-new-critical.json", 2)
		for _, want := range []string{h.Config + ":3:", h.Config + ":4:14: rule \"x\": channel \"nobody\" is not defined"} {
			if !strings.Contains(res.Stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
			}
		}
	})
}
