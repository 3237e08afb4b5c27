package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"notifier/internal/harness"
)

// End-to-end tests of the directories notifier keeps beside the state
// (rejected/ and <state>.pending/) when the state directory is shared
// with the haclient group: a member can put a link where they should be,
// or links inside them, and a run as root must not follow one.

// victimDir makes a directory of n files, named as notifier names what
// it keeps, standing for files a link could make a root run remove.
func victimDir(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "victim")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("20250101T000000.%09dZ-1.input", i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestE2ERejectedLinkRefused: with rejected/ a link to a directory of
// 130 files, malformed input is refused as ever (exit 2), it is not kept
// (the error says why, naming the link), and the 130 files are all there:
// nothing is written through the link, nothing pruned behind it.
func TestE2ERejectedLinkRefused(t *testing.T) {
	h := newHarness(t)
	victim := victimDir(t, 130)
	link := filepath.Join(filepath.Dir(h.State), "rejected")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	p, err := h.StartCMON(testCtx(t), []byte(`{"alarm": `), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 2 || !strings.Contains(res.Stderr, "could not be kept") || !strings.Contains(res.Stderr, link+" is a link") {
		t.Errorf("exit %d, stderr %q; want 2, the input not kept because %s is a link", res.Exit, res.Stderr, link)
	}
	if n := countFiles(t, victim); n != 130 {
		t.Errorf("the link's target holds %d files, want its 130", n)
	}
}

// TestE2EPendingLinkRefused: with the pending directory a link, a run
// that fails open and cannot deliver says its page could not be kept
// (naming the link), and writes nothing through it; a later run with the
// state usable does not read through it either, and still delivers.
func TestE2EPendingLinkRefused(t *testing.T) {
	h := stateHarness(t, lockedPolicy, harness.Options{})
	victim := victimDir(t, 130)
	link := h.State + ".pending"
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	release := holdLock(t, h)
	h.PagerDuty.FailNext(1, 429, "3600")
	res := mustRun(t, h, criticalAlarm, 1)
	if !strings.Contains(res.Stderr, "could not be kept") || !strings.Contains(res.Stderr, link+" is a link") {
		t.Errorf("stderr = %q, want the page not kept because %s is a link", res.Stderr, link)
	}
	release()
	res = mustRun(t, h, criticalAlarm, 1)
	if !strings.Contains(res.Stderr, link+" is a link") {
		t.Errorf("stderr = %q, want the pending deliveries refused: %s is a link", res.Stderr, link)
	}
	if n := countFiles(t, victim); n != 130 {
		t.Errorf("the link's target holds %d files, want its 130", n)
	}
}

// keptPage makes a run that fails open (lock held) and cannot deliver
// (PagerDuty refusing) keep its page in the pending directory, and
// returns the file.
func keptPage(t *testing.T, h *harness.Harness) string {
	t.Helper()
	release := holdLock(t, h)
	defer release()
	h.PagerDuty.FailNext(1, 429, "3600")
	mustRun(t, h, criticalAlarm, 1)
	kept, _ := filepath.Glob(filepath.Join(h.State+".pending", "*.json"))
	if len(kept) != 1 {
		t.Fatalf("pending holds %v, want the page", kept)
	}
	return kept[0]
}

// TestE2EPendingPlantedLinkNotRead: a link planted in the pending
// directory, under the name of a pending delivery, is not read (it could
// point at a root-only file): flush says so, leaves it, queues nothing.
func TestE2EPendingPlantedLinkNotRead(t *testing.T) {
	h := stateHarness(t, lockedPolicy, harness.Options{})
	file := keptPage(t, h)
	// The delivery moved out of reach, a link to it in its place: had
	// the link been followed, the page would go out.
	elsewhere := filepath.Join(t.TempDir(), "root-only")
	if err := os.Rename(file, elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, file); err != nil {
		t.Fatal(err)
	}
	flushLeaves(t, h, file, " is a link: not read")
	if fi, err := os.Lstat(file); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted link is gone or changed: %v", err)
	}
}

// TestE2EFailOpenKeepsBeforeDelivering: a run that fails open keeps its
// page before delivering it, so one killed while PagerDuty does not
// answer (Pacemaker kills at 30 s) has kept it, and flush delivers it.
func TestE2EFailOpenKeepsBeforeDelivering(t *testing.T) {
	h := stateHarness(t, lockedPolicy, harness.Options{})
	release := holdLock(t, h)
	stalled := make(chan struct{})
	var once sync.Once
	h.PagerDuty.OnStall(func() { once.Do(func() { close(stalled) }) })
	h.PagerDuty.StallNext(1)
	data := readExample(t, criticalAlarm)
	ctx := testCtx(t)
	p, err := h.StartCMON(ctx, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-stalled:
	case <-ctx.Done():
		t.Fatal("the run never reached PagerDuty")
	}
	kept, _ := filepath.Glob(filepath.Join(h.State+".pending", "*.json"))
	if len(kept) != 1 {
		t.Errorf("while delivering, pending holds %v; want the page kept already", kept)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	release()
	out := mustCommand(t, h, 0, "flush")
	if strings.TrimSpace(out.Stdout) != "delivered 1, still queued 0, failed 0" {
		t.Errorf("flush printed %q, want the kept page delivered", out.Stdout)
	}
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.DedupKey != cmonKey(criticalID) {
		t.Errorf("PagerDuty accepted %s, want the kept trigger", harness.DescribePagerDuty(got))
	}
}

// TestE2EPendingImportFailureStillDelivers: when the pending deliveries
// cannot be imported, a run still delivers what it queued itself, and
// says why the pending ones wait.
func TestE2EPendingImportFailureStillDelivers(t *testing.T) {
	h := stateHarness(t, lockedPolicy, harness.Options{})
	link := h.State + ".pending"
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, h, criticalAlarm, 1)
	if !strings.Contains(res.Stderr, link+" is a link") || !strings.Contains(res.Stderr, "left for the next run") {
		t.Errorf("stderr = %q, want the pending deliveries refused, saying why", res.Stderr)
	}
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.DedupKey != cmonKey(criticalID) {
		t.Errorf("PagerDuty accepted %s, want the run's own trigger", harness.DescribePagerDuty(got))
	}
}

// TestE2EPendingTriggerResolves: a critical alarm whose run fails open
// (lock held) and cannot deliver (PagerDuty refusing) is kept; once the
// lock is free, flush imports and delivers it, and the alarm's remove
// then resolves it with the same dedup_key: the import opened the
// incident a queued trigger opens.
func TestE2EPendingTriggerResolves(t *testing.T) {
	h := stateHarness(t, lockedPolicy, harness.Options{})
	keptPage(t, h)
	out := mustCommand(t, h, 0, "flush")
	if strings.TrimSpace(out.Stdout) != "delivered 1, still queued 0, failed 0" {
		t.Fatalf("flush printed %q, want the kept page delivered", out.Stdout)
	}
	mustRun(t, h, criticalClear, 0)
	got := harness.Accepted(h.PagerDuty.Events())
	if len(got) != 2 || got[0].Event.EventAction != "trigger" || got[1].Event.EventAction != "resolve" || got[1].Event.DedupKey != got[0].Event.DedupKey {
		t.Errorf("PagerDuty accepted %s, want the kept trigger, then its resolve with the same dedup_key", harness.DescribePagerDuty(got))
	}
}

// TestE2EPendingTriggerResolvedByRemove: the remove of an alarm whose
// trigger is still kept (no run or flush since the lock was freed)
// delivers the trigger and then resolves it: the run imports what is
// kept before it decides.
func TestE2EPendingTriggerResolvedByRemove(t *testing.T) {
	h := stateHarness(t, lockedPolicy, harness.Options{})
	keptPage(t, h)
	mustRun(t, h, criticalClear, 0)
	got := harness.Accepted(h.PagerDuty.Events())
	if len(got) != 2 || got[0].Event.EventAction != "trigger" || got[1].Event.EventAction != "resolve" || got[1].Event.DedupKey != got[0].Event.DedupKey {
		t.Errorf("PagerDuty accepted %s, want the kept trigger, then its resolve with the same dedup_key", harness.DescribePagerDuty(got))
	}
	if left, _ := filepath.Glob(filepath.Join(h.State+".pending", "*.json")); len(left) != 0 {
		t.Errorf("pending still holds %v", left)
	}
}

// TestE2EAuditLogLinkRefused: with settings.audit_log a link, a run
// delivers as ever, says the audit line was not written and why (naming
// the link), and the file the link names is left as it was.
func TestE2EAuditLogLinkRefused(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "audit.jsonl")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	h := stateHarness(t, "settings: {audit_log: "+link+"}\n"+bothPolicy, harness.Options{})
	res, err := h.Run(testCtx(t), filepath.Join(examples, criticalAlarm))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Stderr, "audit log: "+link+" is a link") {
		t.Errorf("exit %d, stderr %q; want the audit line refused: %s is a link", res.Exit, res.Stderr, link)
	}
	if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 {
		t.Errorf("PagerDuty accepted %s, want the trigger", harness.DescribePagerDuty(got))
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep me\n" {
		t.Errorf("the link's target now holds %q", data)
	}
}

// TestE2ERejectedPrunesOnlyItsOwn: rejected/ keeps the newest 100 of
// the files notifier named; files it did not name are never removed.
func TestE2ERejectedPrunesOnlyItsOwn(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(filepath.Dir(h.State), "rejected")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	for i := range 130 {
		name := fmt.Sprintf("20250101T000000.%09dZ-1.input", i)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"notes.txt", "0-old.input", ".hidden"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := h.StartCMON(testCtx(t), []byte(`{"alarm": `), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.Wait(); err != nil || res.Exit != 2 || !strings.Contains(res.Stderr, "input kept in") {
		t.Fatalf("exit %d, stderr %q, err %v; want 2 and the input kept", res.Exit, res.Stderr, err)
	}
	ours, _ := filepath.Glob(filepath.Join(dir, "2*Z-*.input"))
	if len(ours) != 100 {
		t.Errorf("rejected/ holds %d of notifier's files, want the newest 100", len(ours))
	}
	if _, err := os.Stat(filepath.Join(dir, "20250101T000000.000000029Z-1.input")); err == nil {
		t.Error("an old file survived while a newer one went")
	}
	for _, name := range []string{"notes.txt", "0-old.input", ".hidden"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s, not notifier's, was removed: %v", name, err)
		}
	}
}

// TestE2ERejectedForeignOwnerRefused: a rejected/ owned by a user other
// than root or the running one is refused, naming it and its owner.
func TestE2ERejectedForeignOwnerRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the directory to another user")
	}
	h := newHarness(t)
	dir := filepath.Join(filepath.Dir(h.State), "rejected")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 54321, 54321); err != nil {
		t.Fatal(err)
	}
	p, err := h.StartCMON(testCtx(t), []byte(`{"alarm": `), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 2 || !strings.Contains(res.Stderr, dir+" is owned by uid 54321") || !strings.Contains(res.Stderr, "could not be kept") {
		t.Errorf("exit %d, stderr %q; want 2 and %s refused, naming its owner", res.Exit, res.Stderr, dir)
	}
	if n := countFiles(t, dir); n != 0 {
		t.Errorf("%s holds %d files, want none", dir, n)
	}
}

// TestE2EPendingHardLinkNotRead: a file in the pending directory with
// another link to it (a hard link to a root-only file) is not read.
func TestE2EPendingHardLinkNotRead(t *testing.T) {
	h := stateHarness(t, lockedPolicy, harness.Options{})
	file := keptPage(t, h)
	if err := os.Link(file, filepath.Join(t.TempDir(), "root-only")); err != nil {
		t.Fatal(err)
	}
	flushLeaves(t, h, file, " is not a plain file: not read")
}

// TestE2ERejectedOfTheSharedGroupUsed: in the shared state directory
// (setgid, root:haclient) a Pacemaker run, as hacluster, may make
// rejected/ first; CMON's runs, as root, still keep input there.
func TestE2ERejectedOfTheSharedGroupUsed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the directory to another user")
	}
	h := newHarness(t)
	parent := filepath.Dir(h.State)
	fi, err := os.Stat(parent)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, fi.Mode().Perm()|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "rejected")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 54321, int(fi.Sys().(*syscall.Stat_t).Gid)); err != nil {
		t.Fatal(err)
	}
	p, err := h.StartCMON(testCtx(t), []byte(`{"alarm": `), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 2 || !strings.Contains(res.Stderr, "input kept in "+dir) {
		t.Errorf("exit %d, stderr %q; want 2 and the input kept in %s", res.Exit, res.Stderr, dir)
	}
	if n := countFiles(t, dir); n != 1 {
		t.Errorf("%s holds %d files, want the one kept", dir, n)
	}
}

// flushLeaves runs flush and checks that it read nothing of the kept
// delivery file (it says file+why and exits non-zero) and paged nobody.
func flushLeaves(t *testing.T, h *harness.Harness, file, why string) {
	t.Helper()
	before := len(h.PagerDuty.Events())
	res, err := h.Command(testCtx(t), "flush")
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit == 0 || !strings.Contains(res.Stderr, file+why) {
		t.Errorf("flush: exit %d, stderr %q; want non-zero and %s not read", res.Exit, res.Stderr, file)
	}
	if got := h.PagerDuty.Events()[before:]; len(got) != 0 {
		t.Errorf("PagerDuty received %s, want nothing", harness.DescribePagerDuty(got))
	}
}
