package serve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"notifier/engine/metrics"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
	"notifier/engine/spool"
	"notifier/engine/state"
)

// serves says whether the engine decides e: its policy is one the
// engine was started with and has loaded (or has a last good copy of),
// and it was dropped with the engine's state path. It reads nothing:
// the engine never opens a path an entry names.
func (s *Server) serves(e *spool.Entry) bool {
	ok, _ := s.servesWhy(e.Policy, e.StatePath)
	return ok
}

// servesWhy is serves for an entry of policy and statePath, with the
// reason for a no.
func (s *Server) servesWhy(policy, statePath string) (ok bool, reason string) {
	if !s.served[policy] || statePath != s.cfg.StatePath {
		return false, "not served"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.policies[policy]
	if ps == nil || ps.cur == nil {
		return false, "policy not loaded"
	}
	return true, ""
}

// foreign says e is for a policy or state path this engine never serves.
func (s *Server) foreign(e *spool.Entry) bool {
	return !s.served[e.Policy] || e.StatePath != s.cfg.StatePath
}

// maxQueued bounds what a wake-up may wait behind: with more waiting
// (or the workers stalled: Config.StallAfter) the engine answers busy,
// and the drop decides in-process, as before the engine existed.
const maxQueued = 4096

// wants is the wake-up's look at an entry's policy and state path
// before it is claimed (spool.ServeOptions.Wants): served, and the
// engine not stuck.
func (s *Server) wants(policy, statePath string) (bool, string) {
	if ok, reason := s.servesWhy(policy, statePath); !ok {
		s.declined.Add(1)
		return false, reason
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		return false, "stopping"
	case s.queued >= maxQueued,
		s.queued >= s.cfg.Workers && time.Since(later(s.lastStart, s.fullSince)) > s.cfg.StallAfter:
		s.declined.Add(1)
		return false, "busy"
	}
	return true, ""
}

// claiming is told of an entry a wake-up claimed, before it is read
// (spool.ServeOptions.Claiming); the func it returns, once the entry has
// been offered (or not: unusable, or not the line's).
func (s *Server) claiming(id string) func() {
	s.mu.Lock()
	s.loading[id] = true
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.loading, id)
		s.handedOff.Broadcast()
		s.mu.Unlock()
		if s.handed != nil {
			s.handed(id)
		}
	}
}

// olderLoading says whether an entry received before id (ids sort by
// receipt) is claimed and not yet offered; s.mu is held. Its wake-up is
// being answered beside id's: its key may be id's, so id waits (the read
// takes microseconds).
func (s *Server) olderLoading(id string) bool {
	for l := range s.loading {
		if l < id {
			return true
		}
	}
	return false
}

// mismatch is told of an entry claimed on a wake-up line that named
// another policy or state path than the entry's (spool.ServeOptions.
// Mismatch): the engine does not decide it; it is back in new/.
func (s *Server) mismatch(id, why string, released bool) {
	s.declined.Add(1)
	if !released {
		s.note("spool entry %s: %s; not decided here, and putting it back into new/ failed: it waits in claimed/ for the next engine", id, why)
		return
	}
	s.note("spool entry %s: %s; not decided here, put back into new/", id, why)
}

// lost is told of an entry answered "claimed" (a v3 wake-up) that the
// engine then could not take (spool.ServeOptions.Lost): the error says
// where it is, for a flush or an operator.
func (s *Server) lost(id string, err error) {
	s.note("spool entry %s: answered claimed, then not taken: %v", id, err)
}

// offer queues a claimed entry when the engine serves it (Spool.Serve's
// accept, and the scan's). Declined (false), the caller releases it.
// Entries of one event key are decided one at a time in id (receipt)
// order; different keys concurrently.
func (s *Server) offer(c *spool.Claimed) bool {
	if !s.serves(&c.Entry) {
		s.declined.Add(1)
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.claimed.Add(1)
	key := c.Entry.Event.Key
	q := s.pending[key]
	i, _ := slices.BinarySearchFunc(q, c.Entry.ID, func(x *spool.Claimed, id string) int { return strings.Compare(x.Entry.ID, id) })
	s.pending[key] = slices.Insert(q, i, c)
	s.queued++
	s.lastBusy = time.Now()
	if s.queued == s.cfg.Workers {
		s.fullSince = s.lastBusy
	}
	if !s.active[key] {
		s.active[key] = true
		s.wg.Add(1)
		go s.drain(key)
	}
	return true
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// handOffWait bounds how long a drain waits for an older claim to be
// queued before it decides what it has (see drain): longer than the
// spool's wait for a drop to hang up (100 ms) and the read after it. A
// variable for tests.
var handOffWait = time.Second

// drain decides key's queued entries in order, each in a worker slot,
// until none is left; stopping, it releases what it has not started.
//
// Receipt order: an entry older than the one at the queue's head, of
// any key (its key is known only once read), may be on its way to the
// queue (claiming: its drop's fsync of new/, then a read; well under a
// millisecond). The drain waits for it, holding no worker slot (the
// other keys' drains go on), at most handOffWait for one head: on a
// disk that hangs the read, the entries queued go on being decided (out
// of receipt order, at worst) rather than every drain waiting on it.
func (s *Server) drain(key string) {
	defer s.wg.Done()
	var (
		head  string    // the head entry being waited for
		since time.Time // when that wait began
	)
	for {
		s.mu.Lock()
		s.awaitOlder(key, &head, &since)
		s.mu.Unlock()
		slot := false
		select {
		case s.sem <- struct{}{}:
			slot = true
		case <-s.stopCh:
		}
		s.mu.Lock()
		q := s.pending[key]
		if slot && !s.stopping && len(q) > 0 && s.olderLoading(q[0].Entry.ID) && !(q[0].Entry.ID == head && time.Since(since) >= handOffWait) {
			// An older claim began while this drain waited for its slot:
			// the slot back, and wait for it.
			s.mu.Unlock()
			<-s.sem
			continue
		}
		if s.stopping || len(q) == 0 {
			delete(s.pending, key)
			delete(s.active, key)
			s.queued -= len(q)
			s.mu.Unlock()
			if slot {
				<-s.sem
			}
			for _, c := range q {
				s.release(c)
			}
			return
		}
		c := q[0]
		s.pending[key] = q[1:]
		s.queued--
		s.inFlight++
		s.lastStart = time.Now()
		s.mu.Unlock()
		s.decide(c)
		s.mu.Lock()
		s.inFlight--
		s.lastBusy = time.Now()
		s.mu.Unlock()
		<-s.sem
	}
}

// awaitOlder waits, s.mu held, while an entry older than the head of
// key's queue is claimed and not yet queued: at most handOffWait for
// one head (*head and *since carry that wait across calls).
func (s *Server) awaitOlder(key string, head *string, since *time.Time) {
	var give *time.Timer
	defer func() {
		if give != nil {
			give.Stop()
		}
	}()
	for q := s.pending[key]; !s.stopping && len(q) > 0 && s.olderLoading(q[0].Entry.ID); q = s.pending[key] {
		if id := q[0].Entry.ID; id != *head {
			*head, *since = id, time.Now()
		}
		left := handOffWait - time.Since(*since)
		if left <= 0 {
			return
		}
		if give != nil {
			give.Stop()
		}
		give = time.AfterFunc(left, func() {
			s.mu.Lock()
			s.handedOff.Broadcast()
			s.mu.Unlock()
		})
		s.handedOff.Wait()
	}
}

// release puts an entry the engine will not decide back into new/.
func (s *Server) release(c *spool.Claimed) {
	if err := s.cfg.Spool.Release(c); err != nil {
		s.note("%s: %v (it stays claimed until the next takeover)", c.Entry.ID, err)
	}
}

// acquire is the policy of path as now loaded, held until release.
func (s *Server) acquire(path string) *loaded {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.policies[path]
	if ps == nil || ps.cur == nil {
		return nil
	}
	ps.cur.refs++
	return ps.cur
}

// releaseLoaded ends a use of l; the last use of a replaced policy
// closes its channels and stores.
func (s *Server) releaseLoaded(l *loaded) {
	s.mu.Lock()
	l.refs--
	closing := l.retired && l.refs == 0
	s.mu.Unlock()
	if closing {
		l.close()
	}
}

// maxPanics is how many times deciding an entry may panic before the
// entry goes to bad/ instead of being tried again.
const maxPanics = 3

// decide takes one claimed entry end to end: its event decoded with the
// policy's cluster defaults, the pipeline's decision (recording the
// entry's id), then Done once the decision committed.
func (s *Server) decide(c *spool.Claimed) {
	l := s.acquire(c.Entry.Policy)
	if l == nil { // a served policy stays loaded: not reached
		s.release(c)
		return
	}
	defer s.releaseLoaded(l)
	defer func() {
		if v := recover(); v != nil {
			s.mu.Lock()
			s.panics[c.Entry.ID]++
			n := s.panics[c.Entry.ID]
			s.mu.Unlock()
			if n >= maxPanics {
				s.note("%s: deciding failed %d times, the last: %v: %v", c.Entry.ID, n, v,
					s.cfg.Spool.Bad(c, fmt.Errorf("deciding it failed %d times: %v", n, v)))
				return
			}
			s.note("%s: deciding failed: %v (entry put back, to be tried again)", c.Entry.ID, v)
			s.release(c)
		}
	}()
	ev, err := s.cfg.Decode(&c.Entry, l.policy.Settings.Cluster)
	if err != nil {
		if s.cfg.Metrics != nil {
			metrics.ObserveRejected(s.cfg.Metrics, c.Entry.Input.Source)
		}
		s.note("%v", s.cfg.Spool.Bad(c, fmt.Errorf("its event does not decode: %w", err)))
		return
	}
	pl := *l.pipeline
	pl.Occurrence = occurrence(c.Entry.Occurrence)
	deadline := l.policy.Settings.Deadline
	if deadline <= 0 {
		deadline = policy.DefaultDeadline
	}
	// From now, not from the entry's receipt: the engine is not killed at
	// a caller's time limit, and an entry taken over late must still be
	// decided and delivered.
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	r, gone := pl.RunClaimed(ctx, ev, c.Entry.ID, func() { s.done(c) })
	if !gone {
		// Nothing recorded it (state and pending directory unusable) and
		// not all of it was delivered: decided again from new/ at a later
		// scan (a duplicate of what was delivered is better than a loss).
		s.note("%s %s: neither recorded nor all delivered: put back, to be decided again", c.Entry.ID, ev.Key)
		s.release(c)
	}
	s.note("%s", summary(c, ev.Key, r))
	if gone {
		s.observe(l, ev, r)
	} else {
		s.observe(l, nil, r) // decided again later: counted then
	}
	s.needsPerson(l, r)
	switch {
	case r.Queued > 0 || r.Released > 0 || r.Plan.Released > 0:
		// Queued, or released held events (queued for other keys): see
		// what is due at the next tick.
		s.mu.Lock()
		l.nextFlush = time.Time{}
		s.mu.Unlock()
	case !r.Plan.Due.IsZero():
		// Held or grouped: the flush that tells it is due then (in wall
		// time; the pipeline's clock may be another).
		due := time.Now().Add(r.Plan.Due.Sub(s.clock()))
		s.mu.Lock()
		if due.Before(l.nextFlush) {
			l.nextFlush = due
		}
		s.mu.Unlock()
	}
	if s.decided != nil {
		s.decided(c, r)
	}
}

// needsPerson counts r's problems against l, for `notifier status`
// (each was noted in the log as it happened).
func (s *Server) needsPerson(l *loaded, r *pipeline.Report) {
	if r == nil || len(r.NeedsPerson) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l.problems += len(r.NeedsPerson)
	l.lastProblem = oneLine(r.NeedsPerson[len(r.NeedsPerson)-1])
	l.problemAt = time.Now()
}

// done removes a decided entry from the spool.
func (s *Server) done(c *spool.Claimed) {
	if err := s.cfg.Spool.Done(c); err != nil {
		// Decided and recorded: claimed again, it is recognised.
		s.note("%s: decided, but not removed from the spool: %v", c.Entry.ID, err)
	}
}

// summary is the one line an event's decision gets in the log.
func summary(c *spool.Claimed, key string, r *pipeline.Report) string {
	if r.Plan.AlreadyDecided {
		return fmt.Sprintf("%s %s: decided before (entry claimed again); outbox flushed", c.Entry.ID, key)
	}
	var sent []string
	for _, p := range r.Plan.Send {
		sent = append(sent, p.Delivery.Channel)
	}
	line := fmt.Sprintf("%s %s: %d to send [%s], %d skipped; %d delivered, %d queued, %d failed",
		c.Entry.ID, key, len(r.Plan.Send), strings.Join(sent, " "), len(r.Plan.Skip), r.Delivered, r.Queued, r.Failed)
	if r.FailedOpen {
		line += " (without state)"
	}
	return line
}

// scan claims what waits in new/ for the engine: entries whose drop gave
// up, died or did not wait, older than ScanGrace (a younger one's drop
// may be claiming it now). An entry the engine does not serve is looked
// at (Peek), never claimed, and remembered so it is looked at once: its
// invocation or `notifier flush` decides it.
func (s *Server) scan(now time.Time) {
	ids, err := s.cfg.Spool.List()
	if err != nil {
		s.note("scanning the spool: %v", err)
		return
	}
	for id := range s.declinedIDs {
		if _, found := slices.BinarySearch(ids, id); !found {
			delete(s.declinedIDs, id)
		}
	}
	for _, id := range ids {
		if s.declinedIDs[id] || s.isStopping() {
			continue
		}
		e, err := s.cfg.Spool.Peek(id)
		if errors.Is(err, spool.ErrTaken) {
			continue
		}
		if err == nil {
			if now.Sub(e.Received) < s.cfg.ScanGrace {
				continue
			}
			if !s.serves(&e) {
				if s.foreign(&e) { // not merely a policy not loaded yet
					s.declinedIDs[id] = true
					s.declined.Add(1)
				}
				continue
			}
		} // else: Claim moves it to bad/
		c, err := s.cfg.Spool.Claim(id, s.cfg.Owner)
		if errors.Is(err, spool.ErrTaken) {
			continue
		}
		if err != nil {
			s.note("%v", err)
			continue
		}
		if !s.offer(c) {
			s.release(c)
		}
	}
}

// takeover claims the entries of claimers that died (state.OwnerAlive)
// and queues those the engine serves; the others go back to new/.
func (s *Server) takeover() {
	got, err := s.cfg.Spool.Takeover(state.OwnerAlive, s.cfg.Owner)
	if err != nil {
		s.note("taking over dead claimers' entries: %v", err)
	}
	for _, c := range got {
		s.note("%s: taken over from a claimer that died", c.Entry.ID)
		if !s.offer(c) {
			s.release(c)
		}
	}
}

func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// loadPath loads the policy at path (first: at start, when a last good
// copy may stand in) and makes it current; one that does not load keeps
// the one loaded before, loudly.
func (s *Server) loadPath(path string, first bool) {
	stamp := fingerprint(path)
	l, lastGood, err := s.load(path, first)
	s.mu.Lock()
	ps := s.policies[path]
	if ps == nil {
		ps = &policyState{}
		s.policies[path] = ps
	}
	ps.stamp, ps.err = stamp, err
	var old *loaded
	if l != nil {
		old, ps.cur, ps.lastGood, ps.loadedAt = ps.cur, l, lastGood, l.loadedAt
	} else if ps.cur != nil {
		ps.lastGood = true
	}
	if old != nil {
		old.retired = true
		if old.refs > 0 {
			old = nil // its last user closes it
		}
	}
	cur, loadedAt := ps.cur, ps.loadedAt
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	if !first {
		s.reloaded(err)
	}
	if l != nil && s.cfg.Metrics != nil {
		metrics.Zero(s.cfg.Metrics, slices.Sorted(maps.Keys(l.policy.Channels)))
	}
	if s.loadedFn != nil {
		defer s.loadedFn(path, err)
	}
	switch {
	case err == nil:
		s.note("policy %s loaded", path)
	case l != nil: // the last good copy, at start: Fallback said so
	case cur != nil:
		s.note("%s; still using the policy loaded at %s until it is fixed", oneLine(err), loadedAt.UTC().Format(time.RFC3339))
	default:
		s.note("%s; no policy of it to use: its events are decided by their own invocations", oneLine(err))
	}
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
