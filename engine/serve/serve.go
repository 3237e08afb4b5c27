// Package serve is the resident engine, `notifier serve`: it claims the
// spool's entries (engine/spool) as drops wake it, and in scans of new/
// and takeovers of dead claimers' entries, and decides each through
// engine/pipeline with the policy compiled once, its stores opened once
// and its channels built once (kept alive between events). It reloads a
// policy when its files change or when told (SIGHUP), keeping the last
// good one loudly while they do not load; it flushes the outbox when a
// queued delivery is due.
//
// It serves only the policies it was started with, and only entries
// dropped with its own $NOTIFIER_STATE_PATH: any other entry is declined,
// without the engine opening anything it names, and its invocation
// decides it in-process.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/metrics"
	"notifier/engine/pipeline"
	"notifier/engine/spool"
	"notifier/engine/spool/spoolnet"
	"notifier/engine/state"
	"notifier/engine/watch"
)

// DefaultWorkers is Config.Workers' default (`notifier serve --workers`).
const DefaultWorkers = 64

// Config is what an engine serves, and how.
type Config struct {
	// Policies are the policy paths served, as drops name them:
	// absolute and clean (made so), symlinks not resolved.
	Policies []string
	// Spool is the opened spool the engine claims from.
	Spool *spool.Spool
	// StatePath is the engine's $NOTIFIER_STATE_PATH ("" when unset): a
	// policy without settings.state.path keeps its state there, and an
	// entry dropped with another one is declined.
	StatePath string
	// CacheDir keeps the last good policy files (engine/lastgood); ""
	// keeps none.
	CacheDir string
	// Workers bounds the entries decided at once (DefaultWorkers when
	// 0). A worker holds its slot through the decision's delivery, so it
	// also bounds the requests in flight: with 16, 1000 events to an
	// endpoint answering in 40 ms took 1.3-2.1 s to deliver after the
	// last drop exited, with 64 0.05-0.36 s, at no more CPU per event
	// (docs/BENCHMARKS.md).
	Workers int
	// Idle: Run returns after this long with nothing claimed, queued or
	// due in the outbox; 0 never.
	Idle time.Duration
	// Clock is the pipelines' clock (nil: time.Now).
	Clock func() time.Time
	// Note receives each line an operator must read (nil discards); it
	// is called from one goroutine at a time.
	Note func(line string)
	// Decode makes the event of an entry with a policy's cluster
	// defaults (drop.EventOf).
	Decode func(e *spool.Entry, cluster event.ClusterDefaults) (*event.Event, error)
	// Listener is the wake-up listener (socket activation: Activated);
	// nil makes one in the spool (Spool.Listen). Run closes it.
	Listener net.Listener
	// Owner is the engine's claimer id in the spool ("": state.NewOwner).
	Owner string
	// Host names this host in the records a policy writes (see
	// pipeline.Pipeline.Host).
	Host string
	// Version is what the status says is running.
	Version string
	// Stores opens a policy's stores once (nil: stores.Open from its
	// settings, as a run opens them).
	Stores func(p *engine.Policy) (*state.Topology, error)
	// Channels makes the wiring of one loaded policy (nil:
	// pipeline.NewWiring).
	Channels func() Wiring

	// Tick is how often the engine looks after its timers (default 1s);
	// ScanEvery, PollEvery and FlushEvery how often it scans new/ and
	// takes dead claimers' entries over (default 5s), looks at the
	// policy files (2s) and flushes the outbox at the latest (30s).
	Tick, ScanEvery, PollEvery, FlushEvery time.Duration
	// WatchEvery is how often the engine checks the self-alerts
	// (settings.self_alert): default 10s.
	WatchEvery time.Duration
	// Metrics, when set, is told each event decided, each flush's
	// deliveries and each reload; MetricsHandler serves /metrics at the
	// policies' settings.metrics.listen (nil: not served, said when a
	// policy sets it). notifier-engine gives both (engine/metrics/prom).
	Metrics        metrics.Sink
	MetricsHandler http.Handler
	// ScanGrace leaves an entry younger than this to the drop that
	// wrote it (default 2s): its drop may be claiming it right now.
	ScanGrace time.Duration
	// StallAfter: with at least Workers entries waiting and no worker
	// beginning one for this long (default 250ms: the workers are stuck,
	// say on a channel that hangs until the deadline), wake-ups are
	// answered busy and their drops decide in-process, as before the
	// engine existed, instead of queueing behind the stuck ones.
	StallAfter time.Duration
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Tick, time.Second)
	def(&c.ScanEvery, 5*time.Second)
	def(&c.PollEvery, 2*time.Second)
	def(&c.FlushEvery, 30*time.Second)
	def(&c.ScanGrace, 2*time.Second)
	def(&c.StallAfter, 250*time.Millisecond)
	def(&c.WatchEvery, 10*time.Second)
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Owner == "" {
		c.Owner = state.NewOwner()
	}
	if c.Channels == nil {
		c.Channels = func() Wiring { return pipeline.NewWiring() }
	}
}

// Server is one engine. Run runs it, once.
type Server struct {
	cfg     Config
	started time.Time
	served  map[string]bool
	reload  chan struct{}
	sem     chan struct{} // a slot per entry being decided
	stopCh  chan struct{} // closed when stopping
	wg      sync.WaitGroup
	flushWG sync.WaitGroup

	noteMu sync.Mutex

	mu       sync.Mutex
	policies map[string]*policyState
	pending  map[string][]*spool.Claimed // by event key, in id order
	active   map[string]bool             // keys with a drain goroutine
	queued   int
	inFlight int
	flushing int
	stopping bool
	lastBusy time.Time
	// lastStart is when a worker last began deciding an entry: with
	// entries waiting and none begun for stallAfter, the workers are
	// stuck (a channel that hangs until the deadline) and wake-ups are
	// answered busy, so that their drops decide in-process.
	lastStart time.Time
	// fullSince is when the queue last reached Workers entries: the
	// workers are stuck only if none has begun one since then either (an
	// engine idle for a while is not stuck the moment a storm fills it).
	fullSince time.Time
	panics    map[string]int         // entry id -> decisions that panicked
	health    map[string]*watch.Seen // policy path -> since the last self-alert check
	metricsAt string                 // where /metrics is served ("" nowhere); Run's goroutine

	declinedIDs map[string]bool // the scan's: foreign entries seen in new/

	// loading holds the ids renamed into claimed/ by a wake-up and not
	// yet offered (spool.ServeOptions.Claiming); handedOff is signalled
	// (under mu) when one is, for drain's receipt order.
	loading   map[string]bool
	handedOff *sync.Cond

	claimed, declined atomic.Uint64

	// Tests' hooks: told each entry decided, each policy load, each
	// scan of new/, each flush.
	decided  func(c *spool.Claimed, r *pipeline.Report)
	flushed  func(r *pipeline.Report)
	loadedFn func(path string, err error)
	scanned  func()
	handed   func(id string) // a wake-up's claim offered (or not)
}

// New makes an engine of cfg; nothing is opened until Run.
func New(cfg Config) (*Server, error) {
	if cfg.Spool == nil || cfg.Decode == nil || len(cfg.Policies) == 0 {
		return nil, errors.New("serve: a spool, a decoder and at least one policy are needed")
	}
	cfg.defaults()
	cfg.Policies = slices.Clone(cfg.Policies)
	s := &Server{cfg: cfg, served: map[string]bool{}, reload: make(chan struct{}, 1),
		sem: make(chan struct{}, cfg.Workers), stopCh: make(chan struct{}),
		policies: map[string]*policyState{}, pending: map[string][]*spool.Claimed{},
		active: map[string]bool{}, declinedIDs: map[string]bool{}, panics: map[string]int{},
		loading: map[string]bool{}, health: map[string]*watch.Seen{}}
	s.handedOff = sync.NewCond(&s.mu)
	if s.cfg.Stores == nil {
		s.cfg.Stores = s.openStores
	}
	for i, p := range cfg.Policies {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("serve: policy path %s: %w", p, err)
		}
		s.cfg.Policies[i] = abs
		s.served[abs] = true
	}
	return s, nil
}

// Reload asks the engine to load every policy again (SIGHUP); it does
// not wait.
func (s *Server) Reload() {
	select {
	case s.reload <- struct{}{}:
	default: // one is pending already
	}
}

// Run takes the spool's engine lock (a *LockedError when another engine
// holds it), loads the policies and serves until ctx ends or the engine
// has been idle for Config.Idle: then it stops accepting wake-ups,
// finishes the entries being decided, puts the claimed ones not started
// back into new/, closes the channels and stores, and returns nil.
func (s *Server) Run(ctx context.Context) error {
	lock, err := TakeLock(s.cfg.Spool.Path)
	if err != nil {
		if s.cfg.Listener != nil {
			s.cfg.Listener.Close()
		}
		return err
	}
	defer lock.Close()
	s.started = time.Now()
	s.lastBusy = s.started
	s.lastStart = s.started
	for _, path := range s.cfg.Policies {
		s.loadPath(path, true)
	}
	ms, err := s.startMetrics()
	if err != nil {
		// Deciding matters more than being watched: said, and served
		// without /metrics.
		s.note("%v: serving without /metrics", err)
	}
	s.metricsAt = ms.addr()
	var l spool.Listener
	if s.cfg.Listener != nil {
		l = spoolnet.Wrap(s.cfg.Listener)
	} else if l, err = spoolnet.Listen(s.cfg.Spool); err != nil {
		ms.stop()
		s.stop()
		return err
	}
	serveCtx, stopServe := context.WithCancel(context.Background())
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- s.cfg.Spool.ServeWith(serveCtx, l, s.cfg.Owner, s.offer, spool.ServeOptions{Status: s.Status, Wants: s.wants, Claiming: s.claiming, Mismatch: s.mismatch, Lost: s.lost})
	}()
	s.note("engine started: pid %d, spool %s, serving %s", os.Getpid(), s.cfg.Spool.Path, strings.Join(s.cfg.Policies, ", "))

	t := &timers{s: s}
	t.run(time.Now())
	ticker := time.NewTicker(s.cfg.Tick)
	var runErr error
	served := false
loop:
	for {
		select {
		case <-ctx.Done():
			s.note("stopping: finishing the entries being decided, putting back the others")
			break loop
		case <-s.reload:
			for _, path := range s.cfg.Policies {
				s.loadPath(path, false)
			}
		case err := <-serveErr:
			runErr, served = err, true
			break loop
		case now := <-ticker.C:
			if t.run(now) {
				s.note("idle for %s: stopping", s.cfg.Idle)
				break loop
			}
		}
	}
	ticker.Stop()
	stopServe()
	ms.stop() // before the stores close: no scrape opens one again
	if !served {
		runErr = <-serveErr
	}
	s.stop()
	if runErr != nil {
		return fmt.Errorf("serve: %w", runErr)
	}
	return nil
}

// stop lets the entries being decided finish, releases the rest and
// closes every loaded policy's channels and stores.
func (s *Server) stop() {
	s.mu.Lock()
	s.stopping = true
	close(s.stopCh)
	s.handedOff.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	s.flushWG.Wait()
	s.mu.Lock()
	var closing []*loaded
	for _, ps := range s.policies {
		if ps.cur != nil {
			ps.cur.retired = true
			if ps.cur.refs == 0 {
				closing = append(closing, ps.cur)
			}
		}
	}
	s.mu.Unlock()
	for _, l := range closing {
		l.close()
	}
}

func (s *Server) note(format string, args ...any) { s.notePlain(fmt.Sprintf(format, args...)) }

func (s *Server) notePlain(line string) {
	if s.cfg.Note == nil {
		return
	}
	s.noteMu.Lock()
	defer s.noteMu.Unlock()
	s.cfg.Note(line)
}
