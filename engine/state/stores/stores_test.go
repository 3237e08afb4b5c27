package stores_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine/state"
	"notifier/engine/state/bolt"
	"notifier/engine/state/stores"
)

func TestOpenBoltOnly(t *testing.T) {
	top, err := stores.Open(stores.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	if top.Separate() {
		t.Fatal("without a Redis URL the bbolt file is the shared store")
	}
}

// TestOpenBatch: Batch reaches the bbolt store, and only when asked.
func TestOpenBatch(t *testing.T) {
	for _, batch := range []bool{false, true} {
		top, err := stores.Open(stores.Config{Path: filepath.Join(t.TempDir(), "state.db"), Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		b, ok := top.Shared().(*bolt.Store)
		if !ok || b.Batching() != batch {
			t.Errorf("Batch: %v: store %T, batching %v", batch, top.Shared(), ok && b.Batching())
		}
		top.Close()
	}
}

func TestOpenRedisBesideBolt(t *testing.T) {
	top, err := stores.Open(stores.Config{Path: filepath.Join(t.TempDir(), "state.db"), RedisURL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err) // connections are made lazily: nothing is dialled here
	}
	defer top.Close()
	if !top.Separate() {
		t.Fatal("with a Redis URL the shared store is Redis")
	}
}

func TestOpenFailures(t *testing.T) {
	dir := t.TempDir()
	_, err := stores.Open(stores.Config{Path: filepath.Join(dir, "missing", "state.db")})
	if !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("missing directory: err = %v, want ErrUnavailable", err)
	}
	_, err = stores.Open(stores.Config{Path: filepath.Join(dir, "state.db"), RedisURL: "redis://127.0.0.1:1/0", RedisPasswordFile: filepath.Join(dir, "nope")})
	if err == nil || !strings.Contains(err.Error(), "settings.state.redis.password") {
		t.Errorf("unreadable password file: err = %v", err)
	}
}
