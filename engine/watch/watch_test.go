package watch

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"notifier/channels"
	"notifier/engine/metrics"
	"notifier/engine/spool"
	"notifier/engine/state"
)

// rec records what each channel was told; a channel in down refuses.
type rec struct {
	mu   sync.Mutex
	got  []string // "channel action key"
	down map[string]bool
}

type recChannel struct {
	r    *rec
	name string
}

func (c recChannel) Notify(_ context.Context, m *channels.Message) error {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if c.r.down[c.name] {
		return errors.New("refused")
	}
	c.r.got = append(c.r.got, c.name+" "+string(m.Action)+" "+m.Key)
	return nil
}

func (c recChannel) Close() error { return nil }

func (r *rec) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	slices.Sort(out)
	return out
}

func newWatcher(t *testing.T, r *rec, notify ...string) (*Watcher, *metrics.Set) {
	set := metrics.NewSet()
	w := &Watcher{Path: filepath.Join(t.TempDir(), FileName), Notify: notify, After: 5 * time.Minute, Host: "db1",
		Channel:  func(name string) (channels.Channel, error) { return recChannel{r, name}, nil },
		Fallback: func() (channels.Channel, error) { return recChannel{r, FallbackName}, nil },
		Note:     func(string) {}, Metrics: set}
	return w, set
}

func check(t *testing.T, w *Watcher, o Observation) {
	t.Helper()
	if err := w.Check(context.Background(), o); err != nil {
		t.Fatal(err)
	}
}

func equal(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: %q, want %q", what, got, want)
	}
}

var t0 = time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)

func failing(ch ...string) *metrics.StateGauges {
	g := &metrics.StateGauges{Failing: map[string]state.Failure{}}
	for _, c := range ch {
		g.Failing[c] = state.Failure{Channel: c, Count: 1, Key: "k", Error: "HTTP 400"}
	}
	return g
}

// A dead letter is told once, not to the failing channel, and resolved
// when the channel delivers again.
func TestDeadLetterToldOnceAndResolved(t *testing.T) {
	r := &rec{}
	w, set := newWatcher(t, r, "pager", "slack")
	check(t, w, Observation{Now: t0, State: failing("pager")})
	equal(t, "first", r.take(), "slack trigger notifier-self/db1/dead_letter/pager")
	check(t, w, Observation{Now: t0.Add(time.Minute), State: failing("pager")})
	equal(t, "while it lasts", r.take())
	if set.Value(metrics.SelfAlertOpen, DeadLetter) != 1 || set.Value(metrics.SelfAlerts, DeadLetter, "trigger") != 1 {
		t.Errorf("metrics: open %v, triggers %v", set.Value(metrics.SelfAlertOpen, DeadLetter), set.Value(metrics.SelfAlerts, DeadLetter, "trigger"))
	}
	// A check that did not read the state cannot say it is over.
	check(t, w, Observation{Now: t0.Add(2 * time.Minute)})
	equal(t, "state not read", r.take())
	check(t, w, Observation{Now: t0.Add(3 * time.Minute), State: failing()})
	equal(t, "over", r.take(), "slack resolve notifier-self/db1/dead_letter/pager")
	check(t, w, Observation{Now: t0.Add(4 * time.Minute), State: failing()})
	equal(t, "after", r.take())
	if set.Value(metrics.SelfAlertOpen, DeadLetter) != 0 || set.Value(metrics.SelfAlerts, DeadLetter, "resolve") != 1 {
		t.Errorf("metrics after: open %v, resolves %v", set.Value(metrics.SelfAlertOpen, DeadLetter), set.Value(metrics.SelfAlerts, DeadLetter, "resolve"))
	}
}

// With every self-alert channel failing (or refusing), the local syslog
// is told; a resolve goes where the trigger went.
func TestFallbackToLocalSyslog(t *testing.T) {
	r := &rec{down: map[string]bool{"slack": true}}
	w, _ := newWatcher(t, r, "pager", "slack")
	check(t, w, Observation{Now: t0, State: failing("pager")})
	equal(t, "trigger", r.take(), "(local syslog) trigger notifier-self/db1/dead_letter/pager")
	check(t, w, Observation{Now: t0.Add(time.Minute), State: failing()})
	equal(t, "resolve", r.take(), "(local syslog) resolve notifier-self/db1/dead_letter/pager")
}

// Nothing took it: tried again at the next check.
func TestRetriedWhenNobodyTookIt(t *testing.T) {
	r := &rec{down: map[string]bool{"slack": true, FallbackName: true}}
	w, _ := newWatcher(t, r, "slack")
	o := Observation{Now: t0, LastGood: true, Policy: "/p.yaml", LastGoodErr: "bad"}
	check(t, w, o)
	equal(t, "refused", r.take())
	r.down = nil
	o.Now = o.Now.Add(time.Minute)
	check(t, w, o)
	equal(t, "retried", r.take(), "slack trigger notifier-self/db1/"+policyTag("/p.yaml")+"policy_last_good")
}

// The outbox and the spool are stuck once their oldest entry is older
// than after; a stuck channel is not told.
func TestStuckAfter(t *testing.T) {
	r := &rec{}
	w, _ := newWatcher(t, r, "pager", "slack")
	young := &metrics.StateGauges{Outbox: 1, OutboxOldest: t0.Add(-time.Minute), OutboxChannels: nil}
	sp := &spool.Stats{New: 2, Oldest: t0.Add(-time.Minute)}
	check(t, w, Observation{Now: t0, State: young, Spool: sp})
	equal(t, "young", r.take())
	old := &metrics.StateGauges{Outbox: 1, OutboxOldest: t0.Add(-6 * time.Minute), OutboxChannels: []string{"slack"}}
	sp = &spool.Stats{New: 2, Oldest: t0.Add(-6 * time.Minute)}
	check(t, w, Observation{Now: t0, State: old, Spool: sp})
	equal(t, "stuck", r.take(), "pager trigger notifier-self/db1/outbox_stuck", "pager trigger notifier-self/db1/spool_stuck", "slack trigger notifier-self/db1/spool_stuck")
	check(t, w, Observation{Now: t0.Add(time.Minute), State: &metrics.StateGauges{}, Spool: &spool.Stats{}})
	equal(t, "drained", r.take(), "pager resolve notifier-self/db1/outbox_stuck", "pager resolve notifier-self/db1/spool_stuck", "slack resolve notifier-self/db1/spool_stuck")
}

// Failing open is over only once decisions used the state for `after`
// since the last one that failed open.
func TestFailOpenOverAfterQuiet(t *testing.T) {
	r := &rec{}
	w, _ := newWatcher(t, r, "slack")
	check(t, w, Observation{Now: t0, Seen: Seen{Decided: true, FailedOpen: true, StateErr: "lock held"}})
	equal(t, "failed open", r.take(), "slack trigger notifier-self/db1/state_fail_open")
	check(t, w, Observation{Now: t0.Add(time.Minute), Seen: Seen{Decided: true, FailedOpen: true}})
	check(t, w, Observation{Now: t0.Add(2 * time.Minute), Seen: Seen{Decided: true}})
	equal(t, "used again, too soon", r.take())
	check(t, w, Observation{Now: t0.Add(5 * time.Minute)})
	equal(t, "nothing decided", r.take())
	check(t, w, Observation{Now: t0.Add(6 * time.Minute), Seen: Seen{Decided: true}})
	equal(t, "quiet for after", r.take(), "slack resolve notifier-self/db1/state_fail_open")
}

// Processes checking at once tell a condition once.
func TestConcurrentChecksTellOnce(t *testing.T) {
	r := &rec{}
	w, _ := newWatcher(t, r, "slack")
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ww := *w
			ww.Metrics = nil
			if err := ww.Check(context.Background(), Observation{Now: t0, State: failing("pager")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	equal(t, "20 at once", r.take(), "slack trigger notifier-self/db1/dead_letter/pager")
}

// A condition back before its resolve went out is not told again.
func TestBackBeforeResolve(t *testing.T) {
	r := &rec{down: map[string]bool{}}
	w, _ := newWatcher(t, r, "slack")
	check(t, w, Observation{Now: t0, LastGood: true, Policy: "/p"})
	equal(t, "trigger", r.take(), "slack trigger notifier-self/db1/"+policyTag("/p")+"policy_last_good")
	r.down["slack"] = true
	check(t, w, Observation{Now: t0.Add(time.Minute), Policy: "/p"})
	r.down["slack"] = false
	check(t, w, Observation{Now: t0.Add(2 * time.Minute), LastGood: true, Policy: "/p"})
	equal(t, "back", r.take())
	check(t, w, Observation{Now: t0.Add(3 * time.Minute), Policy: "/p"})
	equal(t, "over", r.take(), "slack resolve notifier-self/db1/"+policyTag("/p")+"policy_last_good")
}

// The conditions are the metrics' condition label values.
func TestConditionsAreTheMetrics(t *testing.T) {
	equal(t, "conditions", metrics.Conditions, DeadLetter, OutboxStuck, SpoolStuck, PolicyLastGood, StateFailOpen)
}

// Two policies sharing a spool keep their own conditions: one fixed
// does not resolve the other's, nor tell it again.
func TestTwoPoliciesKeepTheirOwn(t *testing.T) {
	r := &rec{}
	w, _ := newWatcher(t, r, "slack")
	check(t, w, Observation{Now: t0, LastGood: true, Policy: "/a.yaml"})
	check(t, w, Observation{Now: t0, LastGood: true, Policy: "/b.yaml"})
	both := []string{"slack trigger notifier-self/db1/" + policyTag("/a.yaml") + "policy_last_good",
		"slack trigger notifier-self/db1/" + policyTag("/b.yaml") + "policy_last_good"}
	slices.Sort(both)
	equal(t, "both broken", r.take(), both...)
	check(t, w, Observation{Now: t0.Add(time.Minute), Policy: "/a.yaml"})
	equal(t, "a fixed", r.take(), "slack resolve notifier-self/db1/"+policyTag("/a.yaml")+"policy_last_good")
	check(t, w, Observation{Now: t0.Add(2 * time.Minute), LastGood: true, Policy: "/b.yaml"})
	equal(t, "b still broken", r.take())
}

// A partial view (what one run gave up) raises a dead letter at once and
// never says one is over: its marks may be older than another run's.
func TestPartialViewRaisesNeverClears(t *testing.T) {
	r := &rec{}
	w, _ := newWatcher(t, r, "slack")
	partial := func(ch ...string) *metrics.StateGauges {
		g := failing(ch...)
		g.Partial = true
		return g
	}
	check(t, w, Observation{Now: t0, State: partial("pager")})
	equal(t, "raised", r.take(), "slack trigger notifier-self/db1/dead_letter/pager")
	check(t, w, Observation{Now: t0.Add(time.Minute), State: partial()})
	equal(t, "a partial view of no failure", r.take())
	check(t, w, Observation{Now: t0.Add(2 * time.Minute), State: failing()})
	equal(t, "the full view", r.take(), "slack resolve notifier-self/db1/dead_letter/pager")
}

// The outbox and the spool are looked at every tenth of after per
// policy: one policy's checks do not stand for another's.
func TestFullDuePerPolicy(t *testing.T) {
	r := &rec{}
	w, _ := newWatcher(t, r, "slack")
	now := time.Now()
	if !w.FullDue("/a.yaml", now) {
		t.Fatal("never checked: not due")
	}
	w.Checked("/a.yaml")
	if w.FullDue("/a.yaml", time.Now()) {
		t.Error("just checked: due")
	}
	if !w.FullDue("/b.yaml", time.Now()) {
		t.Error("another policy's check made this one's not due")
	}
	if !w.FullDue("/a.yaml", time.Now().Add(w.After/10)) || !w.FullDue("/a.yaml", time.Now().Add(-time.Hour)) {
		t.Error("a tenth of after later, or with the clock set back: not due")
	}
}

// A record of a policy that no longer runs here is forgotten after a
// day; one of a policy that runs is kept, however long it lasts.
func TestForgetsAGonePolicy(t *testing.T) {
	r := &rec{}
	w, _ := newWatcher(t, r, "slack")
	check(t, w, Observation{Now: t0, LastGood: true, Policy: "/gone.yaml"})
	check(t, w, Observation{Now: t0, LastGood: true, Policy: "/here.yaml"})
	r.take()
	for h := 1; h <= 25; h++ {
		check(t, w, Observation{Now: t0.Add(time.Duration(h) * time.Hour), LastGood: true, Policy: "/here.yaml"})
	}
	if w.Quiet() {
		t.Fatal("both forgotten")
	}
	check(t, w, Observation{Now: t0.Add(26 * time.Hour), Policy: "/here.yaml"})
	equal(t, "resolved", r.take(), "slack resolve notifier-self/db1/"+policyTag("/here.yaml")+"policy_last_good")
	if !w.Quiet() {
		t.Error("the gone policy's record was kept")
	}
}
