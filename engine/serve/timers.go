package serve

import (
	"context"
	"time"

	"notifier/engine/pipeline"
	"notifier/engine/policy"
	"notifier/engine/state"
)

// timers is what the engine does on its own, every Tick: scan and take
// over, look at the policy files, flush the outbox when a delivery is
// due, see whether it is idle. Only Run's goroutine uses it.
type timers struct {
	s                  *Server
	nextScan, nextPoll time.Time
	nextWatch          time.Time
	watching           bool // a self-alert check runs (Run's goroutine only)
	watched            chan struct{}
}

// run does what is due at now, and says whether the engine has been
// idle long enough to stop.
func (t *timers) run(now time.Time) (idle bool) {
	s := t.s
	if !now.Before(t.nextScan) {
		s.takeover()
		s.scan(now)
		t.nextScan = now.Add(s.cfg.ScanEvery)
		if s.scanned != nil {
			s.scanned()
		}
	}
	if !now.Before(t.nextPoll) {
		for _, path := range s.cfg.Policies {
			s.mu.Lock()
			stamp := ""
			if ps := s.policies[path]; ps != nil {
				stamp = ps.stamp
			}
			s.mu.Unlock()
			if fingerprint(path) != stamp {
				s.loadPath(path, false)
			}
		}
		s.pollDue(now)
		t.nextPoll = now.Add(s.cfg.PollEvery)
	}
	t.watch(now)
	s.mu.Lock()
	var flush []*loaded
	for _, ps := range s.policies {
		if l := ps.cur; l != nil && !now.Before(l.nextFlush) {
			l.refs++
			l.nextFlush = now.Add(s.cfg.FlushEvery) // until the flush says
			flush = append(flush, l)
			s.flushing++
		}
	}
	s.mu.Unlock()
	for _, l := range flush {
		s.flushWG.Add(1)
		go s.flush(l)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	busy := s.inFlight > 0 || s.queued > 0 || s.flushing > 0 || len(s.loading) > 0
	for _, ps := range s.policies {
		if l := ps.cur; l != nil && !l.due.IsZero() && !now.Before(l.due) {
			busy = true // a queued delivery is due: flushed at the next tick
		}
	}
	if busy {
		s.lastBusy = now
	}
	return s.cfg.Idle > 0 && now.Sub(s.lastBusy) >= s.cfg.Idle
}

// flush delivers what l's outbox holds that is due, then sets l's next
// flush to when the next queued delivery is due (at the latest
// FlushEvery from now).
func (s *Server) flush(l *loaded) {
	defer s.flushWG.Done()
	defer s.releaseLoaded(l)
	defer func() {
		s.mu.Lock()
		s.flushing--
		s.mu.Unlock()
	}()
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	deadline := l.policy.Settings.Deadline
	if deadline <= 0 {
		deadline = policy.DefaultDeadline
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	r, err := l.pipeline.Flush(ctx, false)
	if err != nil {
		s.note("flushing the outbox of %s: %v", l.path, err)
		return
	}
	if r.Delivered+r.Failed > 0 {
		s.note("outbox of %s: %d delivered, %d queued, %d given up", l.path, r.Delivered, r.Queued, r.Failed)
	}
	s.observe(l, nil, r)
	s.needsPerson(l, r)
	if s.flushed != nil {
		s.flushed(r)
	}
	next, ok := nextDue(ctx, l, r)
	now := time.Now()
	if ok { // in the pipeline's time: made wall-clock time for the timers
		next = now.Add(next.Sub(s.clock()))
	}
	s.mu.Lock()
	l.due = next
	s.mu.Unlock()
	if !ok {
		return
	}
	if floor := now.Add(time.Second); next.Before(floor) {
		next = floor // never a busy loop
	}
	s.mu.Lock()
	if next.Before(l.nextFlush) {
		l.nextFlush = next
	}
	s.mu.Unlock()
}

// clock is the pipelines' time.
func (s *Server) clock() time.Time {
	if s.cfg.Clock != nil {
		return s.cfg.Clock()
	}
	return time.Now()
}

// nextDue is when the first delivery queued in l's outbox may be tried
// again (its next attempt, or the end of another run's lease), or the
// first held event is due (r.NextHeld), if sooner; false when there is
// neither or the outbox cannot be read.
func nextDue(ctx context.Context, l *loaded, r *pipeline.Report) (time.Time, bool) {
	top, err := l.topology()
	if err != nil {
		return time.Time{}, false
	}
	recs, err := top.Shared().Scan(ctx, state.OutboxPrefix)
	if err != nil {
		return time.Time{}, false
	}
	next := r.NextHeld // passed in: the flush just scanned the held events
	for _, e := range state.Entries(recs) {
		at := e.NextAttempt
		if e.LeasedUntil.After(at) {
			at = e.LeasedUntil
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next, !next.IsZero() || len(recs) > 0
}

// dueIndex reads l's due index.
func dueIndex(l *loaded) (map[string]*state.Record, error) {
	top, err := l.topology()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return top.Shared().View(ctx, []string{state.DueID()})
}

// pollDue looks at each policy's due index (state.DueIndex): what became
// due without a decision of this engine — a silence expired early by
// `notifier silence expire`, a hold made by another node sharing Redis —
// is told at the next tick, not at the next periodic flush.
func (s *Server) pollDue(now time.Time) {
	s.mu.Lock()
	var ls []*loaded
	for _, ps := range s.policies {
		if l := ps.cur; l != nil && now.Before(l.nextFlush) {
			l.refs++ // released below: a reload may retire it meanwhile
			ls = append(ls, l)
		}
	}
	s.mu.Unlock()
	for _, l := range ls {
		recs, err := dueIndex(l)
		s.releaseLoaded(l)
		if err != nil {
			continue
		}
		due := state.DueAt(recs)
		if due.IsZero() {
			continue
		}
		due = now.Add(due.Sub(s.clock())) // in wall time
		s.mu.Lock()
		if due.Before(l.nextFlush) {
			l.nextFlush = due
		}
		s.mu.Unlock()
	}
}

// watch starts a self-alert check every WatchEvery, one at a time, off
// Run's goroutine (it reads the state and may deliver).
func (t *timers) watch(now time.Time) {
	s := t.s
	if t.watching {
		select {
		case <-t.watched:
			t.watching = false
		default:
			return
		}
	}
	if now.Before(t.nextWatch) {
		return
	}
	t.nextWatch = now.Add(s.cfg.WatchEvery)
	t.watching, t.watched = true, make(chan struct{})
	s.flushWG.Add(1)
	go func(done chan struct{}) {
		defer s.flushWG.Done()
		defer close(done)
		s.checkSelf()
	}(t.watched)
}
