package flock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A waiter that gave up never keeps the lock: once the holder lets go,
// the next Lock has it, every time.
func TestGaveUpWaiterReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	for i := range 20 {
		holder, err := Lock(path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Lock(path, 10*time.Millisecond); !errors.Is(err, ErrTimeout) {
			t.Fatalf("round %d: a held lock: %v, want a timeout", i, err)
		}
		holder.Close()
		f, err := Lock(path, 5*time.Second)
		if err != nil {
			t.Fatalf("round %d: after the holder let go: %v (the waiter that gave up kept it)", i, err)
		}
		f.Close()
	}
}

// A link is never opened.
func TestRefusesALink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.lock")
	if err := os.Symlink(filepath.Join(dir, "target"), path); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path, time.Second); err == nil {
		t.Fatal("locked through a link")
	}
}
