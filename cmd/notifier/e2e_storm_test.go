package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/internal/apitest"
	"notifier/internal/harness"
	"notifier/internal/redistest"
)

// The storm features through the built binary, as CMON and Pacemaker run
// it, each scenario without an engine (every invocation decides its own
// event; what is held is told by the next run or `notifier flush`) and
// with `notifier serve` running (its timers tell it), with exact counts
// at the local PagerDuty, Slack (Web API: messages updated in place) and
// syslog.

// stormPolicy is the scenarios' policy: short windows, so that a test
// waits seconds, not minutes, for what a timer tells.
const stormPolicy = `
channels:
  pager:
    type: pagerduty
    rate: {max: 3, per: 4s}
  ops: {type: slack, token_file: slack.token}
  local: {type: syslog}
inhibit:
  - name: node-holds-resources
    source: source == "pacemaker" && kind == "node" && !ok
    target: source == "pacemaker" && kind == "resource"
    equal: [cluster, node]
rules:
  - name: pacemaker-noise
    when: source == "pacemaker" && (status == 1 || (kind == "resource" && task == "monitor" && ok))
    drop: true
  - name: fencing-done
    when: source == "pacemaker" && kind == "fencing" && ok
    notify: [ops]
  - name: storm
    when: source == "cmon" && severity == "critical"
    notify: [pager]
    group: {by: 'controller + "/" + string(cluster_id)', wait: 1s, interval: 5s}
  - name: critical
    when: severity == "critical"
    notify: [pager]
  - name: warning
    when: severity == "warning"
    notify: [ops]
    flapping: {changes: 4, within: 1m, quiet: 2s}
  - name: everything-else
    when: "true"
    notify: [local]
`

// stormRig is a harness with the storm policy, and an engine serving its
// spool when the scenario runs with one.
type stormRig struct {
	h   *harness.Harness
	eng *engineProc
}

func newStormRig(t *testing.T, withEngine bool, policy string, o harness.Options) *stormRig {
	t.Helper()
	h := stateHarness(t, policy, o)
	r := &stormRig{h: h}
	if withEngine {
		r.eng = startEngineOn(t, h.Config, h.Spool)
		go func() { // its log is not read here: never let it block
			for range r.eng.lines {
			}
		}()
	}
	return r
}

// modes runs a scenario without and with the engine.
func modes(t *testing.T, scenario func(t *testing.T, withEngine bool)) {
	t.Run("no engine", func(t *testing.T) { scenario(t, false) })
	t.Run("engine", func(t *testing.T) { scenario(t, true) })
}

// cmonAlarm is a CMON alarm message of cluster 1 with id and action.
func cmonAlarm(id int, action, severity, node string) []byte {
	return []byte(fmt.Sprintf(`{"type":"alarm","action":%q,"alarm":{"cid":1,"id":%d,"hostname":%q,"severity":%q,"type":"MySqlDisconnected","name":"MySQL server disconnected","message":"MySQL on %s disconnected"}}`,
		action, id, node, severity, node))
}

// runCMON runs the binary as CMON does with msg on stdin; it must exit 0.
func (r *stormRig) runCMON(t *testing.T, msg []byte) {
	t.Helper()
	p, err := r.h.StartCMON(testCtx(t), msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil || res.Exit != 0 {
		t.Fatalf("cmon run: exit %d, %v: %s", res.Exit, err, res.Stderr)
	}
}

// runPacemaker runs the binary as Pacemaker does for the sample file, with
// env overriding its variables; it must exit 0.
func (r *stormRig) runPacemaker(t *testing.T, sample string, env ...string) {
	t.Helper()
	res, err := r.h.RunPacemaker(testCtx(t), filepath.Join(examples, "pacemaker", sample), env...)
	if err != nil || res.Exit != 0 {
		t.Fatalf("pacemaker run %s: exit %d, %v: %s", sample, res.Exit, err, res.Stderr)
	}
}

// tick is what tells what is due without an engine: `notifier flush` (a
// systemd timer runs it every minute). With an engine it does nothing:
// the engine's own timers tell.
func (r *stormRig) tick(t *testing.T) {
	t.Helper()
	if r.eng == nil {
		mustCommand(t, r.h, 0, "flush")
	}
}

// await ticks until cond holds, at most bound: what a timer tells comes
// when its time has come.
func (r *stormRig) await(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; PagerDuty: %s", bound, what, harness.DescribePagerDuty(r.h.PagerDuty.Events()))
		}
		r.tick(t)
		time.Sleep(50 * time.Millisecond) // polling what a timer does, not synchronising on a guess
	}
}

// pagerCount counts what PagerDuty accepted with the dedup key and action.
func pagerCount(h *harness.Harness, key, action string) int {
	n := 0
	for _, e := range harness.Accepted(h.PagerDuty.Events()) {
		if (key == "" || e.Event.DedupKey == key) && (action == "" || e.Event.EventAction == action) {
			n++
		}
	}
	return n
}

// members is what a PagerDuty event's custom_details list.
func members(e apitest.PagerDutyRequest) []string {
	if e.Event.Payload == nil {
		return nil
	}
	raw, _ := json.Marshal(e.Event.Payload.CustomDetails["members"])
	var out []string
	json.Unmarshal(raw, &out)
	return out
}

// TestE2EStormGroupsIntoOnePage: 30 critical alarms of one cluster make
// one PagerDuty incident keyed by the cluster's group, its members in
// custom_details (not 30 pages), updated as a whole; it resolves when the
// last alarm clears, not before.
func TestE2EStormGroupsIntoOnePage(t *testing.T) {
	modes(t, func(t *testing.T, withEngine bool) {
		r := newStormRig(t, withEngine, stormPolicy, harness.Options{})
		host, _ := os.Hostname()
		group := "group/storm/" + host + "/1"
		const n = 30
		for i := 1; i <= n; i++ {
			r.runCMON(t, cmonAlarm(i, "new", "ALARM_CRITICAL", fmt.Sprintf("db%d", i)))
		}
		// Without an engine the first alarm pages at once (a group of
		// one) and the others wait for the interval; with one, all of them
		// are in the first page, after the group's wait.
		want := 2
		if withEngine {
			want = 1
		}
		r.await(t, 20*time.Second, "the group's page listing every alarm", func() bool { return pagerCount(r.h, group, "trigger") >= want })
		got := harness.Accepted(r.h.PagerDuty.Events())
		if len(got) != want || got[want-1].Event.DedupKey != group || len(members(got[want-1])) != n {
			t.Fatalf("PagerDuty accepted %s; want %d trigger(s) of %s, the last listing %d members", harness.DescribePagerDuty(got), want, group, n)
		}
		if !strings.Contains(got[want-1].Event.Payload.Summary, fmt.Sprintf("%d alerts", n)) {
			t.Errorf("digest summary %q", got[want-1].Event.Payload.Summary)
		}
		for i := 1; i < n; i++ {
			r.runCMON(t, cmonAlarm(i, "remove", "ALARM_CRITICAL", fmt.Sprintf("db%d", i)))
		}
		if c := pagerCount(r.h, group, "resolve"); c != 0 {
			t.Fatalf("resolved with an alarm still open")
		}
		r.runCMON(t, cmonAlarm(n, "remove", "ALARM_CRITICAL", fmt.Sprintf("db%d", n)))
		r.await(t, 10*time.Second, "the group's resolve", func() bool { return pagerCount(r.h, group, "resolve") == 1 })
		// Exactly: the triggers above, then the one resolve (the clears
		// came within the interval: no update between).
		if total := len(harness.Accepted(r.h.PagerDuty.Events())); total != want+1 {
			t.Errorf("PagerDuty accepted %d events, want %d: %s", total, want+1, harness.DescribePagerDuty(r.h.PagerDuty.Events()))
		}
	})
}

// TestE2EFailoverPagesOnceResolvesOnce is the held-out check from the real
// Pacemaker samples: a node is lost (every node reports it), it is fenced
// (every node reports that too), its resource fails, the resource starts
// elsewhere, the node comes back. The pager is told once and resolved
// once; the fencing reaches Slack once; the resource that failed with the
// node is held and told when the node is back, since it still failed.
func TestE2EFailoverPagesOnceResolvesOnce(t *testing.T) {
	modes(t, func(t *testing.T, withEngine bool) {
		r := newStormRig(t, withEngine, stormPolicy, harness.Options{})
		node := "pacemaker/default/node/vm2"
		t0 := 1795302001
		at := func(s int) string { return fmt.Sprintf("CRM_alert_timestamp_epoch=%d", t0+s) }
		r.runPacemaker(t, "node-lost-cluster-node-crash.env", at(0))
		r.runPacemaker(t, "node-lost-cluster-node-crash.env", at(1), "CRM_alert_recipient=other", "CRM_alert_node_sequence=99") // another node's report
		fence := []string{"CRM_alert_node=vm2", "CRM_alert_desc=Operation reboot of vm2 by vm for pacemaker-controld: OK"}
		r.runPacemaker(t, "fencing-reboot-ok-remote-node-crash.env", append(fence, at(3))...)
		r.runPacemaker(t, "fencing-reboot-ok-remote-node-crash.env", append(fence, at(4), "CRM_alert_recipient=other")...)
		r.runPacemaker(t, "resource-monitor-fail.env", "CRM_alert_node=vm2", at(5)) // what ran there
		r.runPacemaker(t, "resource-start-ok.env", at(8))                           // on the survivor
		r.await(t, 10*time.Second, "the node's page", func() bool { return pagerCount(r.h, node, "trigger") == 1 })
		r.await(t, 10*time.Second, "the fencing in Slack", func() bool { return len(r.h.Slack.Messages()) == 1 })
		r.runPacemaker(t, "node-member-cluster-node.env", at(300))
		r.await(t, 10*time.Second, "the node's resolve", func() bool { return pagerCount(r.h, node, "resolve") == 1 })
		r.await(t, 10*time.Second, "the held resource, told once its node is back", func() bool { return len(r.h.Slack.Messages()) == 2 })
		if pd := harness.Accepted(r.h.PagerDuty.Events()); len(pd) != 2 {
			t.Errorf("PagerDuty accepted %s; want the node's trigger and its resolve only", harness.DescribePagerDuty(pd))
		}
		slack := r.h.Slack.Messages()
		if len(slack) != 2 || !strings.Contains(slack[0].Text, "vm2") || !strings.Contains(slack[1].Text, "d1") {
			t.Errorf("Slack: %+v; want the fencing of vm2, then d1's failure on vm2", slack)
		}
	})
}

// TestE2EFlappingIsDamped: a warning raised and cleared again and again
// reaches Slack as it changes until the fourth change, which says it
// flaps; then nothing, until it has stayed cleared for the quiet time,
// when its resolve is sent.
func TestE2EFlappingIsDamped(t *testing.T) {
	modes(t, func(t *testing.T, withEngine bool) {
		r := newStormRig(t, withEngine, stormPolicy, harness.Options{})
		for i := range 6 {
			file := "resource-monitor-fail.env"
			if i%2 == 1 {
				file = "resource-recovery-start-after-monitor-fail.env"
			}
			r.runPacemaker(t, file, fmt.Sprintf("CRM_alert_timestamp_epoch=%d", 1795302001+i))
		}
		// raise, resolve, raise, "flapping" (the 4th change), then held.
		r.await(t, 10*time.Second, "four Slack messages", func() bool { return len(r.h.Slack.Messages()) >= 4 })
		msgs := r.h.Slack.Messages()
		if !strings.Contains(msgs[3].Text, "FLAPPING") {
			t.Errorf("the 4th Slack message %q, want the flapping notice", msgs[3].Text)
		}
		// Cleared since the 6th: after 2 quiet seconds its resolve.
		r.await(t, 15*time.Second, "the resolve after the quiet time", func() bool { return len(r.h.Slack.Messages()) >= 5 })
		msgs = r.h.Slack.Messages()
		if len(msgs) != 5 || msgs[4].Method != "update" || !strings.Contains(msgs[4].Text, "Resolved") {
			t.Errorf("Slack: %d messages, the last %+v; want 5, the last an update resolving the alert", len(msgs), msgs[len(msgs)-1])
		}
	})
}

// TestE2ERateCapHoldsAndDigests: five distinct pages within the pager's
// window of 3 per 4 s: three are sent, the other two are held and sent as
// one digest when the window allows; nothing is dropped.
func TestE2ERateCapHoldsAndDigests(t *testing.T) {
	modes(t, func(t *testing.T, withEngine bool) {
		r := newStormRig(t, withEngine, stormPolicy, harness.Options{})
		for i := range 5 {
			r.runPacemaker(t, "fencing-fail-no-device.env", fmt.Sprintf("CRM_alert_node=n%d", i))
		}
		r.await(t, 10*time.Second, "three pages", func() bool { return pagerCount(r.h, "", "trigger") >= 3 })
		r.await(t, 15*time.Second, "the rate cap's digest", func() bool { return pagerCount(r.h, "rate-cap/pager", "trigger") == 1 })
		pd := harness.Accepted(r.h.PagerDuty.Events())
		if len(pd) != 4 || len(members(pd[3])) != 2 || !strings.Contains(pd[3].Event.Payload.Summary, "2 more alerts held by the rate cap of pager") {
			t.Errorf("PagerDuty accepted %s; want 3 pages, then one digest of the 2 held", harness.DescribePagerDuty(pd))
		}
	})
}

// TestE2ESilenceEndNotifies: an alarm that arrives during a silence, and is
// still open when the silence ends, is paged then, once.
func TestE2ESilenceEndNotifies(t *testing.T) {
	modes(t, func(t *testing.T, withEngine bool) {
		r := newStormRig(t, withEngine, stormPolicy, harness.Options{})
		mustCommand(t, r.h, 0, "silence", "add", "--match", `kind == "fencing"`, "--for", "2s", "--comment", "maintenance")
		r.runPacemaker(t, "fencing-fail-no-device.env")
		if n := len(r.h.PagerDuty.Events()); n != 0 {
			t.Fatalf("paged during the silence")
		}
		r.await(t, 15*time.Second, "the page once the silence ended", func() bool { return pagerCount(r.h, "", "trigger") == 1 })
		r.tick(t)
		if n := len(r.h.PagerDuty.Events()); n != 1 {
			t.Errorf("PagerDuty received %d events, want the one page", n)
		}
	})
}

// TestE2ESilenceExpiredEarly: an alarm held by a silence that is expired
// before its time is paged then, not at the silence's old end.
func TestE2ESilenceExpiredEarly(t *testing.T) {
	modes(t, func(t *testing.T, withEngine bool) {
		r := newStormRig(t, withEngine, stormPolicy, harness.Options{})
		add := mustCommand(t, r.h, 0, "silence", "add", "--match", `kind == "fencing"`, "--for", "1h", "--comment", "maintenance")
		id := strings.Fields(add.Stdout)[len(strings.Fields(add.Stdout))-1]
		r.runPacemaker(t, "fencing-fail-no-device.env")
		out := mustCommand(t, r.h, 0, "silence", "expire", id)
		if !strings.Contains(out.Stdout, "1 held alert(s)") {
			t.Errorf("silence expire printed %q, want the held alert counted", out.Stdout)
		}
		r.await(t, 15*time.Second, "the page once the silence was expired", func() bool { return pagerCount(r.h, "", "trigger") == 1 })
	})
}

// TestE2ECrossNodeDedupRedis: two cluster nodes sharing Redis each report
// the same node loss, a second apart, with a policy without suppress: one
// page.
func TestE2ECrossNodeDedupRedis(t *testing.T) {
	url := redistest.StartURL(t)
	r := newStormRig(t, false, stormPolicy, harness.Options{RedisURL: url})
	other, err := r.h.Node(t.TempDir(), harness.Options{RedisURL: url})
	if err != nil {
		t.Fatal(err)
	}
	lost := filepath.Join(examples, "pacemaker", "node-lost-cluster-node-crash.env")
	for i, h := range []*harness.Harness{r.h, other} {
		res, err := h.RunPacemaker(testCtx(t), lost, fmt.Sprintf("CRM_alert_timestamp_epoch=%d", 1795302001+i))
		if err != nil || res.Exit != 0 {
			t.Fatalf("node %d: exit %d, %v: %s", i, res.Exit, err, res.Stderr)
		}
	}
	if n := pagerCount(r.h, "pacemaker/default/node/vm2", "trigger"); n != 1 || len(r.h.PagerDuty.Events()) != 1 {
		t.Errorf("PagerDuty: %s; want one page for the node loss both nodes reported", harness.DescribePagerDuty(r.h.PagerDuty.Events()))
	}
}

// TestE2EFailoverShippedPolicy is the failover with the shipped policy,
// as it is installed: the node's loss is paged once, as its cluster's
// group (with the engine, after the group's 30 s wait), and resolved once
// when the node is back; the fencing goes to Slack, once; the resource
// that failed with the node is held, and told (Slack) once the node is
// back, since it still failed.
func TestE2EFailoverShippedPolicy(t *testing.T) {
	shipped, err := os.ReadFile(defaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	modes(t, func(t *testing.T, withEngine bool) {
		r := newStormRig(t, withEngine, string(shipped), harness.Options{})
		group := "group/critical/pacemaker/default"
		at := func(s int) string { return fmt.Sprintf("CRM_alert_timestamp_epoch=%d", 1795302001+s) }
		r.runPacemaker(t, "node-lost-cluster-node-crash.env", at(0))
		r.runPacemaker(t, "node-lost-cluster-node-crash.env", at(1), "CRM_alert_recipient=other", "CRM_alert_node_sequence=99")
		fence := []string{"CRM_alert_node=vm2", "CRM_alert_desc=Operation reboot of vm2 by vm for pacemaker-controld: OK"}
		r.runPacemaker(t, "fencing-reboot-ok-remote-node-crash.env", append(fence, at(3))...)
		r.runPacemaker(t, "fencing-reboot-ok-remote-node-crash.env", append(fence, at(4), "CRM_alert_recipient=other")...)
		r.runPacemaker(t, "resource-monitor-fail.env", "CRM_alert_node=vm2", at(5))
		r.runPacemaker(t, "resource-start-ok.env", at(8))
		r.await(t, 60*time.Second, "the cluster's page", func() bool { return pagerCount(r.h, group, "trigger") == 1 })
		r.runPacemaker(t, "node-member-cluster-node.env", at(300))
		r.await(t, 10*time.Second, "the page's resolve", func() bool { return pagerCount(r.h, group, "resolve") == 1 })
		r.await(t, 10*time.Second, "the fencing and the held resource in Slack", func() bool { return len(r.h.Slack.Messages()) == 2 })
		if pd := harness.Accepted(r.h.PagerDuty.Events()); len(pd) != 2 || len(members(pd[0])) != 1 {
			t.Errorf("PagerDuty accepted %s; want one page (the node) and its resolve", harness.DescribePagerDuty(pd))
		}
	})
}
