package pipeline

import (
	"context"
	"fmt"
	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
	"notifier/engine/state"
	"notifier/engine/state/mem"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// The pipeline without the binary: a policy compiled in memory, the
// in-memory store, channels that record what they are told.

const testPolicy = `
channels:
  pager: {type: pagerduty}
  chat: {type: slack}
  log: {type: syslog}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager, chat]
    suppress: {for: 30m}
  - name: the-rest
    when: 'true'
    notify: [log]
`

// compile is the policy of yaml; channels are not checked (no channel
// package is wired in: the test's recorders stand in for them).
func compile(t testing.TB, yaml string) *engine.Policy {
	t.Helper()
	p, ps := engine.Compile([]policy.Source{{Name: "policy.yaml", Data: []byte(yaml)}}, policy.Options{})
	if p == nil || len(ps.Errors()) > 0 {
		t.Fatalf("policy does not compile: %v", ps)
	}
	return p
}

// recorder is a channel that keeps every message, or fails with err.
type recorder struct {
	mu   sync.Mutex
	got  []channels.Message
	fail error
}

func (r *recorder) Notify(_ context.Context, m *channels.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
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

// rig is one pipeline over one in-memory store, its channels and clock.
type rig struct {
	pl       *Pipeline
	store    state.Store
	chans    map[string]*recorder
	unbuilt  map[string]error // channels that cannot be built
	clock    time.Time
	notes    []string
	notesMu  sync.Mutex
	storeErr error // Open fails with it
}

func newRig(t testing.TB, policy string) *rig {
	t.Helper()
	r := &rig{chans: map[string]*recorder{}, unbuilt: map[string]error{}, clock: time.Now()}
	r.store = mem.New(func() time.Time { return r.clock })
	r.pl = &Pipeline{
		Policy: compile(t, policy),
		Open: func() (*state.Topology, error) {
			if r.storeErr != nil {
				return nil, r.storeErr
			}
			return state.NewTopology(r.store, nil), nil
		},
		Channel: func(name string) (channels.Channel, error) {
			if err := r.unbuilt[name]; err != nil {
				return nil, err
			}
			if r.chans[name] == nil {
				return nil, fmt.Errorf("test: no channel %q", name)
			}
			return r.chans[name], nil
		},
		Clock:     func() time.Time { return r.clock },
		StatePath: filepath.Join(t.TempDir(), "state.db"),
		Note: func(line string) {
			r.notesMu.Lock()
			r.notes = append(r.notes, line)
			r.notesMu.Unlock()
		},
	}
	for _, name := range []string{"pager", "chat", "log"} {
		r.chans[name] = &recorder{}
	}
	return r
}

func (r *rig) run(t *testing.T, ev *event.Event) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev.Time = r.clock
	return r.pl.Run(ctx, ev)
}

func (r *rig) outbox(t *testing.T) []state.Entry {
	t.Helper()
	recs, err := r.store.Scan(context.Background(), state.OutboxPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return state.Entries(recs)
}

func alarm(action, severity string) *event.Event {
	return &event.Event{Source: "cmon", Kind: "alarm", Action: action, Severity: severity, EventType: "MySqlDisconnected",
		Key: "cmon/ctl/1/42", ID: "42", Cluster: "prod", ClusterID: 1, Node: "db1", Count: 1}
}

func actions(ms []channels.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Action))
	}
	return out
}

// unavailable is a store whose Update always fails: a full disk, a
// lock never had.
type unavailable struct{ state.Store }

func (unavailable) Update(context.Context, []string, func(map[string]*state.Record) error) error {
	return fmt.Errorf("%w: no space left on device", state.ErrUnavailable)
}
