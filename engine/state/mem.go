package state

import (
	"context"
	"maps"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory Store for one process: policy tests with a virtual
// clock, and the reference the other stores are tested against.
type Mem struct {
	mu   sync.Mutex
	now  func() time.Time
	recs map[string]*Record
}

// NewMem returns an empty store; now says what time it is (expiry).
func NewMem(now func() time.Time) *Mem {
	return &Mem{now: now, recs: map[string]*Record{}}
}

// Update implements Store.
func (m *Mem) Update(ctx context.Context, ids []string, fn func(map[string]*Record) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs := m.load(ids)
	before := maps.Clone(recs)
	if err := fn(recs); err != nil {
		return err
	}
	if err := checkIDs(recs); err != nil {
		return err
	}
	for id := range before {
		if _, kept := recs[id]; !kept {
			delete(m.recs, id)
		}
	}
	for id, r := range recs {
		if r == nil {
			delete(m.recs, id)
			continue
		}
		cp := *r
		cp.Data = append([]byte(nil), r.Data...)
		m.recs[id] = &cp
	}
	return nil
}

func (m *Mem) load(ids []string) map[string]*Record {
	now := m.now()
	out := make(map[string]*Record, len(ids))
	for _, id := range ids {
		if r := m.recs[id]; r.Live(now) {
			cp := *r
			cp.Data = append([]byte(nil), r.Data...)
			out[id] = &cp
		}
	}
	return out
}

// View implements Store.
func (m *Mem) View(ctx context.Context, ids []string) (map[string]*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load(ids), nil
}

// Scan implements Store.
func (m *Mem) Scan(ctx context.Context, prefix string) (map[string]*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id := range m.recs {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	return m.load(ids), nil
}

// Close implements Store.
func (m *Mem) Close() error { return nil }
