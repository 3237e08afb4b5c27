package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"notifier/engine/spool"
	"notifier/engine/spool/spoolnet"
	"notifier/engine/state"
	"notifier/engine/state/bolt"
)

// statusSetup is a policy and a state path in a temp dir; the spool
// follows the state path (dir/spool).
type statusSetup struct {
	dir, policy, statePath, spool string
	env                           []string
}

func newStatusSetup(t *testing.T) *statusSetup {
	t.Helper()
	dir := t.TempDir()
	s := &statusSetup{dir: dir, policy: filepath.Join(dir, "p.yaml"), statePath: filepath.Join(dir, "state.db"), spool: filepath.Join(dir, "spool")}
	if err := os.WriteFile(s.policy, []byte("channels:\n  l: {type: syslog}\nrules:\n  - {name: all, when: 'true', notify: [l]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = []string{"NOTIFIER_CONFIG=" + s.policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + s.statePath}
	return s
}

func (s *statusSetup) status(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runInProcess(t, "", s.env, append([]string{"status"}, args...)...)
}

// put writes records into the setup's state.
func (s *statusSetup) put(t *testing.T, fn func(recs map[string]*state.Record) error) {
	t.Helper()
	st, err := bolt.Open(s.statePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(context.Background(), nil, fn); err != nil {
		t.Fatal(err)
	}
}

// spoolFile makes a file named name in the setup's spool directory sub.
func (s *statusSetup) spoolFile(t *testing.T, sub, name string) {
	t.Helper()
	sp, err := spool.Open(s.spool)
	if err == nil {
		err = sp.Prepare(sub)
		sp.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.spool, sub, name), []byte("{}"), 0o640); err != nil {
		t.Fatal(err)
	}
}

// lineValue is the value of the `name: value` line name, or "".
func lineValue(stdout, name string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return v
		}
	}
	return ""
}

func wantLines(t *testing.T, stdout string, lines ...string) {
	t.Helper()
	have := strings.Split(stdout, "\n")
	for _, l := range lines {
		found := false
		for _, h := range have {
			found = found || h == l
		}
		if !found {
			t.Errorf("no line %q in:\n%s", l, stdout)
		}
	}
}

// A fresh setup (no state file, no spool, no engine) is healthy, and
// status makes none of them: it only looks.
func TestStatusHealthyEmpty(t *testing.T) {
	s := newStatusSetup(t)
	code, stdout, stderr := s.status(t)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "engine: not running", "spool: "+s.spool, "spool_new: 0", "spool_claimed: 0", "spool_bad: 0",
		"spool_oldest: none", "policy: "+s.policy, "policy_loads: yes", "state: reachable", "outbox: 0",
		"dead_letters: 0", "failure_marks: 0", "healthy: yes")
	for _, p := range []string{s.spool, s.statePath} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("status made %s (%v)", p, err)
		}
	}
	// A queued delivery and a fresh spool entry are work, not trouble.
	s.put(t, func(recs map[string]*state.Record) error {
		return state.OutboxKind.Put(recs, state.NewEntryID(time.Now()), state.Entry{ID: "o/1", Key: "k", Channel: "l"}, time.Now().Add(time.Hour))
	})
	s.spoolFile(t, spool.NewDir, spool.NewID(time.Now()))
	code, stdout, stderr = s.status(t)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "outbox: 1", "spool_new: 1", "healthy: yes")
}

// A dead letter, or a channel's failure mark, is unhealthy: exit 1, a
// line each on stderr.
func TestStatusDeadLetterAndMark(t *testing.T) {
	s := newStatusSetup(t)
	s.put(t, func(recs map[string]*state.Record) error {
		return state.DeadKind.Put(recs, state.DeadKind.ID("1"), state.Entry{ID: "o/1", Key: "k", Channel: "l"}, time.Now().Add(time.Hour))
	})
	code, stdout, stderr := s.status(t)
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "1 dead letter(s)") {
		t.Fatalf("exit %d, stderr %q; want 1 and a line saying the dead letter\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "dead_letters: 1", "healthy: no")

	s.put(t, func(recs map[string]*state.Record) error {
		return state.FailureKind.Put(recs, state.FailureID("l"), state.Failure{Channel: "l", Key: "k", Action: "trigger", At: time.Now(), Error: "refused", Count: 2}, time.Now().Add(time.Hour))
	})
	code, stdout, stderr = s.status(t)
	if code != 1 || strings.Count(stderr, "\n") != 2 || !strings.Contains(stderr, `channel "l": 2 deliveries given up`) {
		t.Fatalf("exit %d, stderr %q; want 1 and the mark's line too\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "failure_marks: 1")
}

// An entry older than two minutes in new/ or claimed/ means nothing is
// deciding; anything in bad/ needs a person.
func TestStatusSpoolProblems(t *testing.T) {
	for _, tc := range []struct {
		sub, name, line, says string
	}{
		{spool.NewDir, spool.NewID(time.Now().Add(-10 * time.Minute)), "spool_new: 1", "the oldest entry is 10m"},
		{spool.ClaimedDir, spool.NewID(time.Now().Add(-3*time.Minute)) + ".host~1~abcd", "spool_claimed: 1", "the oldest entry is 3m"},
		{spool.BadDir, "junk", "spool_bad: 1", "1 file(s) in bad/"},
	} {
		t.Run(tc.sub, func(t *testing.T) {
			s := newStatusSetup(t)
			s.spoolFile(t, tc.sub, tc.name)
			code, stdout, stderr := s.status(t)
			if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.says) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q\n%s", code, stderr, tc.says, stdout)
			}
			wantLines(t, stdout, tc.line, "healthy: no")
		})
	}
}

// An engine answering on the spool's socket: its pid, uptime and
// policies are shown; one on its last good policy makes status unhealthy.
func TestStatusEngineUp(t *testing.T) {
	s := newStatusSetup(t)
	sp, err := spool.Open(s.spool)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	l, err := spoolnet.Listen(sp)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	st := spool.EngineStatus{PID: 4242, Owner: "h/4242/x", Started: time.Now().Add(-time.Hour), Version: "9.9",
		Spool: s.spool, Policies: []spool.PolicyStatus{{Path: s.policy, LoadedAt: time.Now()}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- sp.ServeWith(ctx, l, "h/4242/x", func(*spool.Claimed) bool { return false }, spool.ServeOptions{Status: func() spool.EngineStatus {
			mu.Lock()
			defer mu.Unlock()
			return st
		}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	code, stdout, stderr := s.status(t)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "engine: up", "engine_pid: 4242", "engine_version: 9.9", "healthy: yes")
	// Started an hour before status ran: at least an hour, however slowly
	// the machine ran the test (an exact value would depend on its speed).
	if up := lineValue(stdout, "engine_uptime"); up == "" {
		t.Errorf("no engine_uptime line:\n%s", stdout)
	} else if d, err := time.ParseDuration(up); err != nil || d < time.Hour || d > 2*time.Hour {
		t.Errorf("engine_uptime: %s (%v), want an hour and a little", up, err)
	}
	if !strings.Contains(stdout, "engine_policy: "+s.policy+" (loaded ") {
		t.Errorf("no engine_policy line:\n%s", stdout)
	}
	code, stdout, _ = s.status(t, "--format", "json")
	var r struct {
		Healthy bool
		Engine  struct {
			State  string
			Status *spool.EngineStatus
		}
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != 0 || !r.Healthy || r.Engine.State != "up" || r.Engine.Status == nil || r.Engine.Status.PID != 4242 {
		t.Errorf("json: exit %d, %+v, %v\n%s", code, r, err, stdout)
	}

	mu.Lock()
	st.Policies[0].LastGood, st.Policies[0].Error = true, "line 3: oops"
	mu.Unlock()
	code, stdout, stderr = s.status(t)
	if code != 1 || !strings.Contains(stderr, "the engine's policy "+s.policy+" does not load") || !strings.Contains(stderr, "line 3: oops") {
		t.Errorf("engine on its last good policy: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "engine_policy: "+s.policy+" (last good: line 3: oops)")

	// A problem in a decision (a template that failed): unhealthy for an
	// hour after it, then healthy again without a restart.
	mu.Lock()
	st.Policies[0].LastGood, st.Policies[0].Error = false, ""
	st.Policies[0].Problems, st.Policies[0].LastProblem, st.Policies[0].LastProblemAt = 2, `channel "pager": template summary (rule "r") failed`, time.Now()
	mu.Unlock()
	code, stdout, stderr = s.status(t)
	if code != 1 || !strings.Contains(stderr, "2 problem(s) needed a person") || !strings.Contains(stderr, `template summary (rule "r") failed`) {
		t.Errorf("engine with problems: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, "engine_policy_problems: 2 (the last at ") {
		t.Errorf("no engine_policy_problems line:\n%s", stdout)
	}
	mu.Lock()
	st.Policies[0].LastProblemAt = time.Now().Add(-statusProblemAge - time.Minute)
	mu.Unlock()
	if code, stdout, stderr = s.status(t); code != 0 || stderr != "" {
		t.Errorf("a problem over %v old: exit %d, stderr %q\n%s", statusProblemAge, code, stderr, stdout)
	}
}

// An engine that accepts and never answers: status gives up after its
// bound, says so, and is otherwise healthy (nothing depends on the
// engine: every drop decides in-process when it does not answer).
func TestStatusEngineHung(t *testing.T) {
	s := newStatusSetup(t)
	sp, err := spool.Open(s.spool)
	if err != nil {
		t.Fatal(err)
	}
	sp.Close()
	l, err := net.Listen("unix", filepath.Join(s.spool, spool.WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	})
	defer func() {
		l.Close()
		wg.Wait()
		for _, c := range held {
			c.Close()
		}
	}()
	code, stdout, stderr := s.status(t)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "engine: not answering (no answer within 1s: hung, or stopped)", "healthy: yes")
}

// A policy that does not load, with no last good copy: unhealthy, and
// the state cannot be found.
func TestStatusPolicyBroken(t *testing.T) {
	s := newStatusSetup(t)
	if err := os.WriteFile(s.policy, []byte("rules: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := s.status(t, "--format", "json")
	var r statusReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if code != 1 || r.Healthy || r.Policy.Loads || r.Policy.LastGood || r.State.Reachable || len(r.Problems) != 1 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q, report %+v", code, stderr, r)
	}
	_, stdout, _ = s.status(t)
	wantLines(t, stdout, "policy_loads: no", "state: unknown (not looked at: no policy says where it is)", "healthy: no")
}

// status's flags are in its help; a bad --format is a usage error.
func TestStatusFlags(t *testing.T) {
	code, stdout, _ := runInProcess(t, "", nil, "status", "-h")
	if code != 0 || !strings.Contains(stdout, "-spool") || !strings.Contains(stdout, "-format") || !strings.Contains(stdout, "-config") {
		t.Errorf("status -h: exit %d\n%s", code, stdout)
	}
	if code, _, _ := runInProcess(t, "", nil, "status", "--format", "yaml"); code != 2 {
		t.Errorf("--format yaml: exit %d, want 2", code)
	}
	// --spool wins over the state path's neighbour.
	s := newStatusSetup(t)
	other := filepath.Join(s.dir, "elsewhere")
	_, stdout, _ = s.status(t, "--spool", other)
	wantLines(t, stdout, "spool: "+other)
	s.env = append(s.env, "NOTIFIER_SPOOL="+other+"2")
	_, stdout, _ = s.status(t)
	wantLines(t, stdout, "spool: "+other+"2")
}

// An engine that answers wake-ups but gives no status (spool.Serve
// without a status func): said, and not a problem.
func TestStatusEngineWithoutStatus(t *testing.T) {
	s := newStatusSetup(t)
	sp, err := spool.Open(s.spool)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	l, err := spoolnet.Listen(sp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sp.Serve(ctx, l, "h/1/x", func(*spool.Claimed) bool { return false }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	code, stdout, stderr := s.status(t)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	wantLines(t, stdout, "engine: unknown (spool: the engine does not report its status)", "healthy: yes")
}
