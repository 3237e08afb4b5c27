package serve

import (
	"path/filepath"
	"testing"

	"notifier/engine"
	"notifier/engine/state/bolt"
)

// TestEngineStoresBatch: the engine's own stores (no Config.Stores) are
// opened batching: group commit and kept sessions.
func TestEngineStoresBatch(t *testing.T) {
	r := newRig(t, nil)
	cfg := r.cfg
	cfg.Stores = nil
	cfg.StatePath = filepath.Join(r.dir, "state.db")
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	top, err := s.cfg.Stores(&engine.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	if b, ok := top.Shared().(*bolt.Store); !ok || !b.Batching() {
		t.Fatalf("the engine's store is %T, batching %v; want a batching bolt store", top.Shared(), ok && b.Batching())
	}
}
