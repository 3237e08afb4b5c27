package flock

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
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

// Waits that gave up on a holder that never lets go leave nothing
// behind: no goroutine, no descriptor (the engine waits every few
// seconds, for as long as a stopped process holds a lock).
func TestGaveUpWaitsLeaveNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	holder, err := Lock(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	goroutines, descriptors := runtime.NumGoroutine(), fds()
	for range 50 {
		if _, err := Lock(path, time.Millisecond); !errors.Is(err, ErrTimeout) {
			t.Fatalf("a held lock: %v, want a timeout", err)
		}
	}
	if g, f := runtime.NumGoroutine()-goroutines, fds()-descriptors; g > 0 || f > 0 {
		t.Fatalf("50 waits that gave up left %d goroutines and %d descriptors", g, f)
	}
}
