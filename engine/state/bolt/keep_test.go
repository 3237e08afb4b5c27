package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"notifier/engine/state"
)

// keptStore opens a batching store on path with the given session
// bounds, counting the sessions it opens and ends.
func keptStore(t *testing.T, path string, keepFor, keepIdle time.Duration) (b *Store, opened, ended *atomic.Int64) {
	t.Helper()
	b, err := OpenOptions(path, Options{Batch: true, KeepFor: keepFor, KeepIdle: keepIdle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	opened, ended = new(atomic.Int64), new(atomic.Int64)
	b.keep.opened = func() { opened.Add(1) }
	b.keep.ended = func() { ended.Add(1) }
	return b, opened, ended
}

// lockFree says whether another open file could take path's lock now.
func lockFree(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// TestKeptSessionServesConsecutiveOps: Updates, Views and Scans that
// follow each other within the session's bounds share one lock and one
// open; the lock stays taken while the session lasts, and Close lets it
// go.
func TestKeptSessionServesConsecutiveOps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, opened, ended := keptStore(t, path, time.Hour, time.Hour)
	ctx := context.Background()
	for range 5 {
		if err := increment(ctx, b, "count"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Scan(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	if c := counter(t, b, "count"); c != 5 {
		t.Fatalf("count = %d, want 5", c)
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("%d sessions opened for consecutive operations, want 1", n)
	}
	if lockFree(t, path) {
		t.Error("the lock is free while the session lasts")
	}
	b.Close()
	if n := ended.Load(); n != 1 {
		t.Errorf("%d sessions ended after Close, want 1", n)
	}
	if !lockFree(t, path) {
		t.Error("the lock is still taken after Close")
	}
}

// TestKeptSessionAge: a session older than KeepFor takes no new
// operation: each one, after it, opens a session of its own, and the
// lock is let go in between.
func TestKeptSessionAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, opened, ended := keptStore(t, path, time.Nanosecond, time.Hour)
	ctx := context.Background()
	for range 3 {
		if err := increment(ctx, b, "count"); err != nil {
			t.Fatal(err)
		}
	}
	if n, e := opened.Load(), ended.Load(); n != 3 || e != 3 {
		t.Errorf("sessions opened %d, ended %d, want 3 and 3", n, e)
	}
	if !lockFree(t, path) {
		t.Error("the lock is taken after the session's last operation")
	}
}

// TestKeptSessionIdle: a session nothing uses ends by itself, letting
// the lock go.
func TestKeptSessionIdle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, _, _ := keptStore(t, path, time.Hour, time.Millisecond)
	gone := make(chan struct{}, 1)
	b.keep.ended = func() { gone <- struct{}{} }
	if err := increment(context.Background(), b, "count"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
	case <-time.After(30 * time.Second): // a guard, not a measurement
		t.Fatal("an idle session was never ended")
	}
	if !lockFree(t, path) {
		t.Error("the lock is taken after the idle session ended")
	}
}

// TestKeptSessionBesideOtherRuns: the engine's store (kept sessions,
// group commit) and runs of their own (unbatched stores: other
// processes' turns on the lock, each with its own open file) update one
// counter at once; none waits past its bound, no update is lost.
func TestKeptSessionBesideOtherRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	eng, err := OpenOptions(path, Options{Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const engineOps, runs, runOps = 4 * 40, 3, 15
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range engineOps / 4 {
				if err := increment(ctx, eng, "count"); err != nil {
					t.Error(err)
					return
				}
				if _, err := eng.View(ctx, []string{"count"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range runs {
		wg.Go(func() {
			run, err := Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer run.Close()
			for range runOps {
				if err := increment(ctx, run, "count"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c := counter(t, eng, "count"); c != engineOps+runs*runOps {
		t.Fatalf("count = %d, want %d: lost updates", c, engineOps+runs*runOps)
	}
}

// TestKeptReadCreatesNothing: as an unbatched store, a batching store's
// read of a file not yet written creates nothing.
func TestKeptReadCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	b, opened, _ := keptStore(t, filepath.Join(dir, "state.db"), time.Hour, time.Hour)
	if m, err := b.View(context.Background(), []string{"k"}); err != nil || len(m) != 0 {
		t.Fatalf("View = %v, %v; want empty", m, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || opened.Load() != 0 {
		t.Fatalf("reading created %v, opened %d sessions", ents, opened.Load())
	}
}

// TestKeptSessionLockWaitBounded: a session waits for a lock another
// process holds no longer than an unbatched read would.
func TestKeptSessionLockWaitBounded(t *testing.T) {
	_, path := seededBolt(t, 1)
	f := holdLock(t, path)
	defer f.Close()
	b, _, _ := keptStore(t, path, time.Hour, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	_, err := b.View(ctx, []string{"h/000000"})
	var held *lockHeldError
	if !errors.As(err, &held) || held.waited > time.Second {
		t.Errorf("err = %v, want held by another process after at most a quarter of 4s", err)
	}
	if ctx.Err() != nil {
		t.Error("the lock wait took the whole deadline")
	}
	f.Close()
	b.pending.Wait()
}

// TestKeptSessionDamaged: a read in a session that finds the file
// damaged gets the damage error and the file is moved aside — the
// session lets the lock go first, so the move is not kept waiting —
// and the next operation starts a new file.
func TestKeptSessionDamaged(t *testing.T) {
	_, path := seededBolt(t, 60)
	overwrite(t, path, 8192, 12*1024)
	b, _, _ := keptStore(t, path, time.Hour, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := b.Scan(ctx, "")
	if !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, state.ErrDamaged) {
		t.Fatalf("err = %v, want ErrUnavailable and ErrDamaged", err)
	}
	if moved, _ := filepath.Glob(path + ".damaged-*"); len(moved) != 1 {
		t.Fatalf("moved aside: %v, want one file", moved)
	}
	if ctx.Err() != nil {
		t.Fatal("moving the file aside waited out the deadline")
	}
	if err := increment(ctx, b, "count"); err != nil {
		t.Fatal(err)
	}
	if c := counter(t, b, "count"); c != 1 {
		t.Errorf("count = %d in the new file, want 1", c)
	}
}
