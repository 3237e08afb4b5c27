package bolt

// Commits is how many transactions s has committed (for benchmarks).
func Commits(s *Store) uint64 { return s.commits.Load() }
