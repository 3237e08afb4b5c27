package serve

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/lastgood"
	"notifier/engine/pacemaker"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
	"notifier/engine/state"
	"notifier/engine/state/stores"
)

// Wiring builds the channels of one loaded policy (pipeline.Wiring is
// the real one; tests give recorders).
type Wiring interface {
	// LoadOptions checks the channels while the policy loads.
	LoadOptions() policy.Options
	// Channel returns the policy's channel called name, built once.
	Channel(p *engine.Policy, name string) (channels.Channel, error)
	// Close closes what was built.
	Close() error
}

// loaded is one policy as compiled, with what it uses for as long as it
// is current: its channels, its stores (opened once, kept), its
// pipeline. A reload makes a new one; the old one is closed once the
// entries deciding with it are done.
type loaded struct {
	path     string
	policy   *engine.Policy
	wiring   Wiring
	pipeline *pipeline.Pipeline
	loadedAt time.Time

	openMu sync.Mutex
	top    *state.Topology // opened on first use, kept
	open   func(*engine.Policy) (*state.Topology, error)

	refs    int  // entries and flushes using it (Server.mu)
	retired bool // replaced or stopping: close at refs 0 (Server.mu)

	flushMu   sync.Mutex // one flush of it at a time
	nextFlush time.Time  // Server.mu

	// problems counts what needed a person in its decisions and flushes
	// (a template that failed, a delivery neither made nor queued,
	// deciding without state): an invocation would have exited 1; the
	// engine logs each and `notifier status` reports them. Server.mu.
	problems    int
	lastProblem string
	problemAt   time.Time
	due         time.Time // the outbox's first retry, zero if none (Server.mu)
}

// topology opens the stores the first time they are asked for, and
// keeps them; the pipeline's Close of what it gets does nothing (see
// kept). An error is retried by the next call.
func (l *loaded) topology() (*state.Topology, error) {
	l.openMu.Lock()
	defer l.openMu.Unlock()
	if l.top == nil {
		top, err := l.open(l.policy)
		if err != nil {
			return nil, err
		}
		l.top = top
	}
	return kept(l.top), nil
}

// close closes the policy's channels and stores.
func (l *loaded) close() {
	l.wiring.Close()
	l.openMu.Lock()
	defer l.openMu.Unlock()
	if l.top != nil {
		l.top.Close()
		l.top = nil
	}
}

// noClose is a store whose Close does nothing: the engine closes the
// real one when the policy is replaced or the engine stops.
type noClose struct{ state.Store }

func (noClose) Close() error { return nil }

// kept is top with Close made a no-op, sharing top's stores.
func kept(top *state.Topology) *state.Topology {
	local := noClose{top.History()}
	if top.Separate() {
		return state.NewTopology(local, noClose{top.Shared()})
	}
	return state.NewTopology(local, nil)
}

// policyState is what the engine knows of one of its policy paths.
type policyState struct {
	cur      *loaded   // nil: never loaded and no last good one
	lastGood bool      // cur is not what the files now say
	err      error     // why the files did not load, the last time
	stamp    string    // the files' fingerprint at the last load attempt
	loadedAt time.Time // when cur was loaded
}

// load compiles the policy at path with a new wiring (lastgood.Load, as
// a run loads it, keeping the copy), or, when it does not load and the
// engine has no policy of path yet, the last good copy.
func (s *Server) load(path string, first bool) (*loaded, bool, error) {
	w := s.cfg.Channels()
	p, ps, err := lastgood.Load(path, s.cfg.CacheDir, w.LoadOptions())
	if err == nil && p == nil {
		err = fmt.Errorf("policy %s does not load:\n%w", path, ps)
	} else if err != nil {
		err = fmt.Errorf("policy %s: %w", path, err)
	}
	lastGood := false
	if err != nil && first {
		w.Close()
		w = s.cfg.Channels()
		var notes []string
		p, notes = lastgood.Fallback(path, s.cfg.CacheDir, err, w.LoadOptions())
		for _, n := range notes {
			s.note("%s", n)
		}
		lastGood = p != nil
	}
	if p == nil {
		w.Close()
		return nil, false, err
	}
	return s.newLoaded(path, p, w), lastGood, err
}

// newLoaded wires policy p's pipeline.
func (s *Server) newLoaded(path string, p *engine.Policy, w Wiring) *loaded {
	l := &loaded{path: path, policy: p, wiring: w, loadedAt: time.Now(), open: s.cfg.Stores}
	l.pipeline = &pipeline.Pipeline{
		Policy:     p,
		Open:       l.topology,
		Channel:    func(name string) (channels.Channel, error) { return w.Channel(p, name) },
		Clock:      s.cfg.Clock,
		Host:       s.cfg.Host,
		StatePath:  s.statePath(p),
		Occurrence: nil, // per entry (decide)
		Note:       s.notePlain,
		// Each decision delivers its own key's deliveries; the rest that
		// is due, the engine's flush (timers.go) delivers.
		KeyFlush: true,
		Engine:   true,
		// Owner stays "": each decision and flush leases the outbox
		// under an owner of its own (state.NewOwner), so that two
		// concurrent decisions of this process never take each other's
		// deliveries as their own.
	}
	if t, ok := w.(interface{ Templates() *pipeline.Templates }); ok {
		l.pipeline.Templates = t.Templates() // pipeline.Wiring's; tests' recorders have none
	}
	return l
}

// statePath is the embedded store's file for policy p, as a run finds it.
func (s *Server) statePath(p *engine.Policy) string {
	if p.Settings.StatePath != "" {
		return p.Settings.StatePath
	}
	if s.cfg.StatePath != "" {
		return s.cfg.StatePath
	}
	return state.DefaultBoltPath
}

// openStores is the stores of policy p: opened once by the engine, with
// group commit.
func (s *Server) openStores(p *engine.Policy) (*state.Topology, error) {
	return stores.Open(stores.Config{Path: s.statePath(p), RedisURL: p.Settings.RedisURL, RedisPasswordFile: p.Settings.RedisPasswordFile, Namespace: "notifier", Batch: true})
}

// occurrence is the occurrence identity of a spooled event: what the
// drop recorded, else what the event says (engine/pacemaker).
func occurrence(recorded string) func(ev *event.Event, now time.Time) string {
	return func(ev *event.Event, _ time.Time) string {
		if recorded != "" {
			return recorded
		}
		return pacemaker.OccurrenceOf(ev)
	}
}

// fingerprint identifies the files at path as they are now (each one's
// name, inode, size and modification time; a directory's *.yaml files),
// so a change is seen without reading them. Errors are part of it: a
// policy that appears or disappears changes it too.
func fingerprint(path string) string {
	var b strings.Builder
	add := func(name string) {
		fi, err := os.Stat(name)
		if err != nil {
			fmt.Fprintf(&b, "%s:%v;", name, err)
			return
		}
		fmt.Fprintf(&b, "%s:%d:%d:%d;", name, inode(fi), fi.Size(), fi.ModTime().UnixNano())
	}
	add(path)
	if ents, err := os.ReadDir(path); err == nil {
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		slices.Sort(names)
		for _, n := range names {
			add(filepath.Join(path, n))
		}
	}
	h := fnv.New64a()
	h.Write([]byte(b.String()))
	return fmt.Sprintf("%x", h.Sum64())
}

// inode is fi's inode number (0 where the system has none): a policy
// replaced by a rename keeps its size and may keep its time.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
