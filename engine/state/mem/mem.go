// Package mem is the in-memory state.Store: policy tests with a virtual
// clock, and the reference the other stores are tested against.
package mem

import (
	"context"
	"maps"
	"strings"
	"sync"
	"time"

	"notifier/engine/state"
)

// Store is an in-memory state.Store for one process.
type Store struct {
	mu   sync.Mutex
	now  func() time.Time
	recs map[string]*state.Record
}

// New returns an empty store; now says what time it is (expiry).
func New(now func() time.Time) *Store {
	return &Store{now: now, recs: map[string]*state.Record{}}
}

// Update implements state.Store.
func (m *Store) Update(ctx context.Context, ids []string, fn func(map[string]*state.Record) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	recs := m.load(ids)
	before := maps.Clone(recs)
	if err := fn(recs); err != nil {
		return err
	}
	if err := state.CheckIDs(recs); err != nil {
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

func (m *Store) load(ids []string) map[string]*state.Record {
	now := m.now()
	out := make(map[string]*state.Record, len(ids))
	for _, id := range ids {
		if r := m.recs[id]; r.Live(now) {
			cp := *r
			cp.Data = append([]byte(nil), r.Data...)
			out[id] = &cp
		}
	}
	return out
}

// View implements state.Store.
func (m *Store) View(ctx context.Context, ids []string) (map[string]*state.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.load(ids), nil
}

// Scan implements state.Store.
func (m *Store) Scan(ctx context.Context, prefix string) (map[string]*state.Record, error) {
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

// Close implements state.Store.
func (m *Store) Close() error { return nil }
