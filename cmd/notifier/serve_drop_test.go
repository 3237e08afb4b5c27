package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine/spool"
)

// CMON runs notifier with an event while the engine runs: the drop
// spools it, the engine claims it (its log says the decision), Slack
// gets one message, the invocation exits 0 and the spool is empty.
func TestE2EServeDecidesCMONEvent(t *testing.T) {
	h := newHarness(t)
	e := startEngine(t, h.Config)
	// A warning: the shipped policy's criticals wait 30 s for their group.
	data, err := os.ReadFile(filepath.Join(examples, "cmon/alarm-new-warning.json"))
	if err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(testCtx(t), binary)
	run.Env = []string{"NOTIFIER_CONFIG=" + h.Config, "NOTIFIER_SPOOL=" + e.spool, "NOTIFIER_CACHE_DIR=off"}
	run.Stdin = strings.NewReader(string(data))
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("notifier with the engine running: %v: %s", err, out)
	}
	e.waitLine(t, " to send [") // the engine decided it, not the invocation
	if n := len(h.Slack.Messages()); n != 1 {
		t.Errorf("Slack received %d messages, want 1", n)
	}
	sp, err := spool.Open(e.spool)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := sp.Stats(); err != nil || st.New+st.Claimed+st.Bad != 0 {
		t.Errorf("spool after the decision: %+v, %v; want empty", st, err)
	}
	if code := e.stop(t); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}
