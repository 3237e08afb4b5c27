//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"notifier/internal/apitest"
)

// cluster is a real single-node Pacemaker cluster (e2e/cluster.sh) whose
// one alert runs the installed notifier (or notifier-drop) with
// NOTIFIER_CONFIG given as an instance attribute, for each of its
// recipients.
type cluster struct {
	dir  string
	node string
}

// pacemakerLog is where the Pacemaker daemons log, for every cluster run here.
const pacemakerLog = "/var/log/pacemaker/pacemaker.log"

// clusterDir is the cluster's state: fixed, so a run killed before its
// cleanup leaves the next one what to stop (stopLeftovers).
const clusterDir = runDir + "/cluster"

// startCluster starts the cluster with its alert running agent for each
// of recipients, with NOTIFIER_CONFIG=policy and attrs as instance
// attributes (the agent's environment).
func startCluster(t *testing.T, policy string, recipients int, agent string, attrs map[string]string) *cluster {
	t.Helper()
	node, _ := os.Hostname()
	c := &cluster{dir: clusterDir, node: node}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var rcpt string
	for i := 1; i <= recipients; i++ {
		rcpt += fmt.Sprintf(`<recipient id="notifier-r%d" value="recipient-%d"/>`, i, i)
	}
	nvpairs := `<nvpair id="notifier-options-config" name="NOTIFIER_CONFIG" value="` + policy + `"/>`
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		nvpairs += `<nvpair id="notifier-options-` + strings.ToLower(name) + `" name="` + name + `" value="` + attrs[name] + `"/>`
	}
	alerts := `<alerts><alert id="notifier" path="` + agent + `">` +
		`<select><select_nodes/><select_fencing/><select_resources/><select_attributes><attribute id="notifier-e2e-attr" name="e2e_attr"/></select_attributes></select>` +
		`<instance_attributes id="notifier-options">` + nvpairs + `</instance_attributes>` +
		rcpt + `</alert></alerts>`
	resources := `<primitive id="dummy1" class="ocf" provider="pacemaker" type="Dummy">` +
		`<instance_attributes id="dummy1-ia"><nvpair id="dummy1-state" name="state" value="` + c.dummyState() + `"/></instance_attributes><operations>` +
		`<op id="dummy1-monitor-3s" name="monitor" interval="3s" timeout="20s"/></operations></primitive>` +
		`<primitive id="fencer" class="stonith" type="fence_dummy"><instance_attributes id="fencer-ia">` +
		`<nvpair id="fencer-hosts" name="pcmk_host_list" value="fakenode"/></instance_attributes></primitive>`
	os.WriteFile(filepath.Join(c.dir, "alerts.xml"), []byte(alerts), 0o644)
	os.WriteFile(filepath.Join(c.dir, "resources.xml"), []byte(resources), 0o644)
	// The log is shared with every cluster this machine ran: a failure
	// shows this test's lines only.
	logFrom := fileSize(pacemakerLog)
	t.Cleanup(func() {
		if t.Failed() {
			lines := linesFrom(pacemakerLog, logFrom)
			t.Logf("pacemaker.log (this test's last lines):\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
		if err := c.script("down"); err != nil {
			t.Error(err)
		}
	})
	if err := c.script("up"); err != nil {
		// The daemons of the cluster just torn down can take a moment to
		// let go of their IPC: one more try, and say so.
		t.Logf("cluster.sh up failed, trying once more: %v", err)
		if err := c.script("up"); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestClusterStartWaitsForPacemakerd: cluster.sh starts pacemakerd through
// setsid, env and sh, each exec'ing the next, so its PID has other names
// first. A start slow to reach pacemakerd (a loaded machine; here a
// defaults file that takes a while to read) is waited for, not taken for
// a dead daemon and stopped.
func TestClusterStartWaitsForPacemakerd(t *testing.T) {
	defaults := filepath.Join(t.TempDir(), "pacemaker")
	slow := "sleep 2\n[ -r /etc/default/pacemaker ] && . /etc/default/pacemaker\n"
	if err := os.WriteFile(defaults, []byte(slow), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_PACEMAKER_DEFAULTS", defaults)
	policy, _ := policySetup(t, "e2e-cluster-start", newEndpoints(t))
	c := startCluster(t, policy, 1, installed, nil)
	c.run(t, "crm_mon", "-1")
}

// dummyState is dummy1's state file: the Dummy agent's monitor says "not
// running" when it is gone.
func (c *cluster) dummyState() string { return filepath.Join(c.dir, "dummy1.state") }

func (c *cluster) script(verb string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "e2e", "cluster.sh"), verb)
	cmd.Env = append(os.Environ(), "E2E_CLUSTER_DIR="+c.dir, "E2E_ALERTS_XML="+filepath.Join(c.dir, "alerts.xml"),
		"E2E_RESOURCES_XML="+filepath.Join(c.dir, "resources.xml"), "E2E_STONITH=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("cluster.sh %s: %v\n%s", verb, err, out)
	}
	return nil
}

// run runs a Pacemaker command-line tool.
func (c *cluster) run(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// quiet waits until the cluster is idle and no alert agent runs: nothing
// more is on its way.
func (c *cluster) quiet(t *testing.T) {
	t.Helper()
	var last string // what was not idle, for the failure message
	idle := func() bool {
		out, _ := exec.Command("crmadmin", "-q", "-S", c.node).CombinedOutput()
		// Alert agents run as hacluster: a notifier run by anything else
		// on this machine (a test of the binary) is not the cluster's.
		agents := agentsRunning()
		last = fmt.Sprintf("controller: %s; alert agents running: %q", strings.TrimSpace(string(out)), agents)
		return strings.Contains(string(out), "S_IDLE") && agents == ""
	}
	// Idle twice, a moment apart: a transition may start right after one.
	if !poll(2*time.Minute, func() bool {
		if !idle() {
			return false
		}
		time.Sleep(2 * time.Second)
		return idle()
	}) {
		t.Fatalf("waited 2m0s for the cluster to settle; last: %s", last)
	}
}

// key is the event key of a resource, attribute or fencing target here.
func key(kind, node, name string) string {
	if kind == "fencing" {
		return "pacemaker/default/fencing/" + name
	}
	return "pacemaker/default/" + kind + "/" + node + "/" + name
}

// TestPacemaker drives real events through a real cluster whose alert
// runs the installed notifier (as hacluster) with the shipped policy, and
// checks exactly what reached PagerDuty, Slack and rsyslog: failures go
// where the policy says, the recovery resolves what the failure opened
// (Slack's own message updated), Cancelled and routine monitor results
// are dropped. With two recipients every alert runs notifier twice at
// once: still one delivery per key.
//
// Each round runs both ways: without an engine (every agent decides its
// own event, as before the engine) and with the installed `notifier
// serve` running as the packages' user, which must decide every event
// and deliver exactly the same. The alert's path is notifier-drop (as the
// examples install it) or notifier itself, each way.
func TestPacemaker(t *testing.T) {
	rounds := []struct {
		recipients int
		agent      string
		engine     bool
	}{
		{1, installed, false},
		{2, installedDrop, false},
		{1, installedDrop, true},
		{2, installed, true},
	}
	for _, r := range rounds {
		t.Run(fmt.Sprintf("%d recipients, %s", r.recipients, describeMode(filepath.Base(r.agent), r.engine)), func(t *testing.T) {
			pacemakerRound(t, r.recipients, r.agent, r.engine)
		})
	}
}

func pacemakerRound(t *testing.T, recipients int, agent string, withEngine bool) {
	e := newEndpoints(t)
	name := fmt.Sprintf("e2e-pacemaker-%d-%s", recipients, filepath.Base(agent))
	if withEngine {
		name += "-engine"
	}
	policy, audit := policySetup(t, name, e)
	syslogBefore := len(rsyslog.lines("local.log"))
	logBefore := fileSize(pacemakerLog)
	var eng *e2eEngine
	var attrs map[string]string
	if withEngine {
		eng = startEngine(t, policy)
		// Far beyond the engine's answer: every event is handed to it (a
		// decline or a missing engine is answered at once all the same).
		attrs = map[string]string{"NOTIFIER_CLAIM_WAIT": "10s"}
	}
	c := startCluster(t, policy, recipients, agent, attrs)
	dummy1, dummy2 := key("resource", c.node, "dummy1"), key("resource", c.node, "dummy2")
	attr, fence := key("attribute", c.node, "e2e_attr"), key("fencing", "", "fakenode")
	auditFor := func(k string) []auditLine {
		var out []auditLine
		for _, a := range readAudit(t, audit) {
			if a.Key == k {
				out = append(out, a)
			}
		}
		return out
	}

	// 1. The resource starts: a recovery of nothing reported, and the
	// first result of its recurring monitor: nobody is told.
	waitFor(t, time.Minute, "dummy1's start and first monitor", func() bool { return len(auditFor(dummy1)) >= 2*recipients })

	// 2. A real monitor failure: the Dummy agent's state file goes away,
	// its monitor says "not running"; Pacemaker stops and starts it.
	if err := os.Remove(c.dummyState()); err != nil {
		t.Fatalf("dummy1's state file: %v", err)
	}
	waitFor(t, 2*time.Minute, "the monitor failure in Slack and its resolve", func() bool {
		return len(slackFor(e.slack, "dummy1")) >= 2
	})

	// 3. A start failure.
	c.run(t, "cibadmin", "--create", "-o", "resources", "--xml-text",
		`<primitive id="dummy2" class="ocf" provider="pacemaker" type="Dummy"><instance_attributes id="dummy2-ia">`+
			`<nvpair id="dummy2-fail" name="fail_start_on" value="`+c.node+`"/></instance_attributes></primitive>`)
	waitFor(t, 2*time.Minute, "the start failure in Slack", func() bool { return len(slackFor(e.slack, "dummy2")) >= 1 })

	// 4. Fencing of a node that is not there, through fence_dummy: it
	// succeeds, which the shipped policy tells Slack (fencing-done), not
	// the pager (a node's loss pages; its fencing is the cluster doing
	// its job).
	c.run(t, "stonith_admin", "--fence", "fakenode", "--timeout", "60")
	waitFor(t, time.Minute, "the fencing in Slack", func() bool { return len(slackFor(e.slack, "fakenode")) >= 1 })

	// 5. An attribute change (selected with select_attributes).
	c.run(t, "attrd_updater", "-n", "e2e_attr", "-U", "42", "-N", c.node)
	waitFor(t, time.Minute, "the attribute change in syslog", func() bool {
		return len(rsyslog.matching("local.log", "key="+attr)) >= 1
	})
	c.quiet(t)
	if withEngine {
		// The engine decided every event: each agent's entry was claimed
		// on its wake-up, and each decision wrote one audit line.
		st := eng.idle(t)
		if n := len(readAudit(t, audit)); n == 0 || st.Claimed != uint64(n) {
			t.Errorf("the engine claimed %d entries; the audit log holds %d decisions: want every one decided by the engine", st.Claimed, n)
		} else {
			t.Logf("the engine (uid %d) claimed and decided all %d alerts", eng.uid, n)
		}
	} else {
		spoolIdle(t)
	}

	// The agent ran as Pacemaker runs agents: as hacluster, whose files
	// these are (the state directory is root:haclient 2770); with the
	// engine, they are the engine's user's.
	wantOwner, who := "", "hacluster"
	if withEngine {
		wantOwner, who = fmt.Sprint(eng.uid), "the engine's user"
	} else if u, err := user.Lookup("hacluster"); err == nil {
		wantOwner = u.Uid
	}
	if st, err := os.Stat(audit); err != nil {
		t.Error(err)
	} else if fmt.Sprint(st.Sys().(*syscall.Stat_t).Uid) != wantOwner {
		t.Errorf("the audit log is owned by uid %d, want %s (%s)", st.Sys().(*syscall.Stat_t).Uid, who, wantOwner)
	}
	// PagerDuty: nothing here was critical.
	if pd := e.pd.Events(); len(pd) != 0 {
		t.Errorf("PagerDuty received %d requests, want none: %+v", len(pd), pd)
	}
	// Slack: the fencing, once, from the fencing-done rule.
	if sf := slackFor(e.slack, "fakenode"); len(sf) != 1 || sf[0].Method != "postMessage" {
		t.Errorf("Slack for the fencing of %s: %s; want one postMessage", fence, describeSlack(sf))
	}
	// Slack: the monitor failure posted, then that very message updated
	// when the start resolved it; the start failure posted.
	s1, s2 := slackFor(e.slack, "dummy1"), slackFor(e.slack, "dummy2")
	if len(s1) != 2 || s1[0].Method != "postMessage" || s1[1].Method != "update" || s1[1].TS != s1[0].TS {
		t.Errorf("Slack for dummy1: %s; want a postMessage, then an update of it", describeSlack(s1))
	}
	if len(s2) != 1 || s2[0].Method != "postMessage" {
		t.Errorf("Slack for dummy2: %s; want one postMessage", describeSlack(s2))
	}
	if n := len(e.slack.Messages()); n != 4 {
		t.Errorf("Slack received %d messages in all, want 4: %s", n, describeSlack(e.slack.Messages()))
	}
	// syslog (through /dev/log, parsed by rsyslog): the stops after the
	// failures and the attribute change (everything-else), and the
	// resolve of dummy1's stop line when it started again — each once, at
	// facility daemon, severity info, tag notifier.
	// Only this cluster's lines: /dev/log is the machine's, and any other
	// notifier run here meanwhile (a test of the binary whose policy did
	// not load falls back to syslog) lands in the same file.
	var lines []string
	for _, l := range rsyslog.lines("local.log")[syslogBefore:] {
		if strings.Contains(l, " key=pacemaker/default/") {
			lines = append(lines, l)
		}
	}
	want := map[string]int{"message " + dummy1: 1, "resolve " + dummy1: 1, "message " + dummy2: 1, "message " + attr: 1}
	got := map[string]int{}
	for _, l := range lines {
		if !strings.HasPrefix(l, "daemon info notifier ") {
			t.Errorf("syslog line %q: want facility daemon, severity info, tag notifier", l)
		}
		f := strings.Fields(l)
		var action, k string
		for _, kv := range f {
			if v, ok := strings.CutPrefix(kv, "action="); ok {
				action = v
			}
			if v, ok := strings.CutPrefix(kv, "key="); ok {
				k = v
			}
		}
		got[action+" "+k]++
	}
	if !maps.Equal(got, want) {
		t.Errorf("syslog lines:\n%s\ngot %v, want %v", strings.Join(lines, "\n"), got, want)
	}
	// Dropped, as the policy's pacemaker-noise rule says: the Cancelled
	// monitor before the stop, and the first result of each recurring
	// monitor (at start-up and after the recovery).
	var dropped int
	for _, a := range auditFor(dummy1) {
		if a.Dropped && slices.Equal(a.Matched, []string{"pacemaker-noise"}) {
			dropped++
		}
	}
	if dropped < 3*recipients {
		t.Errorf("dummy1: %d dropped decisions, want at least %d (cancelled monitor, two first monitors, per recipient)", dropped, 3*recipients)
	}
	// Every invocation ran as Pacemaker runs agents and exited cleanly:
	// nothing was sent twice, the extra recipients' decisions are
	// duplicates.
	dups := 0
	for _, a := range readAudit(t, audit) {
		for _, n := range a.NotSent {
			if n.Outcome == "duplicate" {
				dups++
			}
		}
	}
	if recipients == 1 && dups != 0 || recipients > 1 && dups == 0 {
		t.Errorf("%d duplicate decisions with %d recipients", dups, recipients)
	}
	// Pacemaker logs an agent that exits non-zero or is killed at its
	// timeout: in this round, there must be none (notifier is the only
	// alert agent configured).
	for _, l := range linesFrom(pacemakerLog, logBefore) {
		if agentFailed(l) {
			t.Errorf("Pacemaker logged a failed alert agent: %s", l)
		}
	}
	if withEngine {
		eng.stop(t)
	}
}

// agentFailed recognises pacemaker.log's lines about an alert agent that
// failed: a non-zero exit (alert_complete), a timeout.
func agentFailed(line string) bool {
	lower := strings.ToLower(line)
	return strings.Contains(line, "(alert_complete)") && strings.Contains(line, "exited with status") && !strings.Contains(line, "exited with status 0 ") ||
		strings.Contains(lower, "could not send alert") ||
		strings.Contains(lower, "alert") && strings.Contains(lower, "timed out")
}

// The check above can fail: lines Pacemaker 2.1.5 wrote here for an alert
// agent that exited 1 (captured with /bin/false as the agent) and timed
// out (as its documentation quotes it).
func TestAgentFailedRecognises(t *testing.T) {
	failed := []string{
		"Nov 22 02:10:57.657 vm pacemaker-execd     [15921] (alert_complete) \tnotice: Alert [16124] completed but exited with status 1 | client=352aaf68-6849-4812-8272-4e2ad7c41a35",
		"Nov 22 02:10:57.657 vm pacemaker-controld  [15924] (handle_alert) \twarning: Could not send alert: Timed Out",
	}
	for _, l := range failed {
		if !agentFailed(l) {
			t.Errorf("not recognised as a failed agent: %s", l)
		}
	}
	if ok := "Nov 22 02:10:57.657 vm pacemaker-controld  [15924] (exec_alert_list) \tinfo: Sending resource alert via notifier to recipient-1"; agentFailed(ok) {
		t.Errorf("recognised as a failure: %s", ok)
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// linesFrom returns the lines of path after byte offset from.
func linesFrom(path string, from int64) []string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < from {
		return nil
	}
	return strings.Split(string(data[from:]), "\n")
}

func slackFor(s *apitest.Slack, rsc string) []apitest.ReceivedMessage {
	var out []apitest.ReceivedMessage
	for _, m := range s.Messages() {
		if strings.Contains(m.Text, rsc) || strings.Contains(string(m.Attachments), rsc) || strings.Contains(string(m.Blocks), rsc) {
			out = append(out, m)
		}
	}
	return out
}

func describeSlack(ms []apitest.ReceivedMessage) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s ts=%s %q", m.Method, m.TS, m.Text))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
