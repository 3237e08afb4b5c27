package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
	"notifier/engine/spool"
	"notifier/engine/state"
	"notifier/engine/state/stores"
)

// The engine without the binary: a real spool and bolt state in a temp
// directory, a policy file, channels that record what they are told.

const testPolicy = `
channels:
  pager: {type: pagerduty}
  chat: {type: slack}
  log: {type: syslog}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
  - name: the-rest
    when: 'true'
    notify: [log]
`

// recorder is a channel that keeps every message; gate, when set, holds
// each Notify until it is closed (started is told first).
type recorder struct {
	mu      sync.Mutex
	got     []channels.Message
	active  int
	maxSeen int
	gate    chan struct{}
	started chan string
	fail    int // the next so many calls fail, retryably, for an hour
}

func (r *recorder) Notify(ctx context.Context, m *channels.Message) error {
	r.mu.Lock()
	r.active++
	r.maxSeen = max(r.maxSeen, r.active)
	gate, started := r.gate, r.started
	r.mu.Unlock()
	if started != nil {
		started <- m.Key
	}
	if gate != nil {
		<-gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active--
	if r.fail > 0 {
		r.fail--
		return channels.Retryable(errors.New("HTTP 503"), time.Hour)
	}
	r.got = append(r.got, *m)
	return nil
}

func (r *recorder) Close() error { return nil }

func (r *recorder) messages() []channels.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// wiring hands out the rig's recorders and counts its closes.
type wiring struct{ r *rig }

func (w wiring) LoadOptions() policy.Options { return policy.Options{} }

func (w wiring) Channel(_ *engine.Policy, name string) (channels.Channel, error) {
	if ch := w.r.chans[name]; ch != nil {
		return ch, nil
	}
	return nil, fmt.Errorf("test: no channel %q", name)
}

func (w wiring) Close() error {
	w.r.mu.Lock()
	w.r.closed++
	w.r.mu.Unlock()
	return nil
}

// rig is one engine over a temp directory.
type rig struct {
	t      testing.TB
	dir    string
	policy string // the policy file's path
	sp     *spool.Spool
	srv    *Server
	chans  map[string]*recorder
	cfg    Config

	mu      sync.Mutex
	notes   []string
	closed  int
	decided []string // entry ids, in the order decided
	reports map[string]*pipeline.Report
	byKey   map[string][]string // entry ids per event key, as decided
	done    chan string         // each entry decided
	loads   chan error          // each policy load
	scans   chan struct{}       // each scan
	flushes chan *pipeline.Report
	// listening is told when the engine says it started: it listens.
	listening chan struct{}

	handed map[string]chan struct{} // closed when the engine has offered a woken entry

	errc   chan error
	cancel context.CancelFunc
}

func newRig(t testing.TB, configure func(*Config)) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, dir: dir, policy: filepath.Join(dir, "policy.yaml"), chans: map[string]*recorder{},
		reports: map[string]*pipeline.Report{}, byKey: map[string][]string{},
		done: make(chan string, 1000), loads: make(chan error, 100), scans: make(chan struct{}, 1000), flushes: make(chan *pipeline.Report, 1000),
		listening: make(chan struct{}, 1)}
	for _, name := range []string{"pager", "chat", "log"} {
		r.chans[name] = &recorder{}
	}
	if err := os.WriteFile(r.policy, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	r.sp = sp
	r.cfg = Config{
		Policies: []string{r.policy},
		Spool:    sp,
		// StatePath stays "": the entries are put with none.
		Stores: func(*engine.Policy) (*state.Topology, error) {
			return stores.Open(stores.Config{Path: filepath.Join(dir, "state.db"), Batch: true})
		},
		Workers: 4,
		Note: func(line string) {
			r.mu.Lock()
			r.notes = append(r.notes, line)
			r.mu.Unlock()
			if strings.HasPrefix(line, "engine started:") {
				r.listening <- struct{}{}
			}
		},
		Decode:   func(e *spool.Entry, _ event.ClusterDefaults) (*event.Event, error) { ev := e.Event; return &ev, nil },
		Channels: func() Wiring { return wiring{r} },
		Tick:     10 * time.Millisecond,
		// The timers' own work only where a test asks for it.
		ScanEvery: time.Hour, PollEvery: time.Hour, FlushEvery: time.Hour,
		// Busy only where a test asks for it: on a loaded machine (the race
		// detector, CI) four workers may well start nothing for 250 ms.
		StallAfter: time.Hour,
	}
	if configure != nil {
		configure(&r.cfg)
	}
	return r
}

// start runs the engine until the test ends (or stop).
func (r *rig) start() {
	r.t.Helper()
	srv, err := New(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	srv.decided = func(c *spool.Claimed, rep *pipeline.Report) {
		r.mu.Lock()
		r.decided = append(r.decided, c.Entry.ID)
		r.reports[c.Entry.ID] = rep
		r.byKey[c.Entry.Event.Key] = append(r.byKey[c.Entry.Event.Key], c.Entry.ID)
		r.mu.Unlock()
		r.done <- c.Entry.ID
	}
	srv.loadedFn = func(_ string, err error) { r.loads <- err }
	srv.scanned = func() { r.scans <- struct{}{} }
	srv.handed = func(id string) {
		c := r.handedCh(id)
		r.mu.Lock()
		defer r.mu.Unlock()
		select {
		case <-c: // woken and claimed again
		default:
			close(c)
		}
	}
	srv.flushed = func(rep *pipeline.Report) { r.flushes <- rep }
	r.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.errc = cancel, make(chan error, 1)
	go func() { r.errc <- srv.Run(ctx) }()
	r.t.Cleanup(func() { r.stop() })
	if err := r.wait(r.loads, "the policy to load"); err != nil {
		r.t.Fatalf("policy: %v", err)
	}
	wait(r.t, r.listening, "the engine to listen")
}

// stop cancels the engine (SIGTERM) and returns what Run returned.
func (r *rig) stop() error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.errc:
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatal("the engine did not stop")
		return nil
	}
}

// wait takes the next value of c, failing the test when none comes in
// a time no healthy run needs (a guard, not a measurement).
func wait[T any](t testing.TB, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("waited in vain for %s", what)
		var zero T
		return zero
	}
}

func (r *rig) wait(c <-chan error, what string) error { r.t.Helper(); return wait(r.t, c, what) }

// put spools an event for the rig's policy (or the one given).
func (r *rig) put(key, severity string, policyPath ...string) string {
	r.t.Helper()
	p := r.policy
	if len(policyPath) > 0 {
		p = policyPath[0]
	}
	return r.putEventFor(p, event.Event{Source: "cmon", Kind: "alarm", Action: event.ActionNew,
		Severity: severity, EventType: "MySqlDisconnected", Key: key, ID: "42", Cluster: "prod", ClusterID: 1, Node: "db1", Count: 1})
}

// putEvent spools ev for the rig's policy.
func (r *rig) putEvent(ev event.Event) string { return r.putEventFor(r.policy, ev) }

// putEventFor spools ev for the policy at p.
func (r *rig) putEventFor(p string, ev event.Event) string {
	r.t.Helper()
	e := &spool.Entry{Policy: p, Source: "cmon", Event: ev}
	data, err := json.Marshal(e.Event)
	if err != nil {
		r.t.Fatal(err)
	}
	e.Input = spool.Input{Source: "json", Data: data}
	if err := r.sp.Put(e); err != nil {
		r.t.Fatal(err)
	}
	return e.ID
}

// wake offers id to the engine as a drop does, with a bound no healthy
// engine needs; claimed, it returns once the engine has offered the
// entry to its queue (the answer comes before that).
func (r *rig) wake(id string) spool.WakeResult {
	got := spool.Wake(r.sp.Path, id, 30*time.Second)
	if got == spool.WakeClaimed {
		wait(r.t, r.handedCh(id), "the woken entry to be offered")
	}
	return got
}

// handedCh is closed when the engine has offered woken entry id.
func (r *rig) handedCh(id string) chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handed == nil {
		r.handed = map[string]chan struct{}{}
	}
	c := r.handed[id]
	if c == nil {
		c = make(chan struct{})
		r.handed[id] = c
	}
	return c
}

func (r *rig) stats() spool.Stats {
	r.t.Helper()
	st, err := r.sp.Stats()
	if err != nil {
		r.t.Fatal(err)
	}
	return st
}

func (r *rig) allNotes() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.notes, "\n")
}

type (
	eventDefaults = event.ClusterDefaults
	eventT        = event.Event
)
