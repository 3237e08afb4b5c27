//go:build e2e

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"notifier/internal/harness"
)

// needUser looks name up. Missing, it is a failure under CI=true (where
// make e2e installed Pacemaker, which makes hacluster) and a skip
// elsewhere, saying why.
func needUser(t *testing.T, name, why string) *user.User {
	t.Helper()
	u, err := user.Lookup(name)
	if err == nil {
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("user %s: %v (%s)", name, err, why)
	}
	t.Skipf("no user %s here (%s): %v", name, why, err)
	return nil
}

// invokingUser is hacluster, as Pacemaker runs its alert agents. Without
// Pacemaker installed: a throwaway system user with a group of its own
// under CI=true, removed at the end; a skip elsewhere.
func invokingUser(t *testing.T) *user.User {
	t.Helper()
	if u, err := user.Lookup("hacluster"); err == nil {
		return u
	}
	if os.Getenv("CI") != "true" {
		t.Skip("no user hacluster (Pacemaker is not installed); under CI=true the test makes a user of its own")
	}
	name := fmt.Sprintf("ntfe2e%d", os.Getpid())
	if out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ids(t *testing.T, u *user.User) (uid, gid uint32) {
	t.Helper()
	a, err1 := strconv.ParseUint(u.Uid, 10, 32)
	b, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s: uid %q gid %q", u.Username, u.Uid, u.Gid)
	}
	return uint32(a), uint32(b)
}

// chownAll gives dir and everything in it to uid:gid.
func chownAll(t *testing.T, dir string, uid, gid uint32) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), int(gid))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestE2EEngineForeignPolicy: an invocation as hacluster naming a policy
// the engine was not started with is handled in-process, and the engine
// reads nothing of it. The engine runs as nobody (in hacluster's group,
// which shares the spool, as the packages' user is in haclient) with a
// policy of its own; the foreign policy, its secrets and its state are
// in a 0700 directory of hacluster's. The event is delivered by the
// invocation, the engine answers the wake-up "no" (its declined count),
// and it says nothing about that directory. A policy of its own it
// claims and delivers, so the decline is not an engine that does
// nothing.
func TestE2EEngineForeignPolicy(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("runs processes as nobody and hacluster: it must run as root (make e2e does)")
		}
		t.Skip("runs processes as nobody and hacluster: needs root (make e2e runs it)")
	}
	nobodyUID, _ := ids(t, needUser(t, "nobody", "the engine's unprivileged user"))
	hac := invokingUser(t)
	hacUID, group := ids(t, hac)

	base, err := os.MkdirTemp("", "notifier-e2e-foreign-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// Other users run the binaries and reach their directories.
	drop := mustDropBinary(t)
	for _, d := range []string{base, filepath.Dir(binary)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkPolicy := func(name string) *harness.Harness {
		dir := filepath.Join(base, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(dir, "policy.yaml")
		if err := os.WriteFile(src, []byte("settings:\n  audit_log: "+filepath.Join(dir, "audit.jsonl")+"\n"+pagerPolicy), 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := harness.New(binary, src, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return h
	}
	own, foreign := mkPolicy("engine"), mkPolicy("foreign")
	chownAll(t, own.Dir, nobodyUID, group)
	chownAll(t, foreign.Dir, hacUID, group)
	spoolDir := filepath.Join(base, "spool")
	if err := os.Mkdir(spoolDir, 0o770); err != nil {
		t.Fatal(err)
	}
	os.Chown(spoolDir, 0, int(group))
	os.Chmod(spoolDir, os.ModeSetgid|0o770)

	engine := harness.NewEngine(binary, harness.EngineOptions{Configs: []string{own.Config}, Spool: spoolDir,
		Env: []string{"NOTIFIER_CACHE_DIR=off"}, Cred: &syscall.Credential{Uid: nobodyUID, Gid: group, Groups: []uint32{}}})
	t.Cleanup(func() {
		engine.Close()
		if t.Failed() {
			t.Logf("the engine's output:\n%s", tail(engine.Stderr(), 60))
		}
	})
	if err := engine.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st0, err := engine.Ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if procStatus, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", engine.Pid())); !strings.Contains(string(procStatus), fmt.Sprintf("\nUid:\t%d\t", nobodyUID)) {
		t.Fatalf("the engine does not run as nobody:\n%s", procStatus)
	}
	// A claim wait far beyond the engine's answer: a decline is the
	// engine's answer, not a timeout.
	env := []string{"NOTIFIER_SPOOL=" + spoolDir, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_CLAIM_WAIT=10s"}
	inputs, keys := alarms(t, 9_000_000, 3)

	// The engine's own policy: claimed and delivered by it.
	p, err := own.StartCMONWith(ctx, inputs[0], harness.Invocation{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	wantClean(t, waitAll(t, []*harness.Proc{p}))
	await(t, time.Minute, "the engine's delivery of its own policy's alarm", func() bool { return len(own.PagerDuty.Events()) > 0 })
	st1, err := engine.Status()
	if err != nil {
		t.Fatal(err)
	}
	if got := harness.Accepted(own.PagerDuty.Events()); len(got) != 1 || got[0].Event.DedupKey != keys[0] || st1.Claimed != st0.Claimed+1 {
		t.Fatalf("the engine's own policy: PagerDuty accepted %s; claimed %d -> %d: want one trigger for %s, claimed by the engine",
			harness.DescribePagerDuty(got), st0.Claimed, st1.Claimed, keys[0])
	}

	// The foreign policy, as hacluster, through notifier-drop and notifier.
	cred := &syscall.Credential{Uid: hacUID, Gid: group, Groups: []uint32{}}
	var procs []*harness.Proc
	for i, bin := range []string{drop, binary} {
		p, err := foreign.StartCMONWith(ctx, inputs[1+i], harness.Invocation{Bin: bin, Env: env, Cred: cred})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	wantClean(t, waitAll(t, procs))
	st2, err := engine.Status()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range harness.Accepted(foreign.PagerDuty.Events()) {
		got[r.Event.DedupKey]++
	}
	if got[keys[1]] != 1 || got[keys[2]] != 1 || len(got) != 2 {
		t.Errorf("the foreign policy's PagerDuty accepted %s; want one trigger each for %s and %s, delivered by the invocations",
			harness.DescribePagerDuty(foreign.PagerDuty.Events()), keys[1], keys[2])
	}
	if st2.Declined < st1.Declined+2 || st2.Claimed != st1.Claimed {
		t.Errorf("the engine declined %d -> %d and claimed %d -> %d: want both foreign entries declined, none claimed",
			st1.Declined, st2.Declined, st1.Claimed, st2.Claimed)
	}
	if queued, claimed, bad, err := harness.SpoolDepth(spoolDir); err != nil || queued+claimed+bad != 0 {
		t.Errorf("spool not empty (%v):%s", err, harness.SpoolList(spoolDir))
	}
	code, err := engine.Stop(engineStopBound)
	if err != nil || code != 0 {
		t.Errorf("the engine, stopped with SIGTERM: exit %d, %v", code, err)
	}
	for _, l := range strings.Split(engine.Stderr(), "\n") {
		if strings.Contains(l, foreign.Dir) {
			t.Errorf("the engine wrote about the foreign policy's directory: %s", l)
		}
	}
}
