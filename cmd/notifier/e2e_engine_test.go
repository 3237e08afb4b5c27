//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/engine/spool"
	"notifier/engine/state"
	"notifier/internal/harness"
)

// End-to-end tests of the drop and the engine (issue 11's invariants),
// through the built binaries: notifier (the full binary, whose run is the
// drop), notifier-drop, and `notifier serve` supervised by the test. They
// start hundreds of processes and take about a minute in all, so they are
// behind the e2e build tag: `make e2e` runs them once, as root (the
// foreign-policy test runs processes as other users), after the packages'
// users exist. Alone: go test -tags e2e -run TestE2EEngine ./cmd/notifier/

// engineRig is one policy, its spool and its engine: everything a test
// runs names the spool through NOTIFIER_SPOOL (--spool for the engine),
// and a cache of its own, so nothing touches /var/lib/notifier.
type engineRig struct {
	h      *harness.Harness
	dir    string
	spool  string
	audit  string
	env    []string // for every invocation and command
	engine *harness.Engine
}

// newEngineRig writes policy (with settings.audit_log added) against the
// harness's local endpoints and prepares its engine (not started).
func newEngineRig(t *testing.T, policy string) *engineRig {
	t.Helper()
	dir := t.TempDir()
	r := &engineRig{dir: dir, audit: filepath.Join(dir, "audit.jsonl")}
	src := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(src, []byte("settings:\n  audit_log: "+r.audit+"\n"+policy), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := harness.New(binary, src, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	r.h, r.spool = h, h.Spool
	cache := "NOTIFIER_CACHE_DIR=" + filepath.Join(dir, "cache")
	r.env = []string{"NOTIFIER_SPOOL=" + r.spool, cache}
	r.engine = harness.NewEngine(binary, harness.EngineOptions{Configs: []string{h.Config}, Spool: r.spool, Workers: 16, Env: []string{cache}})
	t.Cleanup(func() {
		r.engine.Close()
		if t.Failed() {
			t.Logf("the engine's output:\n%s", tail(r.engine.Stderr(), 80))
		}
	})
	return r
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// startEngine starts the engine and waits until it answers on its wake-up
// socket.
func (r *engineRig) startEngine(t *testing.T) *spool.EngineStatus {
	t.Helper()
	if err := r.engine.Start(); err != nil {
		t.Fatal(err)
	}
	return r.ready(t)
}

func (r *engineRig) ready(t *testing.T) *spool.EngineStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := r.engine.Ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// engineStopBound: SIGTERM lets the engine finish the entries it is
// deciding, each within the policy's deadline and the detached settling.
const engineStopBound = 20*time.Second + state.DetachedWait + 15*time.Second

// stopEngine stops the engine with SIGTERM: it must exit 0.
func (r *engineRig) stopEngine(t *testing.T) {
	t.Helper()
	code, err := r.engine.Stop(engineStopBound)
	if err != nil || code != 0 {
		t.Errorf("the engine, stopped with SIGTERM: exit %d, %v; its output:\n%s", code, err, tail(r.engine.Stderr(), 40))
	}
}

// status asks the running engine for its status.
func (r *engineRig) status(t *testing.T) *spool.EngineStatus {
	t.Helper()
	st, err := r.engine.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// invocation is how the i-th process runs: every other one through
// notifier-drop, the rest through notifier itself (the same drop).
func (r *engineRig) invocation(t *testing.T, i int, extraEnv ...string) harness.Invocation {
	inv := harness.Invocation{Env: append(append([]string{}, r.env...), extraEnv...)}
	if i%2 == 1 {
		inv.Bin = mustDropBinary(t)
	}
	return inv
}

// waitIdle waits until the spool holds nothing queued or claimed and, if
// the engine runs, it has nothing in flight.
func (r *engineRig) waitIdle(t *testing.T, engine bool) {
	t.Helper()
	var last string
	deadline := time.Now().Add(time.Minute)
	for {
		queued, claimed, _, err := harness.SpoolDepth(r.spool)
		last = fmt.Sprintf("spool: %d queued, %d claimed (%v)", queued, claimed, err)
		idle := err == nil && queued == 0 && claimed == 0
		if idle && engine {
			st, err := r.engine.Status()
			idle = err == nil && st.InFlight == 0
			if err == nil {
				last += fmt.Sprintf("; engine: %d in flight", st.InFlight)
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 1m for the spool and the engine to be idle; last: %s:%s", last, harness.SpoolList(r.spool))
		}
		time.Sleep(20 * time.Millisecond) // polling another process's progress
	}
}

// wantSpoolEmpty fails unless the spool holds nothing at all.
func (r *engineRig) wantSpoolEmpty(t *testing.T) {
	t.Helper()
	queued, claimed, bad, err := harness.SpoolDepth(r.spool)
	if err != nil || queued+claimed+bad != 0 {
		t.Errorf("spool not empty (%v):%s", err, harness.SpoolList(r.spool))
	}
}

// decisions counts, per event key, the decisions made about it: the
// history's decision entries (everything but the outcomes of delivery
// attempts) and the audit lines of decisions made without state (fail
// open: they have no history; what they sent is "unsuppressed"). The
// policies here notify one channel, so each decision is one history
// entry. unsettled are the keys whose audit line says the state could not
// be used after a decision with state (recording a delivery failed, so
// the delivery stays queued and is made again: at least once).
func (r *engineRig) decisions(t *testing.T) (decided map[string]int, unsettled map[string]bool) {
	t.Helper()
	hist := history(t, r.h)
	decided, unsettled = map[string]int{}, map[string]bool{}
	for _, e := range hist.History {
		switch e.Outcome {
		case state.OutcomeDelivered, state.OutcomeQueued, state.OutcomeFailed, state.OutcomeSuperseded:
		default:
			decided[e.Key]++
		}
	}
	data, err := os.ReadFile(r.audit)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var a struct {
			Key        string `json:"key"`
			StateError string `json:"state_error"`
			Sent       []struct {
				Outcome state.Outcome `json:"outcome"`
			} `json:"sent"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		switch {
		case len(a.Sent) > 0 && a.Sent[0].Outcome == state.OutcomeUnsuppressed:
			decided[a.Key]++
		case a.StateError != "":
			unsettled[a.Key] = true
		}
	}
	return decided, unsettled
}

// describeKey is what the history and the audit log say of key, for a
// failure message.
func (r *engineRig) describeKey(t *testing.T, key string) string {
	t.Helper()
	var b strings.Builder
	if hist, err := r.h.History(testCtx(t), key); err == nil {
		for _, e := range hist.History {
			fmt.Fprintf(&b, "\n    history %s %s %s %s", e.Time.Format(time.StampMicro), e.Outcome, e.Channel, e.Reason)
		}
	}
	data, _ := os.ReadFile(r.audit)
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, `"key":"`+key+`"`) {
			fmt.Fprintf(&b, "\n    audit %s", l)
		}
	}
	return b.String()
}

// flushAll runs `notifier flush` (no engine may be running): it claims
// what the spool still holds and delivers what the outbox still holds,
// taking over what dead owners leased.
func flushAll(t *testing.T, r *engineRig) {
	t.Helper()
	res, err := r.h.CommandEnv(testCtx(t), r.env, "flush")
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 0 {
		t.Errorf("notifier flush: exit %d: %s", res.Exit, res.Stderr)
	}
}

// outcomes counts the history's entries by outcome.
func (r *engineRig) outcomes(t *testing.T) map[string]int { return history(t, r.h).Outcomes() }

// wantOutboxEmpty fails unless nothing is queued and nothing dead.
func (r *engineRig) wantOutboxEmpty(t *testing.T) {
	t.Helper()
	hist := history(t, r.h)
	if len(hist.Queued)+len(hist.DeadLetters) != 0 {
		t.Errorf("outbox not empty: queued %s, dead %s", harness.DescribeEntries(hist.Queued), harness.DescribeEntries(hist.DeadLetters))
	}
}

// triggers counts PagerDuty's accepted triggers per dedup key, and fails
// on any request that was not one.
func triggers(t *testing.T, h *harness.Harness) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range h.PagerDuty.Events() {
		if r.Status != 202 || r.Event.EventAction != "trigger" {
			t.Errorf("PagerDuty request %d: HTTP %d %s %s, want accepted triggers only", r.Seq, r.Status, r.Event.EventAction, r.Event.DedupKey)
			continue
		}
		out[r.Event.DedupKey]++
	}
	return out
}

// alarms returns n distinct critical alarms (ids from base) and their keys.
func alarms(t *testing.T, base, n int) (inputs [][]byte, keys []string) {
	t.Helper()
	alarm := readExample(t, criticalAlarm)
	for i := range n {
		id := strconv.Itoa(base + i)
		data, err := harness.WithAlarmID(alarm, id)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
		keys = append(keys, cmonKey(id))
	}
	return inputs, keys
}

// TestE2EEngineWithInProcess: an engine and in-process invocations on one
// state at once never deadlock. Every alarm is raised twice in one burst
// of 200 processes, once by an invocation that hands it to the engine
// and once by one that does not wait for an engine
// (NOTIFIER_CLAIM_WAIT=0) and decides it in-process: every process ends
// within its deadline, exit 0; each alarm pages once (the two decisions
// share the suppression window), is decided twice and never more.
func TestE2EEngineWithInProcess(t *testing.T) {
	const n = 100
	r := newEngineRig(t, pagerPolicy)
	r.startEngine(t)
	inputs, keys := alarms(t, 7_000_000, n)
	gate := make(chan struct{})
	// A process still running past its deadline plus the detached
	// settling is stuck: Pacemaker would kill it at its 30 s timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second+state.DetachedWait+5*time.Second)
	defer cancel()
	var procs []*harness.Proc
	for a := range n {
		for m := range 2 { // each alarm once in-process, once to the engine,
			var extra []string
			if m == 0 {
				extra = []string{"NOTIFIER_CLAIM_WAIT=0"}
			}
			inv := r.invocation(t, a+m, extra...) // through either binary
			inv.Gate = gate
			p, err := r.h.StartCMONWith(ctx, inputs[a], inv)
			if err != nil {
				close(gate)
				t.Fatal(err)
			}
			procs = append(procs, p)
		}
	}
	close(gate)
	results := waitAll(t, procs)
	if ctx.Err() != nil {
		t.Errorf("some processes ran past their deadline (killed at %v)", 20*time.Second+state.DetachedWait+5*time.Second)
	}
	wantClean(t, results)
	r.waitIdle(t, true)
	st := r.status(t)
	t.Logf("the engine claimed %d of %d invocations' entries", st.Claimed, 2*n)
	if st.Claimed == 0 {
		t.Errorf("the engine claimed nothing: the test did not run both paths")
	}
	// `notifier status` sees the engine, and all is healthy.
	res, err := r.h.CommandEnv(testCtx(t), r.env, "status")
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 0 || !strings.Contains(res.Stdout, "engine: up\n") || !strings.Contains(res.Stdout, fmt.Sprintf("engine_pid: %d\n", r.engine.Pid())) {
		t.Errorf("notifier status: exit %d, want 0 and the engine's pid %d; stdout:\n%s\nstderr: %s", res.Exit, r.engine.Pid(), res.Stdout, res.Stderr)
	}
	r.stopEngine(t)
	// What a run delivered but could not record (its lock wait ran out
	// in the burst) is still queued, leased to it until its deadline: a
	// flush delivers it again (at least once).
	flushAll(t, r)
	got := triggers(t, r.h)
	dec, unsettled := r.decisions(t)
	for _, k := range keys {
		if got[k] == 0 || got[k] > 1 && !unsettled[k] || dec[k] != 2 {
			t.Errorf("%s: %d triggers, %d decisions; want one trigger (more only after a delivery that could not be recorded) and 2 decisions:%s", k, got[k], dec[k], r.describeKey(t, k))
		}
	}
	if len(got) != n {
		t.Errorf("PagerDuty got triggers for %d keys, want %d", len(got), n)
	}
	r.wantOutboxEmpty(t)
	r.wantSpoolEmpty(t)
}
