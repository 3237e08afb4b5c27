package state

import (
	"errors"
	"maps"
)

// Topology is the state a run uses: the shared store holds windows,
// incidents, silences and the outbox — Redis when configured, so that
// several nodes agree on what was already said and the outbox keeps one
// order per key across them; the local store (the embedded bbolt file)
// holds this host's history, and stands in for the shared one when Redis
// is down. Without Redis both are the bbolt file, and one transaction
// writes a decision and its history together.
type Topology struct {
	local, shared Store
}

// NewTopology returns the topology of local and shared; a nil shared
// means the local store is shared too (no Redis).
func NewTopology(local, shared Store) *Topology {
	if shared == nil {
		shared = local
	}
	return &Topology{local: local, shared: shared}
}

// Shared is the store of windows, incidents, silences and the outbox.
func (t *Topology) Shared() Store { return t.shared }

// History is the store of this host's history: the local one.
func (t *Topology) History() Store { return t.local }

// Separate reports whether the shared store is not the local one
// (Redis): history is then written apart, and records are shared with
// other hosts on purpose.
func (t *Topology) Separate() bool { return t.shared != t.local }

// LocalOnly is the topology with the local store standing in for the
// shared one (Redis is down). It shares t's stores: close t, not it.
func (t *Topology) LocalOnly() *Topology { return &Topology{local: t.local, shared: t.local} }

// AddHistory puts hist into recs, the records of an Update of the shared
// store, when that store also keeps the history, and returns nil; else
// it returns hist, which the caller then writes to History() after the
// Update (history must not hold the shared store's locks longer).
func (t *Topology) AddHistory(recs, hist map[string]*Record) map[string]*Record {
	if t.Separate() {
		return hist
	}
	maps.Copy(recs, hist)
	return nil
}

// Close closes both stores (the one store once).
func (t *Topology) Close() error {
	var err error
	if t.Separate() {
		err = t.shared.Close()
	}
	return errors.Join(err, t.local.Close())
}
