package serve

import (
	"os"

	"notifier/engine/spool"
)

// Status says what the engine is doing, for `notifier status` (the
// wake-up socket's status answer): its policies in the order given,
// and the entries claimed and not yet done.
func (s *Server) Status() spool.EngineStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := spool.EngineStatus{PID: os.Getpid(), Owner: s.cfg.Owner, Started: s.started, Version: s.cfg.Version,
		Spool: s.cfg.Spool.Path, InFlight: s.inFlight + s.queued + len(s.loading), Claimed: s.claimed.Load(), Declined: s.declined.Load()}
	for _, path := range s.cfg.Policies {
		p := spool.PolicyStatus{Path: path}
		if ps := s.policies[path]; ps != nil {
			p.LoadedAt, p.LastGood = ps.loadedAt, ps.lastGood
			if l := ps.cur; l != nil && l.problems > 0 {
				p.Problems, p.LastProblem, p.LastProblemAt = l.problems, l.lastProblem, l.problemAt
			}
			if ps.err != nil {
				p.Error = oneLine(ps.err)
			}
		}
		st.Policies = append(st.Policies, p)
	}
	return st
}
