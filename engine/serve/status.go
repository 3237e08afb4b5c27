package serve

import (
	"maps"
	"os"
	"slices"
)

// Status says what the engine is doing, for `notifier status`.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{PID: os.Getpid(), Owner: s.cfg.Owner, Started: s.started, Version: s.cfg.Version,
		Spool: s.cfg.Spool.Path, InFlight: s.inFlight, Claimed: s.claimed.Load(), Declined: s.declined.Load()}
	for _, path := range slices.Sorted(maps.Keys(s.policies)) {
		ps := s.policies[path]
		p := PolicyStatus{Path: path, LoadedAt: ps.loadedAt, LastGood: ps.lastGood}
		if ps.err != nil {
			p.Error = oneLine(ps.err)
		}
		st.Policies = append(st.Policies, p)
	}
	return st
}
