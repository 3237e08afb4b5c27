package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the controller end (what a terminal
// emulator holds) and the terminal end (what a shell's stdin is).
func openPTY(t *testing.T) (controller, term *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	controller = os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { controller.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return controller, term
}

// TestTerminalStdinSaysWhatItWaitsFor: run by hand with a terminal as
// stdin, notifier and notifier explain say on stderr what they read and
// how to end it, then take the alarm typed (one line) as CMON's.
func TestTerminalStdinSaysWhatItWaitsFor(t *testing.T) {
	raw, err := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	if err != nil {
		t.Fatal(err)
	}
	var line bytes.Buffer
	if err := json.Compact(&line, raw); err != nil {
		t.Fatal(err)
	}
	line.WriteByte('\n')
	policy := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(policy, []byte("channels:\n  l: {type: syslog}\nrules:\n  - {name: all, when: 'true', drop: true}\n"), 0o644)
	env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(t.TempDir(), "state.db")}
	for _, args := range [][]string{nil, {"explain"}} {
		t.Run(strings.Join(append([]string{"notifier"}, args...), " "), func(t *testing.T) {
			controller, term := openPTY(t)
			// Typed before the run reads: the terminal holds the line.
			if _, err := controller.Write(line.Bytes()); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(args, term, &stdout, &stderr, env)
			if code := exitCode(err, &stderr); code != 0 {
				t.Fatalf("exit %d; stderr %q", code, stderr.String())
			}
			const want = "notifier: reading a CMON alarm (JSON) from standard input; end it with Ctrl-D, or give a saved event with: notifier explain --event FILE\n"
			if !strings.HasPrefix(stderr.String(), want) {
				t.Errorf("stderr = %q, want it to start with %q", stderr.String(), want)
			}
		})
	}
}

// TestPipeStdinSaysNothing: CMON's pipe is not a person: no hint.
func TestPipeStdinSaysNothing(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.Write([]byte(`{"type":"alarm","action":"new","alarm":{"id":1}}`))
	w.Close()
	policy := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(policy, []byte("channels:\n  l: {type: syslog}\nrules:\n  - {name: all, when: 'true', drop: true}\n"), 0o644)
	var stdout, stderr bytes.Buffer
	err = run([]string{"explain", "--config", policy}, r, &stdout, &stderr, []string{"NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(t.TempDir(), "state.db")})
	if code := exitCode(err, &stderr); code != 0 || strings.Contains(stderr.String(), "standard input") {
		t.Errorf("exit %d, stderr %q; want 0 and no hint", code, stderr.String())
	}
}
