package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"notifier/engine/drop"
	"notifier/engine/event"
	"notifier/engine/metrics"
	"notifier/engine/pipeline"
	"notifier/engine/spool"
	"notifier/engine/watch"
)

// observe counts one decision (ev's; a flush's when ev is nil) in the
// engine's metrics and for its next self-alert check.
func (s *Server) observe(l *loaded, ev *event.Event, r *pipeline.Report) {
	if r == nil {
		return
	}
	if s.cfg.Metrics != nil {
		metrics.ObserveEvent(s.cfg.Metrics, ev, r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.health[l.path]
	if h == nil {
		h = &watch.Seen{}
		s.health[l.path] = h
	}
	h.Add(r)
}

// Gather sets the gauges read at scrape time: the engine is up, each
// policy's last good flag and state (outbox, dead letters, failing
// channels: summed over the policies), the spool's.
func (s *Server) Gather(sink metrics.Sink) {
	now := time.Now()
	sink.Set(metrics.EngineUp, 1)
	var total metrics.StateGauges
	failing := map[string]bool{}
	rejectedSeen := map[string]bool{}
	for _, path := range s.cfg.Policies {
		l, lastGood := s.acquireWithFlag(path)
		v := 0.0
		if lastGood {
			v = 1
		}
		sink.Set(metrics.PolicyLastGood, v, path)
		if l == nil {
			continue
		}
		dir := drop.RejectedDir(s.statePath(l.policy))
		if !rejectedSeen[dir] {
			rejectedSeen[dir] = true
			metrics.SetRejected(sink, dir)
		}
		g, err := s.readState(l, time.Time{})
		s.releaseLoaded(l)
		if err != nil {
			continue
		}
		total.Outbox += g.Outbox
		total.DeadLetters += g.DeadLetters
		if !g.OutboxOldest.IsZero() && (total.OutboxOldest.IsZero() || g.OutboxOldest.Before(total.OutboxOldest)) {
			total.OutboxOldest = g.OutboxOldest
		}
		for ch := range g.Failing {
			failing[ch] = true
		}
	}
	sink.Set(metrics.OutboxEntries, float64(total.Outbox))
	sink.Set(metrics.DeadLetters, float64(total.DeadLetters))
	sink.Reset(metrics.ChannelFailing)
	for ch := range failing {
		sink.Set(metrics.ChannelFailing, 1, ch)
	}
	if total.OutboxOldest.IsZero() {
		sink.Set(metrics.OutboxOldest, 0)
	} else {
		sink.Set(metrics.OutboxOldest, now.Sub(total.OutboxOldest).Seconds())
	}
	if st, err := spool.ReadStats(s.cfg.Spool.Path); err == nil {
		metrics.SetSpool(sink, st, now)
	}
}

// acquireWithFlag is acquire, with whether the policy is its last good
// copy; nil when it has none loaded.
func (s *Server) acquireWithFlag(path string) (*loaded, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.policies[path]
	if ps == nil {
		return nil, false
	}
	if ps.cur == nil {
		return nil, ps.lastGood
	}
	ps.cur.refs++
	return ps.cur, ps.lastGood
}

// readState reads l's outbox, dead letters and failure marks, bounded.
func (s *Server) readState(l *loaded, stuckBefore time.Time) (metrics.StateGauges, error) {
	top, err := l.topology()
	if err != nil {
		return metrics.StateGauges{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return metrics.ReadState(ctx, top, l.policy, stuckBefore)
}

// checkSelf runs each policy's self-alert check (settings.self_alert)
// with what the engine saw since the last one.
func (s *Server) checkSelf() {
	now := time.Now()
	var sp *spool.Stats
	if st, err := spool.ReadStats(s.cfg.Spool.Path); err == nil {
		sp = &st
	}
	for _, path := range s.cfg.Policies {
		l, lastGood := s.acquireWithFlag(path)
		if l == nil {
			continue
		}
		s.mu.Lock()
		h := s.health[path]
		delete(s.health, path)
		var loadErr string
		if ps := s.policies[path]; ps != nil && ps.err != nil {
			loadErr = oneLine(ps.err)
		}
		s.mu.Unlock()
		sa := l.policy.Settings.SelfAlert
		if sa == nil {
			s.releaseLoaded(l)
			continue
		}
		o := watch.Observation{Now: now, Policy: path, LastGood: lastGood, LastGoodErr: loadErr, Spool: sp}
		if h != nil {
			o.Seen = *h
		}
		if g, err := s.readState(l, now.Add(-sa.After)); err == nil {
			o.State = &g
			o.Decided = o.Decided || !o.FailedOpen // the state is usable
		}
		w := &watch.Watcher{Path: filepath.Join(s.cfg.Spool.Path, watch.FileName), Notify: sa.Notify, After: sa.After,
			Host: s.cfg.Host, Channel: l.pipeline.Channel, Note: s.notePlain, Metrics: s.cfg.Metrics}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := w.Check(ctx, o); err != nil {
			s.note("self-alerts: %v", err)
		}
		cancel()
		s.releaseLoaded(l)
	}
}

// metricsServer serves /metrics at the first policy's
// settings.metrics.listen, if any sets it.
type metricsServer struct {
	srv    *http.Server
	listen string
	done   chan struct{}
}

// listenAddr is where the policies ask /metrics to be served: the
// first that sets it; the others must agree (else a note says which is
// ignored).
func (s *Server) listenAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := ""
	for _, path := range s.cfg.Policies {
		ps := s.policies[path]
		if ps == nil || ps.cur == nil {
			continue
		}
		a := ps.cur.policy.Settings.Metrics.Listen
		switch {
		case a == "" || a == addr:
		case addr == "":
			addr = a
		default:
			s.note("policy %s: settings.metrics.listen %s ignored: /metrics is served at %s (the first policy's)", path, a, addr)
		}
	}
	return addr
}

// startMetrics serves /metrics when a policy asks for it.
func (s *Server) startMetrics() (*metricsServer, error) {
	addr := s.listenAddr()
	if addr == "" {
		return nil, nil
	}
	if s.cfg.MetricsHandler == nil {
		s.note("settings.metrics.listen %s: not served: this notifier has no /metrics (install notifier-engine beside it; `notifier serve` runs it)", addr)
		return nil, nil
	}
	network, where := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, where = "unix", p
		// A socket left by an engine before this one is replaced;
		// anything else there is not ours to remove.
		if fi, err := os.Lstat(p); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return nil, fmt.Errorf("metrics: settings.metrics.listen %s: %s is there and is not a socket", addr, p)
			}
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("metrics: %s: %w", addr, err)
			}
		}
	}
	ln, err := net.Listen(network, where)
	if err != nil {
		return nil, fmt.Errorf("metrics: settings.metrics.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.cfg.MetricsHandler)
	m := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, listen: addr, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.note("metrics: %v", err)
		}
	}()
	s.note("metrics served at %s/metrics", ln.Addr())
	return m, nil
}

// addr is where m serves ("" for none).
func (m *metricsServer) addr() string {
	if m == nil {
		return ""
	}
	return m.listen
}

func (m *metricsServer) stop() {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.srv.Shutdown(ctx)
	<-m.done
}

// reloaded counts a policy load after the engine's start, and says when
// it asks /metrics to move: that takes a restart.
func (s *Server) reloaded(err error) {
	if err == nil {
		if want := s.listenAddr(); want != s.metricsAt {
			s.note("settings.metrics.listen is now %q, /metrics still at %q: restart the engine to move it", want, s.metricsAt)
		}
	}
	if s.cfg.Metrics == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "failed"
	}
	s.cfg.Metrics.Add(metrics.Reloads, 1, result)
}
