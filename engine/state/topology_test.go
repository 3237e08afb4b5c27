package state_test

import (
	"testing"
	"time"

	"notifier/engine/state"
	"notifier/engine/state/mem"
)

// closeCount is a store that counts its Close calls.
type closeCount struct {
	*mem.Store
	closed int
}

func (c *closeCount) Close() error { c.closed++; return nil }

func TestTopologyOneStore(t *testing.T) {
	local := &closeCount{Store: mem.New(time.Now)}
	top := state.NewTopology(local, nil)
	if top.Separate() || top.Shared() != state.Store(local) || top.History() != state.Store(local) {
		t.Fatalf("without Redis both are the local store: %+v", top)
	}
	recs := map[string]*state.Record{}
	hist := map[string]*state.Record{"h/1": {Data: []byte("x")}}
	if left := top.AddHistory(recs, hist); left != nil || recs["h/1"] == nil {
		t.Fatalf("history must go into the one Update: left %v, recs %v", left, recs)
	}
	top.Close()
	if local.closed != 1 {
		t.Errorf("closed %d times, want once", local.closed)
	}
}

func TestTopologySeparate(t *testing.T) {
	local, shared := &closeCount{Store: mem.New(time.Now)}, &closeCount{Store: mem.New(time.Now)}
	top := state.NewTopology(local, shared)
	if !top.Separate() || top.Shared() != state.Store(shared) || top.History() != state.Store(local) {
		t.Fatalf("with Redis: shared %v history %v", top.Shared(), top.History())
	}
	recs := map[string]*state.Record{}
	hist := map[string]*state.Record{"h/1": {Data: []byte("x")}}
	if left := top.AddHistory(recs, hist); len(left) != 1 || len(recs) != 0 {
		t.Fatalf("history must be left for the local store: left %v, recs %v", left, recs)
	}
	fallback := top.LocalOnly()
	if fallback.Separate() || fallback.Shared() != state.Store(local) {
		t.Fatalf("LocalOnly must stand the local store in for the shared one")
	}
	top.Close()
	if local.closed != 1 || shared.closed != 1 {
		t.Errorf("closed local %d, shared %d times, want once each", local.closed, shared.closed)
	}
}
