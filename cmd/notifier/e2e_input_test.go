package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2ECMONStdinNeverClosed: a complete alarm on a stdin that CMON (or
// anyone) never closes is delivered, and the process exits while the pipe
// is still open; the policy's deadline (20 s) is never reached, or the
// page would have been dropped.
func TestE2ECMONStdinNeverClosed(t *testing.T) {
	h := newHarness(t)
	alarm, err := os.ReadFile(filepath.Join(examples, "cmon/alarm-new-critical.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, w, err := h.StartCMONOpen(testCtx(t), alarm)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	res, err := p.Wait() // w is still open here
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 0 {
		t.Fatalf("exit %d, want 0; stderr: %s", res.Exit, res.Stderr)
	}
	if got := h.PagerDuty.Events(); len(got) != 1 || got[0].Event.EventAction != "trigger" {
		t.Fatalf("PagerDuty received %+v, want the trigger", got)
	}
}

// TestE2ECMONPartialInputKept: a message cut short on a stdin never
// closed is rejected at the deadline and kept in rejected/, never dropped.
func TestE2ECMONPartialInputKept(t *testing.T) {
	h := newHarness(t)
	// A short deadline: this run must wait for it.
	policy, err := os.ReadFile(h.Config)
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Replace(string(policy), "deadline: 20s", "deadline: 1s", 1)
	if short == string(policy) {
		t.Fatalf("the harness policy has no deadline: 20s to shorten:\n%s", policy)
	}
	if err := os.WriteFile(h.Config, []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	const partial = `{"type":"alarm","action":"new","alarm":{"alarm_id":7,`
	p, w, err := h.StartCMONOpen(testCtx(t), []byte(partial))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 2 || !strings.Contains(res.Stderr, "incomplete") || !strings.Contains(res.Stderr, "input kept in") {
		t.Fatalf("exit %d, stderr %q; want 2, the message incomplete, the input kept", res.Exit, res.Stderr)
	}
	kept, _ := filepath.Glob(filepath.Join(filepath.Dir(h.State), "rejected", "*.input"))
	if len(kept) != 1 {
		t.Fatalf("rejected/ holds %v, want the partial input", kept)
	}
	if data, _ := os.ReadFile(kept[0]); string(data) != partial {
		t.Errorf("kept %q, want %q", data, partial)
	}
}

// TestE2ECMONDuplicateKeyRejected: `"action":"remove", ..., "action":"new"`
// is malformed input, not whichever came last: exit 2, one line naming
// the key and where, nothing delivered, the input kept in rejected/.
func TestE2ECMONDuplicateKeyRejected(t *testing.T) {
	h := newHarness(t)
	alarm, err := os.ReadFile(filepath.Join(examples, "cmon/alarm-new-critical.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimRight(string(alarm), " \n")
	dup := strings.TrimSuffix(body, "}") + `,"action":"remove"}`
	p, err := h.StartCMON(testCtx(t), []byte(dup), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
	if res.Exit != 2 || len(lines) != 1 || !strings.Contains(lines[0], `duplicate key "action" at byte offset `) || !strings.Contains(lines[0], "input kept in") {
		t.Fatalf("exit %d, stderr %q; want 2 and one line naming the duplicate key and where the input was kept", res.Exit, res.Stderr)
	}
	if got := h.PagerDuty.Events(); len(got) != 0 {
		t.Errorf("PagerDuty received %+v, want nothing", got)
	}
	kept, _ := filepath.Glob(filepath.Join(filepath.Dir(h.State), "rejected", "*.input"))
	if len(kept) != 1 {
		t.Fatalf("rejected/ holds %v, want the input", kept)
	}
}
