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

// TestEngineKeyFlush: the engine's decisions each flush only their own
// key's deliveries (pipeline.KeyFlush); the engine's flush delivers the
// rest.
func TestEngineKeyFlush(t *testing.T) {
	r := newRig(t, nil)
	r.start()
	l := r.srv.acquire(r.policy)
	if l == nil {
		t.Fatal("the policy is not loaded")
	}
	defer r.srv.releaseLoaded(l)
	if !l.pipeline.KeyFlush {
		t.Error("the engine's pipeline flushes every key's deliveries on each decision")
	}
}
