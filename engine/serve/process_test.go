package serve

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/engine/spool"

	"golang.org/x/sys/unix"
)

// One engine per spool: a second one fails at once, naming the first's
// pid.
func TestSecondEngineRefused(t *testing.T) {
	r := newRig(t, nil)
	r.start()
	cfg := r.cfg
	cfg.Listener = nil
	second, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = second.Run(t.Context())
	var locked *LockedError
	if !errors.As(err, &locked) || locked.PID != os.Getpid() || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second engine: %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	// The first one still serves.
	if got := r.wake(r.put("cmon/ctl/1/still", "critical")); got != spool.WakeClaimed {
		t.Errorf("wake after the second engine: %v", got)
	}
}

// --idle: with nothing to do for that long, Run returns nil by itself;
// an entry decided in between postpones it.
func TestIdleExit(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Idle = 100 * time.Millisecond })
	r.start()
	if got := r.wake(r.put("cmon/ctl/1/i", "critical")); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	if err := wait(t, r.errc, "Run to return when idle"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r.cancel = nil
	if len(r.decided) != 1 {
		t.Errorf("decided %d before going idle, want 1", len(r.decided))
	}
	if !strings.Contains(r.allNotes(), "idle for 100ms") {
		t.Errorf("notes do not say why it stopped:\n%s", r.allNotes())
	}
}

// Socket activation: the engine serves on the listener it is given (the
// descriptor systemd passes), and makes none of its own.
func TestSocketActivation(t *testing.T) {
	if l, err := Activated(map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "1"}); l != nil || err != nil {
		t.Errorf("LISTEN_PID of another process: %v, %v; want nothing", l, err)
	}
	if l, err := Activated(map[string]string{"LISTEN_PID": fmt.Sprint(os.Getpid()), "LISTEN_FDS": "0"}); l != nil || err != nil {
		t.Errorf("LISTEN_FDS=0: %v, %v; want nothing", l, err)
	}
	r := newRig(t, nil)
	sock := filepath.Join(r.sp.Path, spool.WakeSocket)
	made, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f, err := made.(*net.UnixListener).File() // a descriptor of its own, as systemd passes
	if err != nil {
		t.Fatal(err)
	}
	made.(*net.UnixListener).SetUnlinkOnClose(false)
	made.Close()
	// The number alone, as systemd passes it: no *os.File may own it too.
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	l, err := listenerOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.Listener = l
	r.start()
	if got := r.wake(r.put("cmon/ctl/1/act", "critical")); got != spool.WakeClaimed {
		t.Errorf("wake over the activated socket: %v", got)
	}
	wait(t, r.done, "the decision")
}

// An engine started with another $NOTIFIER_STATE_PATH than an entry was
// dropped with declines it: the entry's state is not the engine's.
func TestOtherStatePathDeclined(t *testing.T) {
	r := newRig(t, func(c *Config) { c.StatePath = filepath.Join(t.TempDir(), "other.db") })
	r.start()
	id := r.put("cmon/ctl/1/s", "critical") // dropped without one
	if got := r.wake(id); got != spool.WakeDeclined {
		t.Errorf("wake: %v, want declined", got)
	}
	if ids, _ := r.sp.List(); len(ids) != 1 || ids[0] != id {
		t.Errorf("new/ holds %v, want %s", ids, id)
	}
}

// The policy files' fingerprint changes when a file of a policy
// directory is added, rewritten (same size, other inode) or removed,
// and not when nothing changed.
func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	os.WriteFile(a, []byte("rules: []\n"), 0o644)
	fp := fingerprint(dir)
	if fingerprint(dir) != fp {
		t.Fatal("fingerprint changed with nothing changed")
	}
	steps := []struct {
		what string
		do   func()
	}{
		{"a file added", func() { os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("x"), 0o644) }},
		{"a file replaced by a rename", func() {
			tmp := filepath.Join(t.TempDir(), "a.yaml")
			os.WriteFile(tmp, []byte("rules: []\n"), 0o644)
			os.Rename(tmp, a)
		}},
		{"a file removed", func() { os.Remove(filepath.Join(dir, "b.yaml")) }},
	}
	for _, s := range steps {
		s.do()
		next := fingerprint(dir)
		if next == fp {
			t.Errorf("%s: fingerprint unchanged", s.what)
		}
		fp = next
	}
	if fingerprint(filepath.Join(dir, "gone.yaml")) == fingerprint(a) {
		t.Error("a missing policy has the fingerprint of an existing one")
	}
}
