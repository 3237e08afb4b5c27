package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"notifier/engine/spool"
)

// engineProc is a `notifier serve` started by a test, its stderr read a
// line at a time.
type engineProc struct {
	cmd   *exec.Cmd
	lines chan string
	spool string
}

// startEngine starts the built binary's engine on a spool in a temp
// directory, serving the harness's policy, and returns once it says it
// has started.
func startEngine(t *testing.T, config string, extraArgs ...string) *engineProc {
	t.Helper()
	return startEngineOn(t, config, filepath.Join(t.TempDir(), "spool"), extraArgs...)
}

// startEngineOn is startEngine on the spool dir: a harness's (h.Spool),
// so that its invocations hand their events to the engine.
func startEngineOn(t *testing.T, config, dir string, extraArgs ...string) *engineProc {
	t.Helper()
	e := &engineProc{spool: dir, lines: make(chan string, 1000)}
	e.cmd = exec.CommandContext(testCtx(t), binary, append([]string{"serve", "--spool", e.spool, "--config", config}, extraArgs...)...)
	e.cmd.Env = []string{"NOTIFIER_CONFIG=" + config, "NOTIFIER_CACHE_DIR=off"}
	stderr, err := e.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.lines <- sc.Text()
		}
		close(e.lines)
	}()
	t.Cleanup(func() { e.cmd.Process.Kill(); e.cmd.Wait() })
	e.waitLine(t, "engine started: pid")
	return e
}

// waitLine reads the engine's stderr up to a line containing want.
func (e *engineProc) waitLine(t *testing.T, want string) string {
	t.Helper()
	var seen []string
	for {
		select {
		case line, ok := <-e.lines:
			if !ok {
				t.Fatalf("the engine's stderr ended without %q:\n%s", want, strings.Join(seen, "\n"))
			}
			if strings.Contains(line, want) {
				return line
			}
			seen = append(seen, line)
		case <-time.After(time.Minute):
			t.Fatalf("no line %q from the engine:\n%s", want, strings.Join(seen, "\n"))
		}
	}
}

// stop sends SIGTERM and returns the exit status.
func (e *engineProc) stop(t *testing.T) int {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range e.lines { // drain, so the engine never blocks writing stderr
	}
	err := e.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// The engine through the binary: it takes the spool's lock, a second
// one on the same spool exits 2 naming the first's pid, SIGTERM stops it
// with 0 and takes its wake-up socket away.
func TestE2EServeLockAndSIGTERM(t *testing.T) {
	h := newHarness(t)
	e := startEngine(t, h.Config)
	sock := filepath.Join(e.spool, spool.WakeSocket)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("no wake-up socket while the engine runs: %v", err)
	}
	second := exec.CommandContext(testCtx(t), binary, "serve", "--spool", e.spool, "--config", h.Config)
	second.Env = []string{"NOTIFIER_CACHE_DIR=off"}
	var stderr strings.Builder
	second.Stderr = &stderr
	err := second.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("second engine: %v, want exit 2", err)
	}
	if line := strings.TrimSpace(stderr.String()); strings.Count(line, "\n") != 0 || !strings.Contains(line, fmt.Sprintf("pid %d", e.cmd.Process.Pid)) {
		t.Errorf("second engine's stderr %q, want one line naming pid %d", stderr.String(), e.cmd.Process.Pid)
	}
	st, err := spool.AskStatus(e.spool, time.Minute)
	if err != nil || st.PID != e.cmd.Process.Pid || len(st.Policies) != 1 || st.Policies[0].Path != h.Config || st.Policies[0].LastGood {
		t.Errorf("status: %+v, %v; want pid %d serving %s as loaded", st, err, e.cmd.Process.Pid, h.Config)
	}
	if code := e.stop(t); code != 0 {
		t.Errorf("SIGTERM: exit %d, want 0", code)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wake-up socket after the engine stopped: %v, want it gone", err)
	}
}

// --idle: the engine exits 0 by itself when it has nothing to do.
func TestE2EServeIdle(t *testing.T) {
	h := newHarness(t)
	e := startEngine(t, h.Config, "--idle", "200ms")
	e.waitLine(t, "idle for 200ms")
	for range e.lines {
	}
	if err := e.cmd.Wait(); err != nil {
		t.Errorf("idle engine: %v, want exit 0", err)
	}
}

// SIGHUP reloads the policy; a broken one keeps the last good, loudly,
// and the status says so.
func TestE2EServeSIGHUPKeepsLastGood(t *testing.T) {
	h := newHarness(t)
	e := startEngine(t, h.Config)
	if err := os.WriteFile(h.Config, []byte("rules: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.waitLine(t, "still using the policy loaded at")
	st, err := spool.AskStatus(e.spool, time.Minute)
	if err != nil || len(st.Policies) != 1 || !st.Policies[0].LastGood || st.Policies[0].Error == "" {
		t.Errorf("status: %+v, %v; want the policy last good, with its error", st, err)
	}
	if code := e.stop(t); code != 0 {
		t.Errorf("SIGTERM: exit %d, want 0", code)
	}
}
