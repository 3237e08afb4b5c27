//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"notifier/engine/spool"
	"notifier/internal/harness"
)

// The e2e tests run both ways: as today, every event decided by the
// invocation (no engine), and with `notifier serve` running, started by
// the test as the packages' user, deciding what the invocations drop.

// installedDrop is the small drop the packages install beside notifier;
// the examples point CMON's plugin and Pacemaker's alert at it.
const installedDrop = "/usr/bin/notifier-drop"

// defaultSpool is the spool the installed binaries use when nothing
// names another (the packages' state directory).
const defaultSpool = "/var/lib/notifier/spool"

// engineUser is the user the engine runs as: the packages' notifier user
// (in group haclient) when it exists, else root (nil).
func engineUser(t *testing.T) (*syscall.Credential, string) {
	t.Helper()
	u, err := user.Lookup("notifier")
	if err != nil {
		return nil, "root"
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	groups, err := u.GroupIds()
	if err != nil {
		t.Fatalf("user notifier's groups: %v", err)
	}
	for _, g := range groups {
		n, _ := strconv.ParseUint(g, 10, 32)
		cred.Groups = append(cred.Groups, uint32(n))
	}
	return cred, "notifier"
}

// e2eEngine is the installed `notifier serve` a test started on the
// default spool with its policies.
type e2eEngine struct {
	*harness.Engine
	uid int // the user it runs as
}

// startEngine starts the installed engine for policies on the default
// spool, as the packages' user, and waits until its wake-up socket
// answers a status request and `notifier status` shows it. The test must
// stop it (stopEngine); a cleanup kills it if it did not.
func startEngine(t *testing.T, policies ...string) *e2eEngine {
	t.Helper()
	if st, err := spool.AskStatus(defaultSpool, time.Second); err == nil {
		t.Fatalf("an engine (pid %d) already serves %s (systemd's notifier.socket?): the test needs the spool to itself; stop it for the run", st.PID, defaultSpool)
	}
	cred, name := engineUser(t)
	e := &e2eEngine{Engine: harness.NewEngine(installed, harness.EngineOptions{Configs: policies, Spool: defaultSpool, Env: []string{}, Cred: cred})}
	if cred != nil {
		e.uid = int(cred.Uid)
	}
	t.Cleanup(func() {
		e.Close()
		if t.Failed() {
			out := strings.Split(strings.TrimRight(e.Stderr(), "\n"), "\n")
			t.Logf("the engine's output (as %s):\n%s", name, strings.Join(out[max(0, len(out)-60):], "\n"))
		}
	})
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	res := notifier(t, nil, "status", "--config", policies[0])
	if !strings.Contains(res.out, "engine: up\n") || !strings.Contains(res.out, fmt.Sprintf("engine_pid: %d\n", e.Pid())) {
		t.Fatalf("notifier status does not show the engine (pid %d, as %s): exit %d:\n%s", e.Pid(), name, res.code, res.out)
	}
	return e
}

// idle waits until the default spool holds nothing queued or claimed and
// the engine has nothing in flight: what it claimed is decided and
// delivered.
func (e *e2eEngine) idle(t *testing.T) *spool.EngineStatus {
	t.Helper()
	var st *spool.EngineStatus
	waitFor(t, time.Minute, "the engine to be idle", func() bool {
		queued, claimed, _, err := harness.SpoolDepth(defaultSpool)
		if err != nil || queued+claimed > 0 {
			return false
		}
		st, err = e.Status()
		return err == nil && st.InFlight == 0
	})
	return st
}

// stop stops the engine with SIGTERM: it must exit 0.
func (e *e2eEngine) stop(t *testing.T) {
	t.Helper()
	if code, err := e.Stop(time.Minute); err != nil || code != 0 {
		t.Errorf("the engine, stopped with SIGTERM: exit %d, %v", code, err)
	}
}

// spoolIdle waits until the default spool holds nothing queued or
// claimed (no engine: every invocation decided its own entry).
func spoolIdle(t *testing.T) {
	t.Helper()
	empty := func() bool {
		queued, claimed, _, err := harness.SpoolDepth(defaultSpool)
		return err == nil && queued+claimed == 0
	}
	if !poll(time.Minute, empty) {
		// Which entries stayed, and whose: a leftover of another
		// program's run on this machine reads differently from this
		// test's own.
		t.Fatalf("waited 1m0s for the spool to be empty; it holds:%s%s", harness.SpoolList(defaultSpool), spoolEntries(defaultSpool))
	}
}

// spoolEntries describes the entries in new/ and claimed/ of dir: each
// one's receipt time, source, event key and policy.
func spoolEntries(dir string) string {
	var b strings.Builder
	for _, sub := range []string{"new", "claimed"} {
		names, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		for _, name := range names {
			data, err := os.ReadFile(name)
			var e struct {
				Received, Source, Policy string
				Event                    struct{ Key string }
			}
			if err == nil {
				err = json.Unmarshal(data, &e)
			}
			if err != nil {
				fmt.Fprintf(&b, "\n  %s: %v", filepath.Base(name), err)
				continue
			}
			fmt.Fprintf(&b, "\n  %s: received %s from %s, key %s, policy %s", filepath.Base(name), e.Received, e.Source, e.Event.Key, e.Policy)
		}
	}
	return b.String()
}

// agentsRunning lists the alert agents running as hacluster: notifier,
// or notifier-drop before it hands over.
func agentsRunning() string {
	out, _ := execOutput("pgrep", "-a", "-u", "hacluster", "-x", "notifier|notifier-drop")
	return strings.TrimSpace(out)
}

func execOutput(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return string(out), err
}

// describeMode names how a round runs, for messages.
func describeMode(agent string, engine bool) string {
	if engine {
		return fmt.Sprintf("%s with the engine", agent)
	}
	return fmt.Sprintf("%s without an engine", agent)
}
