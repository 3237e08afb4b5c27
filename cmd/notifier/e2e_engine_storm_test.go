//go:build e2e

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"notifier/engine/spool"
	"notifier/engine/state"
)

// stormParallel is how many invocations run at once: CMON's and
// Pacemaker's storms as bench/ measures them.
const stormParallel = 16

// invoked is how one invocation of a storm ended.
type invoked struct {
	exit   int // -1: ended by a signal
	stderr string
	wall   time.Duration // from start to exit, as its caller saw it
	killed bool          // the test sent it SIGKILL
	phase  int32         // the engine's phase when it started (TestE2EEngineStopped)
	err    error         // could not be started or waited for
}

// invoke runs input as the i-th invocation and, when killAfter > 0,
// sends it SIGKILL after that long (it may have exited already).
func (r *engineRig) invoke(ctx context.Context, t *testing.T, i int, input []byte, killAfter time.Duration) invoked {
	start := time.Now()
	p, err := r.h.StartCMONWith(ctx, input, r.invocation(t, i))
	if err != nil {
		return invoked{err: err}
	}
	var killed atomic.Bool
	if killAfter > 0 {
		timer := time.AfterFunc(killAfter, func() {
			killed.Store(true)
			p.Kill()
		})
		defer timer.Stop()
	}
	res, err := p.Wait()
	return invoked{exit: res.Exit, stderr: res.Stderr, wall: time.Since(start), killed: killed.Load(), err: err}
}

// TestE2EEngineKillStorm: 1000 distinct alarms, 16 processes at a time,
// with the engine running; the engine is killed with SIGKILL at random
// moments (and started again at once), and a random sample of the
// invocations too. Then `notifier flush`. Every alarm whose invocation
// exited 0 was delivered; no alarm was decided twice (its history and
// fail-open audit lines count one decision at most); whatever was
// decided was delivered; the spool and the outbox are empty. A delivery
// may repeat only where a kill hit between the request and its settling
// (at-least-once): at most one per killed invocation and, per engine
// kill, one per worker.
func TestE2EEngineKillStorm(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	r := newEngineRig(t, pagerPolicy)
	r.startEngine(t)
	inputs, keys := alarms(t, 5_000_000, n)
	// About one invocation in twelve is killed, at a random moment of
	// its life: before, while or after it spools, hands off or decides.
	killAfter := make([]time.Duration, n)
	for i := range killAfter {
		if rng.IntN(12) == 0 {
			killAfter[i] = time.Duration(1+rng.IntN(60_000)) * time.Microsecond
		}
	}
	pauses := make([]time.Duration, 1000) // between engine kills
	for i := range pauses {
		pauses[i] = time.Duration(150+rng.IntN(900)) * time.Millisecond
	}

	stop, chaosDone := make(chan struct{}), make(chan struct{})
	var engineKills int
	var chaosErr error
	go func() {
		defer close(chaosDone)
		for _, pause := range pauses {
			select {
			case <-stop:
				return
			case <-time.After(pause): // the random moment of the next kill
			}
			r.engine.Kill()
			engineKills++
			if err := r.engine.Start(); err != nil {
				chaosErr = err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := r.engine.Ready(ctx)
			cancel()
			if err != nil {
				chaosErr = err
				return
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	results := make([]invoked, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range stormParallel {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				results[i] = r.invoke(ctx, t, i, inputs[i], killAfter[i])
			}
		})
	}
	wg.Wait()
	close(stop)
	<-chaosDone
	if chaosErr != nil {
		t.Fatalf("restarting the engine after kill %d: %v", engineKills, chaosErr)
	}
	stormTook := time.Since(began)
	r.stopEngine(t)
	flush, err := r.h.CommandEnv(ctx, r.env, "flush")
	if err != nil {
		t.Fatal(err)
	}
	if flush.Exit != 0 {
		t.Errorf("notifier flush: exit %d: %s", flush.Exit, flush.Stderr)
	}

	exited0, killedN, failed := map[string]bool{}, 0, 0
	for i, res := range results {
		switch {
		case res.err != nil:
			t.Fatalf("invocation %d: %v", i, res.err)
		case res.exit == 0:
			exited0[keys[i]] = true
		case res.killed && res.exit == -1:
			killedN++
		default:
			if failed++; failed <= 5 {
				t.Errorf("invocation %d (%s): exit %d: %s", i, keys[i], res.exit, res.stderr)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d invocations failed without being killed", failed)
	}
	t.Logf("%d alarms in %v: %d invocations exited 0, %d killed; the engine was killed %d times", n, stormTook.Round(time.Millisecond), len(exited0), killedN, engineKills)
	if engineKills < 2 || killedN < 1 {
		t.Errorf("the storm killed the engine %d times and %d invocations: the test did not test", engineKills, killedN)
	}

	got := triggers(t, r.h)
	dec, unsettled := r.decisions(t)
	storm := map[string]bool{}
	dups := 0
	for _, k := range keys {
		storm[k] = true
		switch {
		case exited0[k] && (got[k] == 0 || dec[k] != 1):
			t.Errorf("%s: its invocation exited 0; delivered %d times, decided %d times; want at least once, and once", k, got[k], dec[k])
		case dec[k] > 1:
			t.Errorf("%s: decided %d times:%s", k, dec[k], r.describeKey(t, k))
		case dec[k] == 1 && got[k] == 0:
			t.Errorf("%s: decided but never delivered", k)
		}
		dups += max(0, got[k]-1)
	}
	for k := range got {
		if !storm[k] {
			t.Errorf("PagerDuty got a trigger for %s, which no invocation raised", k)
		}
	}
	if bound := killedN + engineKills*stormParallel + len(unsettled); dups > bound {
		t.Errorf("%d repeated deliveries; at most %d can be explained by the kills and the %d deliveries that could not be recorded", dups, bound, len(unsettled))
	}
	t.Logf("%d keys delivered, %d deliveries repeated (after a kill, or a delivery that could not be recorded: %d)", len(got), dups, len(unsettled))
	if o := r.outcomes(t); o["suppressed"] != 0 {
		t.Errorf("history outcomes %v: a suppressed decision is an alarm decided twice", o)
	}
	r.wantOutboxEmpty(t)
	r.wantSpoolEmpty(t)
}

// The engine's phases in TestE2EEngineStopped.
const (
	phaseRunning int32 = iota
	phaseStopped
	phaseContinued
)

// TestE2EEngineStopped: the engine stopped with SIGSTOP in the middle of a
// storm (for 5 s, longer if this machine is so slow that 5 s could not
// tell waiting from working). No invocation takes longer than the claim
// bound plus its in-process time, which this test measures first on the
// same machine, at the same concurrency, without an engine (the bound is
// generous: three times the slowest of those runs). Nothing is lost, no
// alarm decided twice; after SIGCONT the engine carries on: it claims
// again, and it delivers, without a flush, what it held while stopped.
// (A flush at the end delivers again what a run delivered but could not
// record; then the outbox must be empty. A delivery may repeat: at least
// once.)
func TestE2EEngineStopped(t *testing.T) {
	r := newEngineRig(t, pagerPolicy)
	// 1. Without an engine, every invocation runs in-process.
	const measured = 3 * stormParallel
	inputs, keys := alarms(t, 8_000_000, measured)
	var inProcess time.Duration
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx := testCtx(t)
	for range stormParallel {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < measured; i = int(next.Add(1) - 1) {
				res := r.invoke(ctx, t, i, inputs[i], 0)
				if res.err != nil || res.exit != 0 {
					t.Errorf("without an engine, invocation %d: exit %d, %v: %s", i, res.exit, res.err, res.stderr)
				}
				mu.Lock()
				inProcess = max(inProcess, res.wall)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	bound := spool.DefaultWakeBound
	limit := bound + 3*inProcess
	stopFor := max(5*time.Second, 2*limit)
	t.Logf("slowest in-process invocation of %d: %v; limit with an engine: %v; the engine is stopped for %v", measured, inProcess, limit, stopFor)

	// 2. The storm: invocations go on, 16 at a time, until 64 more have
	// ended after SIGCONT.
	r.startEngine(t)
	const warm, after, most = 48, 64, 5000
	more, _ := alarms(t, 8_100_000, most)
	var phase atomic.Int32
	var done, doneAtCont atomic.Int64
	warmed := make(chan struct{})
	var warmOnce sync.Once
	results := make([]invoked, most)
	next.Store(0)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for range stormParallel {
		wg.Go(func() {
			for {
				if phase.Load() == phaseContinued && done.Load()-doneAtCont.Load() >= after {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= most {
					return
				}
				p := phase.Load()
				res := r.invoke(ctx, t, i, more[i], 0)
				res.phase = p
				results[i] = res
				if done.Add(1) >= warm {
					warmOnce.Do(func() { close(warmed) })
				}
			}
		})
	}
	<-warmed
	before := r.status(t)
	pid := r.engine.Pid()
	if err := r.engine.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	phase.Store(phaseStopped)
	// Was it stopped holding the state's lock?
	locks := heldLocks(pid, r.h.State, r.h.State+".lock", filepath.Join(r.spool, "engine.lock"))
	<-time.After(stopFor) // the stop itself: what the invariant is about
	doneAtCont.Store(done.Load())
	if err := r.engine.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	phase.Store(phaseContinued)
	cont := r.status(t)
	wg.Wait()
	ran := int(min(next.Load(), most))
	results = results[:ran]
	r.waitIdle(t, true)
	end := r.status(t)
	// Everything is delivered by the invocations or the engine, without
	// a flush: a delivery a run queued and could not make waits for its
	// lease (the run's deadline) and the engine's flush timer.
	_, ranKeys := alarms(t, 8_100_000, ran)
	keys = append(keys, ranKeys...)
	var missing []string
	deadline := time.Now().Add(20*time.Second + state.DetachedWait + 60*time.Second)
	for {
		delivered := triggers(t, r.h)
		missing = missing[:0]
		for _, k := range keys {
			if delivered[k] == 0 {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling the engine's progress
	}
	for _, k := range missing {
		t.Errorf("%s: not delivered by the invocations nor the engine:%s", k, r.describeKey(t, k))
	}
	r.stopEngine(t)
	// What a run delivered but could not record is still queued, leased
	// to it until its deadline: a flush delivers it again.
	flushAll(t, r)

	byPhase := map[int32]int{}
	slow, failedOpen := 0, 0
	for i, res := range results {
		byPhase[res.phase]++
		switch {
		case res.err == nil && res.exit == 0:
		case res.err == nil && res.exit == 1 && onlyStateTrouble(res.stderr):
			// A run that cannot use the state in time delivers all the
			// same (failing open, or recording its delivery later: checked
			// below) and exits 1, saying so. Counted, not an error.
			failedOpen++
		default:
			t.Errorf("invocation %d: exit %d, %v: %s", i, res.exit, res.err, res.stderr)
		}
		if res.wall >= limit {
			if slow++; slow <= 10 {
				t.Errorf("invocation %d (started with the engine %s) took %v, more than the claim bound %v plus 3x the slowest in-process run (%v)",
					i, []string{"running", "stopped", "continued"}[res.phase], res.wall.Round(time.Millisecond), bound, inProcess)
			}
		}
	}
	if slow > 0 {
		t.Errorf("%d of %d invocations took longer than %v; the engine's locks when it was stopped: %s", slow, ran, limit, locks)
	}
	if failedOpen > 0 {
		t.Logf("%d invocations exited 1: the state was not usable in time", failedOpen)
	}
	t.Logf("invocations by the engine's phase at their start: %d running, %d stopped, %d continued; claimed %d before the stop, %d at SIGCONT, %d at the end",
		byPhase[phaseRunning], byPhase[phaseStopped], byPhase[phaseContinued], before.Claimed, cont.Claimed, end.Claimed)
	if slow == 0 && byPhase[phaseStopped] < stormParallel { // (slow ones leave no room for more)
		t.Errorf("only %d invocations started while the engine was stopped", byPhase[phaseStopped])
	}
	if end.PID != pid || end.Claimed <= cont.Claimed {
		t.Errorf("after SIGCONT the engine (pid %d, now %d) claimed %d more: want the same engine claiming again", pid, end.PID, end.Claimed-cont.Claimed)
	}
	got := triggers(t, r.h)
	dec, unsettled := r.decisions(t)
	dups := 0
	for _, k := range keys {
		if got[k] == 0 || dec[k] != 1 {
			t.Errorf("%s: delivered %d times, decided %d times; want at least once, and once:%s", k, got[k], dec[k], r.describeKey(t, k))
		}
		dups += max(0, got[k]-1)
	}
	// At least once: a request the engine had in flight when it was
	// stopped may have reached PagerDuty and still time out on its side
	// (and be made again), as may one whose outcome a run could not
	// record.
	if bound := stormParallel + len(unsettled); dups > bound {
		t.Errorf("%d deliveries repeated; at most %d: one per engine worker, and one per delivery that could not be recorded (%d)", dups, bound, len(unsettled))
	}
	t.Logf("%d deliveries repeated (%d could not be recorded)", dups, len(unsettled))
	if want := measured + ran; len(got) != want {
		t.Errorf("PagerDuty got triggers for %d keys, want %d", len(got), want)
	}
	r.wantOutboxEmpty(t)
	r.wantSpoolEmpty(t)
}

// onlyStateTrouble: every line of stderr says the state could not be used
// (a run failing open, or one that could not record what it delivered).
func onlyStateTrouble(stderr string) bool {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "notifier: state unusable, delivering without suppression: ") && !strings.HasPrefix(l, "notifier: state: ") {
			return false
		}
	}
	return len(lines) > 0 && lines[0] != ""
}

// heldLocks lists the file locks pid holds (/proc/locks), naming those
// of files, for a failure message: an engine stopped while it holds the
// state's lock makes every in-process run wait for it.
func heldLocks(pid int, files ...string) string {
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return err.Error()
	}
	inodes := map[string]string{}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			inodes[fmt.Sprint(st.Sys().(*syscall.Stat_t).Ino)] = filepath.Base(f)
		}
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[4] != fmt.Sprint(pid) {
			continue
		}
		dev := strings.Split(f[5], ":")
		name := inodes[dev[len(dev)-1]]
		if name == "" {
			name = "inode " + dev[len(dev)-1]
		}
		out = append(out, f[1]+" "+f[3]+" "+name)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
