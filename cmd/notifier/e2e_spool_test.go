package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"notifier/engine/drop"
	"notifier/engine/spool"
	"notifier/internal/harness"
)

// The drop through the built binaries: every event is spooled first,
// decided in-process when no engine claims it, and what a killed run
// leaves is decided by notifier flush, once.

// dropBinary builds notifier-drop beside the notifier binary, where it
// looks for it.
var dropBinary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(binary), "notifier-drop")
	build := exec.Command("go", "build", "-o", bin, "../notifier-drop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
})

func mustDropBinary(t *testing.T) string {
	t.Helper()
	bin, err := dropBinary()
	if err != nil {
		t.Fatalf("building notifier-drop: %v", err)
	}
	return bin
}

// spoolNames lists a spool subdirectory.
func spoolNames(t *testing.T, h *harness.Harness, sub string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(h.Spool, sub))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// runWith runs bin as CMON does (alarm on stdin) with h's environment
// plus extra.
func runWith(t *testing.T, h *harness.Harness, bin string, stdin []byte, extra []string, args ...string) harness.Result {
	t.Helper()
	cmd := exec.CommandContext(testCtx(t), bin, args...)
	cmd.Env = append(h.Env(), extra...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := harness.Result{Stdout: out.String(), Stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestE2ESpoolRunLeavesNothing: a run with no engine decides in-process
// and leaves the spool empty.
func TestE2ESpoolRunLeavesNothing(t *testing.T) {
	h := newHarness(t)
	mustRun(t, h, criticalAlarm, 0)
	if got := len(harness.Accepted(h.PagerDuty.Events())); got != 1 {
		t.Fatalf("PagerDuty accepted %d, want 1", got)
	}
	for _, sub := range []string{spool.NewDir, spool.ClaimedDir, spool.BadDir} {
		if n := spoolNames(t, h, sub); len(n) != 0 {
			t.Errorf("%s/ holds %v, want nothing", sub, n)
		}
	}
}

// TestE2ESpoolKilledRunThenFlush: a run killed (SIGKILL) after spooling
// and claiming its entry, before deciding it, leaves the entry; notifier
// flush decides and delivers it, once.
func TestE2ESpoolKilledRunThenFlush(t *testing.T) {
	h := newHarness(t)
	policy, err := os.ReadFile(h.Config)
	if err != nil {
		t.Fatal(err)
	}
	// The policy as a FIFO: the run blocks reading it, after the drop
	// (which never opens it) and before anything is decided.
	os.Remove(h.Config)
	if err := syscall.Mkfifo(h.Config, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := h.StartCMON(testCtx(t), readExample(t, criticalAlarm), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(h.Config, os.O_WRONLY, 0) // returns once the run opened it to read
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	res, _ := p.Wait()
	w.Close()
	if res.Exit != -1 {
		t.Fatalf("run: exit %d, want killed; stderr %q", res.Exit, res.Stderr)
	}
	if n := spoolNames(t, h, spool.ClaimedDir); len(n) != 1 {
		t.Fatalf("claimed/ holds %v, want the killed run's entry", n)
	}
	os.Remove(h.Config)
	if err := os.WriteFile(h.Config, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(h.PagerDuty.Events()) != 0 {
		t.Fatalf("delivered before the flush")
	}
	out := mustCommand(t, h, 0, "flush")
	if strings.TrimSpace(out.Stdout) != "delivered 1, still queued 0, failed 0" {
		t.Errorf("flush printed %q", out.Stdout)
	}
	mustCommand(t, h, 0, "flush")
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.DedupKey != shippedGroupKey() {
		t.Errorf("PagerDuty accepted %s, want the trigger once", harness.DescribePagerDuty(got))
	}
	if n := append(spoolNames(t, h, spool.ClaimedDir), spoolNames(t, h, spool.NewDir)...); len(n) != 0 {
		t.Errorf("spool holds %v after the flush", n)
	}
}

// putEntry spools the critical alarm for h's policy directly, as a drop
// of another process would.
func putEntry(t *testing.T, h *harness.Harness, policy string) *spool.Entry {
	t.Helper()
	s, err := spool.Open(h.Spool)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := drop.Take(testCtx(t), drop.Options{Policy: policy, Stdin: bytes.NewReader(readExample(t, criticalAlarm)), Received: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestE2ESpooledTakenElsewhere: --spooled on an entry another claimer
// holds does nothing and exits 0.
func TestE2ESpooledTakenElsewhere(t *testing.T) {
	h := newHarness(t)
	e := putEntry(t, h, h.Config)
	s, err := spool.Open(h.Spool)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Claim(e.ID, "otherhost/1/engine"); err != nil {
		t.Fatal(err)
	}
	res := mustCommand(t, h, 0, "run", "--spooled", e.ID)
	if res.Stderr != "" || res.Stdout != "" {
		t.Errorf("printed %q %q, want nothing", res.Stdout, res.Stderr)
	}
	if len(h.PagerDuty.Events()) != 0 {
		t.Errorf("delivered an entry another claimer holds")
	}
	if n := spoolNames(t, h, spool.ClaimedDir); len(n) != 1 || !strings.HasPrefix(n[0], e.ID+".") {
		t.Errorf("claimed/ holds %v, want the other claimer's entry", n)
	}
}

// TestE2EDropExecsNotifier: notifier-drop with no engine becomes
// notifier (run --spooled), which delivers; the spool is left empty.
func TestE2EDropExecsNotifier(t *testing.T) {
	h := newHarness(t)
	res := runWith(t, h, mustDropBinary(t), readExample(t, criticalAlarm), nil)
	if res.Exit != 0 || res.Stderr != "" {
		t.Fatalf("notifier-drop: exit %d, stderr %q", res.Exit, res.Stderr)
	}
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 {
		t.Errorf("PagerDuty accepted %s, want the trigger", harness.DescribePagerDuty(got))
	}
	if n := append(spoolNames(t, h, spool.ClaimedDir), spoolNames(t, h, spool.NewDir)...); len(n) != 0 {
		t.Errorf("spool holds %v", n)
	}
}

// TestE2EDropWithoutNotifier: notifier-drop that cannot run notifier
// exits 1 saying so, the entry stays in new/, and flush delivers it.
func TestE2EDropWithoutNotifier(t *testing.T) {
	h := newHarness(t)
	res := runWith(t, h, mustDropBinary(t), readExample(t, criticalAlarm), []string{"NOTIFIER_BIN=" + filepath.Join(t.TempDir(), "missing")})
	if res.Exit != 1 || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 || !strings.Contains(res.Stderr, "stays in the spool") {
		t.Fatalf("exit %d, stderr %q; want 1 and one line saying the event stays in the spool", res.Exit, res.Stderr)
	}
	if n := spoolNames(t, h, spool.NewDir); len(n) != 1 {
		t.Fatalf("new/ holds %v, want the entry", n)
	}
	if len(h.PagerDuty.Events()) != 0 {
		t.Fatalf("delivered without notifier")
	}
	mustCommand(t, h, 0, "flush")
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 {
		t.Errorf("PagerDuty accepted %s after flush, want the trigger", harness.DescribePagerDuty(got))
	}
}

// TestE2EFlushLeavesForeignEntries: an entry for another policy is left
// where it is by flush, and counted.
func TestE2EFlushLeavesForeignEntries(t *testing.T) {
	h := newHarness(t)
	other := filepath.Join(t.TempDir(), "other.yaml")
	e := putEntry(t, h, other)
	res := mustCommand(t, h, 0, "flush")
	if !strings.Contains(res.Stderr, "1 entries for other policies or state paths left") {
		t.Errorf("flush stderr %q, want the foreign entry counted", res.Stderr)
	}
	if n := spoolNames(t, h, spool.NewDir); len(n) != 1 || n[0] != e.ID {
		t.Errorf("new/ holds %v, want %s left", n, e.ID)
	}
	if len(h.PagerDuty.Events()) != 0 {
		t.Errorf("delivered a foreign entry")
	}
}
