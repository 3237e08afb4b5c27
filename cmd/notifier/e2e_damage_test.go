package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"notifier/internal/harness"
)

// End-to-end tests of a state that cannot be used (issue 9): a damaged
// state file and a lock that is never let go. Both end on the one
// fail-open path: deliver without suppression, exit 1, one line saying
// what is wrong with the state and what to do; what cannot be delivered
// is kept for a later run or flush.

// damages are the two ways issue 9 found to make bbolt panic: a
// truncated file, and damaged data pages under intact meta pages.
var damages = []struct {
	name   string
	damage func(t *testing.T, path string)
}{
	{"truncated", func(t *testing.T, path string) {
		if err := os.Truncate(path, 12000); err != nil {
			t.Fatal(err)
		}
	}},
	{"data pages overwritten", func(t *testing.T, path string) {
		junk := make([]byte, 12*1024)
		r := rand.New(rand.NewPCG(9, 1))
		for i := range junk {
			junk[i] = byte(r.Uint32())
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(junk, 8192); err != nil {
			t.Fatal(err)
		}
	}},
}

// damagedState runs a few dozen alarms through h, so its state file has
// data pages, then damages the file.
func damagedState(t *testing.T, h *harness.Harness, damage func(*testing.T, string)) {
	t.Helper()
	alarm := readExample(t, criticalAlarm)
	var inputs [][]byte
	for i := range 40 {
		data, err := harness.WithAlarmID(alarm, strconv.Itoa(5000+i))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
	}
	wantClean(t, storm(t, h, inputs))
	damage(t, h.State)
}

// movedAside returns the damaged state files kept beside h's state.
func movedAside(t *testing.T, h *harness.Harness) []string {
	t.Helper()
	moved, err := filepath.Glob(h.State + ".damaged-*")
	if err != nil {
		t.Fatal(err)
	}
	return moved
}

// wantNoCrash fails if a process printed a Go stack trace or exited 2.
func wantNoCrash(t *testing.T, what string, res harness.Result) {
	t.Helper()
	if res.Exit == 2 || strings.Contains(res.Stderr, "goroutine ") || strings.Contains(res.Stderr, "panic") {
		t.Errorf("%s: exit %d, stderr %q", what, res.Exit, res.Stderr)
	}
}

// TestE2EStateDamaged: as CMON and as Pacemaker, a run on a damaged state
// file delivers without suppression, exits 1, says in one line that the
// state file was damaged and where it was moved; the damaged file is
// kept; the next run starts a new state file and suppresses again.
func TestE2EStateDamaged(t *testing.T) {
	callers := []struct {
		name, event, key string
	}{
		{"cmon", criticalAlarm, cmonKey(criticalID)},
		{"pacemaker", nodeLost, "pacemaker/default/node/vm2"},
	}
	for _, d := range damages {
		for _, c := range callers {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				h := stateHarness(t, bothPolicy, harness.Options{})
				damagedState(t, h, d.damage)
				damaged, err := os.ReadFile(h.State)
				if err != nil {
					t.Fatal(err)
				}
				before := len(h.PagerDuty.Events())

				res := mustRun(t, h, c.event, 1)
				wantNoCrash(t, "run", res)
				lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], "state unusable") || !strings.Contains(lines[0], h.State) ||
					!strings.Contains(lines[0], "damaged") || !strings.Contains(lines[0], "moved aside to "+h.State+".damaged-") {
					t.Errorf("stderr = %q, want one line: the state file, damaged, moved aside", res.Stderr)
				}
				got := harness.Accepted(h.PagerDuty.Events()[before:])
				if len(got) != 1 || got[0].Event.EventAction != "trigger" || got[0].Event.DedupKey != c.key {
					t.Errorf("PagerDuty accepted %s, want the trigger for %s", harness.DescribePagerDuty(got), c.key)
				}
				moved := movedAside(t, h)
				if len(moved) != 1 {
					t.Fatalf("moved aside: %v, want one file", moved)
				}
				if kept, err := os.ReadFile(moved[0]); err != nil || string(kept) != string(damaged) {
					t.Errorf("the damaged file was not kept as it was (%v)", err)
				}

				// A new state: the first run pages, the second is suppressed.
				mustRun(t, h, c.event, 0)
				mustRun(t, h, c.event, 0)
				if got := harness.Accepted(h.PagerDuty.Events()[before:]); len(got) != 2 {
					t.Errorf("after the move PagerDuty accepted %d more, want 1 (then suppressed): %s", len(got)-1, harness.DescribePagerDuty(got))
				}
				if m := movedAside(t, h); len(m) != 1 {
					t.Errorf("moved aside: %v, want still the one file", m)
				}
			})
		}
	}
}

// TestE2EStateDamagedCommands: flush, explain, history and silence list
// on a damaged state file say so and exit 1 (explain shows the run would
// fail open); none crashes.
func TestE2EStateDamagedCommands(t *testing.T) {
	ev := filepath.Join(examples, criticalAlarm)
	cmds := [][]string{{"flush"}, {"history"}, {"silence", "list"}, {"explain", "--event", ev}}
	for _, d := range damages {
		for _, args := range cmds {
			t.Run(d.name+"/"+strings.Join(args[:1], " "), func(t *testing.T) {
				h := stateHarness(t, pagerPolicy, harness.Options{})
				damagedState(t, h, d.damage)
				res, err := h.Command(testCtx(t), args...)
				if err != nil {
					t.Fatal(err)
				}
				wantNoCrash(t, args[0], res)
				moved := movedAside(t, h)
				out := res.Stderr
				if args[0] == "explain" {
					out = res.Stdout // the state line says it
				}
				if len(moved) == 0 && d.name != "truncated" && res.Exit == 0 && !strings.Contains(out, "damaged") {
					// What this command reads lies outside the damaged
					// pages: it may work, and the next run finds the damage.
					return
				}
				if args[0] != "explain" && res.Exit != 1 {
					t.Errorf("exit %d, want 1", res.Exit)
				}
				if !strings.Contains(out, h.State) || !strings.Contains(out, "damaged") {
					t.Errorf("output %q does not say that %s is damaged", out, h.State)
				}
				if len(moved) != 1 {
					t.Errorf("moved aside: %v, want one file", moved)
				}
			})
		}
	}
}

// TestE2EStateDamagedStorm: many runs find the damaged file at once; it
// is moved aside once, never a fresh file a run created after the move,
// and every alarm reaches PagerDuty.
func TestE2EStateDamagedStorm(t *testing.T) {
	h := stateHarness(t, pagerPolicy, harness.Options{})
	damagedState(t, h, damages[1].damage)
	before := len(h.PagerDuty.Events())
	alarm := readExample(t, criticalAlarm)
	var inputs [][]byte
	for i := range 30 {
		data, err := harness.WithAlarmID(alarm, strconv.Itoa(7000+i))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
	}
	for i, r := range storm(t, h, inputs) {
		wantNoCrash(t, "run "+strconv.Itoa(i), r)
	}
	if m := movedAside(t, h); len(m) != 1 {
		t.Errorf("moved aside: %v, want exactly one file", m)
	}
	keys := map[string]bool{}
	for _, r := range harness.Accepted(h.PagerDuty.Events()[before:]) {
		keys[r.Event.DedupKey] = true
	}
	if len(keys) != len(inputs) {
		t.Errorf("PagerDuty accepted triggers for %d of %d alarms", len(keys), len(inputs))
	}
	// Whatever runs decided after the move is in the new state file.
	mustCommand(t, h, 0, "history")
}

// bothPolicy pages critical CMON alarms and Pacemaker node losses.
const bothPolicy = nodeLostPolicy + `  - name: critical
    when: severity == "critical"
    notify: [pager]
    suppress: {for: 30m}
`

// lockedPolicy is bothPolicy with a short deadline: the lock wait is
// bounded by a quarter of it, so the tests wait a second, not five.
const lockedPolicy = "settings: {deadline: 4s}\n" + bothPolicy

// holdLock takes the state's lock as a stuck process would (flock
// state.db.lock sleep 600) until the returned function is called.
func holdLock(t *testing.T, h *harness.Harness) (release func()) {
	t.Helper()
	f, err := os.OpenFile(h.State+".lock", os.O_RDWR|os.O_CREATE, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func() { f.Close() }
}

// TestE2EStateLockHeld: as CMON and as Pacemaker, a run that cannot have
// the state lock gives up after a bounded wait and delivers with time
// left (exit 1, saying who to look for); what it cannot deliver is kept,
// and flush queues and delivers it once the lock is free.
func TestE2EStateLockHeld(t *testing.T) {
	for _, c := range []struct{ name, event, key string }{
		{"cmon", criticalAlarm, cmonKey(criticalID)},
		{"pacemaker", nodeLost, "pacemaker/default/node/vm2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := stateHarness(t, lockedPolicy, harness.Options{})
			release := holdLock(t, h)

			res := mustRun(t, h, c.event, 1)
			if !strings.Contains(res.Stderr, "state unusable") || !strings.Contains(res.Stderr, "held by another process") || !strings.Contains(res.Stderr, h.State+".lock") {
				t.Errorf("stderr = %q, want the lock held by another process, named", res.Stderr)
			}
			if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.DedupKey != c.key {
				t.Fatalf("PagerDuty accepted %s, want the trigger for %s", harness.DescribePagerDuty(got), c.key)
			}

			// PagerDuty refuses for an hour: the page is kept, not lost.
			h.PagerDuty.FailNext(1, 429, "3600")
			res = mustRun(t, h, c.event, 1)
			if !strings.Contains(res.Stderr, "kept in "+h.State+".pending") {
				t.Errorf("stderr = %q, want the undelivered page kept in %s.pending", res.Stderr, h.State)
			}
			release()
			out := mustCommand(t, h, 0, "flush")
			if strings.TrimSpace(out.Stdout) != "delivered 1, still queued 0, failed 0" {
				t.Errorf("flush printed %q, want the kept page delivered", out.Stdout)
			}
			if got := harness.Accepted(h.PagerDuty.Events()); len(got) != 2 || got[1].Event.DedupKey != c.key {
				t.Errorf("PagerDuty accepted %s, want the kept trigger too", harness.DescribePagerDuty(got))
			}
			if left, _ := os.ReadDir(h.State + ".pending"); len(left) != 0 {
				t.Errorf("%d files left in %s.pending after flush", len(left), h.State)
			}
		})
	}
}
