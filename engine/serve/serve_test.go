package serve

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/spool"
	"notifier/engine/state"
)

// Entries put and woken are claimed by the engine, decided once each,
// delivered, and removed from the spool.
func TestWokenEntriesDecidedOnce(t *testing.T) {
	r := newRig(t, nil)
	r.start()
	const n = 20
	ids := make([]string, n)
	for i := range n {
		sev := "warning"
		if i%2 == 0 {
			sev = "critical"
		}
		ids[i] = r.put(fmt.Sprintf("cmon/ctl/1/%d", i), sev)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if got := r.wake(id); got != spool.WakeClaimed {
				t.Errorf("%s: %v, want claimed", id, got)
			}
		})
	}
	wg.Wait()
	for range n {
		wait(t, r.done, "a decision")
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r.mu.Lock()
	decided := slices.Sorted(slices.Values(r.decided))
	r.mu.Unlock()
	if !slices.Equal(decided, slices.Sorted(slices.Values(ids))) {
		t.Errorf("decided %d entries %v, want each of the %d once", len(decided), decided, n)
	}
	if got := len(r.chans["pager"].messages()); got != n/2 {
		t.Errorf("pager got %d messages, want %d", got, n/2)
	}
	if got := len(r.chans["log"].messages()); got != n/2 {
		t.Errorf("log got %d messages, want %d", got, n/2)
	}
	if st := r.stats(); st.New+st.Claimed+st.Bad != 0 {
		t.Errorf("spool after the decisions: %+v, want empty", st)
	}
	if st := r.srv.Status(); st.Claimed != n || st.Declined != 0 || st.InFlight != 0 {
		t.Errorf("status %+v, want %d claimed, none declined or in flight", st, n)
	}
	// Woken again, a done entry is not there to claim.
	if got := r.wake(ids[0]); got == spool.WakeClaimed {
		t.Errorf("a decided entry was claimed again")
	}
}

// Entries of one key are decided in receipt order, however many workers
// decide other keys at once; never more than Workers at once.
func TestPerKeyOrderUnderConcurrency(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Workers = 3; c.ScanGrace = time.Nanosecond })
	keys := []string{"cmon/ctl/1/a", "cmon/ctl/1/b", "cmon/ctl/1/c", "cmon/ctl/1/d", "cmon/ctl/1/e"}
	want := map[string][]string{}
	for i := range 40 {
		k := keys[i%len(keys)]
		want[k] = append(want[k], r.put(k, "critical"))
	}
	r.start() // its first scan claims them all
	for range 40 {
		wait(t, r.done, "a decision")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, ids := range want {
		if !slices.Equal(r.byKey[k], ids) {
			t.Errorf("%s decided in the order %v, want %v", k, r.byKey[k], ids)
		}
	}
	if m := r.chans["pager"].maxSeen; m > 3 {
		t.Errorf("%d deliveries at once, with 3 workers", m)
	}
}

// An entry for a policy the engine was not started with is declined by
// the wake-up and left alone by the scan: it stays in new/ for its
// invocation, and the engine reads nothing it names.
func TestForeignPolicyDeclined(t *testing.T) {
	r := newRig(t, func(c *Config) { c.ScanGrace = time.Nanosecond; c.ScanEvery = 20 * time.Millisecond })
	other := filepath.Join(r.dir, "unreadable", "other.yaml") // does not exist
	r.start()
	id := r.put("cmon/ctl/1/x", "critical", other)
	if got := r.wake(id); got != spool.WakeDeclined {
		t.Errorf("wake: %v, want declined", got)
	}
	// Two full scans after it was put: both leave it alone.
	wait(t, r.scans, "a scan")
	wait(t, r.scans, "a scan")
	wait(t, r.scans, "a scan")
	ids, err := r.sp.List()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{id}) {
		t.Errorf("new/ holds %v, want the declined entry %s", ids, id)
	}
	// A drop now claims it itself.
	c, err := r.sp.Claim(id, state.NewOwner())
	if err != nil {
		t.Fatalf("the drop cannot claim its declined entry: %v", err)
	}
	r.sp.Release(c)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.decided); n != 0 {
		t.Errorf("the engine decided %d entries", n)
	}
	notes := r.allNotes()
	if strings.Contains(notes, "other.yaml") || strings.Contains(notes, "unreadable") {
		t.Errorf("the engine's notes mention the foreign policy:\n%s", notes)
	}
	if st := r.srv.Status(); st.Declined < 2 || st.Claimed != 0 {
		t.Errorf("status %+v, want the wake-up and the scan declined, nothing claimed", st)
	}
}

// An entry left in claimed/ by a claimer that died is taken over and
// decided once.
func TestTakeoverOfDeadClaimer(t *testing.T) {
	r := newRig(t, nil)
	id := r.put("cmon/ctl/1/dead", "critical")
	if _, err := r.sp.Claim(id, deadOwner(t)); err != nil {
		t.Fatal(err)
	}
	r.start()
	if got := wait(t, r.done, "the taken-over entry"); got != id {
		t.Errorf("decided %s, want %s", got, id)
	}
	r.stop()
	if st := r.stats(); st.New+st.Claimed != 0 {
		t.Errorf("spool %+v, want empty", st)
	}
	if n := len(r.chans["pager"].messages()); n != 1 {
		t.Errorf("pager got %d, want 1", n)
	}
}

// deadOwner is an owner id of a process of this host that has exited.
func deadOwner(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no true(1) to make a dead process: %v", err)
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d/deadbeef", host, cmd.Process.Pid)
	if state.OwnerAlive(owner) {
		t.Skip("the dead process's pid was reused")
	}
	return owner
}

// Stopping (SIGTERM): the entry being decided is finished and done; the
// claimed ones not started go back to new/; Run returns nil.
func TestStopReleasesUnstarted(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Workers = 1 })
	pager := r.chans["pager"]
	pager.gate, pager.started = make(chan struct{}), make(chan string, 10)
	r.start()
	first := r.put("cmon/ctl/1/first", "critical")
	if got := r.wake(first); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	wait(t, pager.started, "the first delivery") // it holds the only worker
	later := []string{r.put("cmon/ctl/1/b", "critical"), r.put("cmon/ctl/1/c", "warning"), r.put("cmon/ctl/1/first", "critical")}
	for _, id := range later {
		if got := r.wake(id); got != spool.WakeClaimed {
			t.Fatalf("wake: %v", got)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while an entry was being decided", err)
	case <-time.After(50 * time.Millisecond): // a look, not a synchronisation: the assertions below hold either way
	}
	close(pager.gate)
	if err := wait(t, stopped, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.decided[0] != first || len(r.decided) != 1 {
		t.Errorf("decided %v, want only %s", r.decided, first)
	}
	ids, _ := r.sp.List()
	if !slices.Equal(ids, slices.Sorted(slices.Values(later))) {
		t.Errorf("new/ holds %v, want the unstarted %v", ids, later)
	}
	if st := r.stats(); st.Claimed != 0 {
		t.Errorf("%d entries left in claimed/", st.Claimed)
	}
}

// A policy is reloaded when its file changes (poll) and when told
// (SIGHUP); one that stops loading keeps the last good one, loudly, and
// the replaced policies' channels are closed.
func TestPolicyReloadAndLastGood(t *testing.T) {
	r := newRig(t, nil)
	r.start()
	decide := func(sev string) {
		t.Helper()
		id := r.put("cmon/ctl/1/r"+sev+fmt.Sprint(len(r.decided)), sev)
		if got := r.wake(id); got != spool.WakeClaimed {
			t.Fatalf("wake: %v", got)
		}
		wait(t, r.done, "a decision")
	}
	decide("critical")
	if n := len(r.chans["pager"].messages()); n != 1 {
		t.Fatalf("pager got %d, want 1", n)
	}
	// Told: critical now goes to chat.
	os.WriteFile(r.policy, []byte(strings.Replace(testPolicy, "notify: [pager]", "notify: [chat]", 1)), 0o644)
	r.srv.Reload()
	if err := r.wait(r.loads, "the reload"); err != nil {
		t.Fatal(err)
	}
	decide("critical")
	if n := len(r.chans["chat"].messages()); n != 1 {
		t.Errorf("after the reload chat got %d, want 1", n)
	}
	// Broken: the last good one stays, loudly, in the status too.
	os.WriteFile(r.policy, []byte("rules: [\n"), 0o644)
	r.srv.Reload()
	if err := r.wait(r.loads, "the failed reload"); err == nil {
		t.Fatal("a broken policy loaded")
	}
	decide("critical")
	if n := len(r.chans["chat"].messages()); n != 2 {
		t.Errorf("with the policy broken chat got %d, want 2 (the last good policy)", n)
	}
	st, err := spool.AskStatus(r.sp.Path, 30*time.Second) // as notifier status asks
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.Spool != r.sp.Path || st.Claimed != 3 {
		t.Errorf("status %+v, want this pid, the spool, 3 claimed", st)
	}
	if len(st.Policies) != 1 || !st.Policies[0].LastGood || st.Policies[0].Error == "" || st.Policies[0].Path != r.policy {
		t.Errorf("status policies %+v, want one, last good, with its error", st.Policies)
	}
	if !strings.Contains(r.allNotes(), "still using the policy loaded at") {
		t.Errorf("no note says the last good policy is used:\n%s", r.allNotes())
	}
	// Polled: fixed on disk, seen without being told.
	r.stop()
	r2 := newRig(t, func(c *Config) { c.PollEvery = 20 * time.Millisecond })
	r2.start()
	os.WriteFile(r2.policy, []byte(strings.Replace(testPolicy, "notify: [pager]", "notify: [chat, pager]", 1)), 0o644)
	if err := r2.wait(r2.loads, "the reload on change"); err != nil {
		t.Fatal(err)
	}
	r2.mu.Lock()
	closed := r2.closed
	r2.mu.Unlock()
	if closed != 1 {
		t.Errorf("%d wirings closed after one reload, want the replaced one", closed)
	}
	r2.stop()
	if r2.closed != 2 {
		t.Errorf("%d wirings closed after stopping, want 2", r2.closed)
	}
}

// An entry whose event does not decode goes to bad/ with the reason.
func TestUndecodableToBad(t *testing.T) {
	r := newRig(t, func(c *Config) {
		c.Decode = func(*spool.Entry, eventDefaults) (*eventT, error) { return nil, errors.New("no such source") }
	})
	r.start()
	id := r.put("cmon/ctl/1/bad", "critical")
	if got := r.wake(id); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	r.stop()
	st := r.stats()
	if st.Bad != 2 || st.New+st.Claimed != 0 {
		t.Errorf("spool %+v, want the entry and its reason in bad/", st)
	}
	if !strings.Contains(r.allNotes(), "no such source") {
		t.Errorf("the reason is not said:\n%s", r.allNotes())
	}
}

// A decision made with the state unusable and nothing to deliver is
// done, as an in-process run's is (the pipeline's Decided): the entry is
// not put back to be decided again later, at another time, by rules that
// chose nothing.
func TestStateUnusableNothingToDeliver(t *testing.T) {
	r := newRig(t, func(c *Config) {
		c.Stores = func(*engine.Policy) (*state.Topology, error) {
			return nil, fmt.Errorf("%w: no space left on device", state.ErrUnavailable)
		}
	})
	os.WriteFile(r.policy, []byte("channels:\n  log: {type: syslog}\nrules:\n  - name: none\n    when: 'false'\n    notify: [log]\n"), 0o644)
	r.start()
	id := r.put("cmon/ctl/1/u", "critical")
	if got := r.wake(id); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	wait(t, r.done, "the decision")
	r.stop()
	if st := r.stats(); st.New+st.Claimed+st.Bad != 0 {
		t.Errorf("spool %+v after the decision, want it empty", st)
	}
	if !strings.Contains(r.allNotes(), "no space left on device") {
		t.Errorf("the state's failure is not said:\n%s", r.allNotes())
	}
}

// A delivery that failed is queued; the engine flushes it by itself once
// it is due, without another event or `notifier flush` (FlushEvery is
// short here: when the test moves the clock is not the engine's to know).
func TestFlushWhenDue(t *testing.T) {
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	r := newRig(t, func(c *Config) {
		c.Clock = func() time.Time { return *now.Load() }
		c.FlushEvery = 20 * time.Millisecond
	})
	r.chans["pager"].fail = 1
	r.start()
	if got := r.wake(r.put("cmon/ctl/1/f", "critical")); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	wait(t, r.done, "the decision")
	r.mu.Lock()
	rep := r.reports[r.decided[0]]
	r.mu.Unlock()
	if rep.Queued != 1 || rep.Delivered != 0 {
		t.Fatalf("decision: %d queued, %d delivered; want the failed delivery queued", rep.Queued, rep.Delivered)
	}
	later := start.Add(2 * time.Hour) // past its Retry-After
	now.Store(&later)
	for {
		f := wait(t, r.flushes, "a flush that delivers")
		if f.Delivered == 1 {
			break
		}
	}
	if n := len(r.chans["pager"].messages()); n != 1 {
		t.Errorf("pager got %d, want the retried delivery", n)
	}
}

// With the workers stuck (a channel that hangs) and entries waiting, a
// wake-up is answered busy and the entry left in new/, never claimed:
// its drop decides it in-process instead of waiting behind them.
func TestBusyWhenWorkersStuck(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Workers = 1; c.StallAfter = time.Nanosecond })
	pager := r.chans["pager"]
	pager.gate, pager.started = make(chan struct{}), make(chan string, 10)
	r.start()
	defer close(pager.gate)
	first := r.put("cmon/ctl/1/first", "critical")
	if got := r.wake(first); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	wait(t, pager.started, "the first delivery") // it holds the only worker
	second := r.put("cmon/ctl/1/second", "critical")
	if got := r.wake(second); got != spool.WakeClaimed {
		t.Fatalf("wake of the second (nothing waiting yet): %v", got)
	}
	third := r.put("cmon/ctl/1/third", "critical")
	if got := r.wake(third); got != spool.WakeDeclined {
		t.Fatalf("wake with the worker stuck and one waiting: %v, want declined", got)
	}
	if ids, _ := r.sp.List(); !slices.Equal(ids, []string{third}) {
		t.Errorf("new/ holds %v, want %s untouched", ids, third)
	}
}
