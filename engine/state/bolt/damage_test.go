package bolt

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"notifier/engine/state"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// seededBolt returns a store whose file holds enough records to span
// many data pages, and the file's path.
func seededBolt(t testing.TB, n int) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		err := b.Update(context.Background(), nil, func(m map[string]*state.Record) error {
			m[fmt.Sprintf("h/%06d", i)] = &state.Record{Data: []byte(strings.Repeat("x", 300))}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return b, path
}

func overwrite(t *testing.T, path string, off int64, n int) {
	t.Helper()
	junk := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
}

// TestBoltDamagedFile: every entry point on a damaged file (bbolt panics
// or faults on it) returns state.ErrUnavailable and state.ErrDamaged instead of
// crashing, the file is moved aside and kept as it was, and the next
// Update starts a fresh file.
func TestBoltDamagedFile(t *testing.T) {
	damages := map[string]func(t *testing.T, path string){
		"truncated":       func(t *testing.T, path string) { os.Truncate(path, 12000) },
		"truncated short": func(t *testing.T, path string) { os.Truncate(path, 5000) },
		// The records' root page cut off: bbolt maps at least 32 KiB, so a
		// page past the end may still be mapped, and reading it faults
		// (SIGBUS), which is no panic unless SetPanicOnFault says so.
		"truncated before the root": func(t *testing.T, path string) {
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var root uint64
			db.View(func(tx *bbolt.Tx) error { root = uint64(tx.Bucket(boltRecords).Root()); return nil })
			db.Close()
			if err := os.Truncate(path, int64(root)*4096+100); err != nil {
				t.Fatal(err)
			}
		},
		"data pages": func(t *testing.T, path string) { overwrite(t, path, 8192, 12*1024) },
		"meta pages": func(t *testing.T, path string) { overwrite(t, path, 32, 64); overwrite(t, path, 4096+32, 64) },
	}
	ops := map[string]func(b *Store) error{
		"update": func(b *Store) error {
			return b.Update(context.Background(), []string{"h/000001"}, func(map[string]*state.Record) error { return nil })
		},
		"view": func(b *Store) error { _, err := b.View(context.Background(), []string{"h/000001"}); return err },
		"scan": func(b *Store) error { _, err := b.Scan(context.Background(), "h/"); return err },
	}
	for dname, damage := range damages {
		for oname, op := range ops {
			t.Run(dname+"/"+oname, func(t *testing.T) {
				b, path := seededBolt(t, 60)
				damage(t, path)
				damaged, _ := os.ReadFile(path)
				err := op(b)
				if !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, state.ErrDamaged) {
					t.Fatalf("err = %v, want state.ErrUnavailable and state.ErrDamaged", err)
				}
				moved, _ := filepath.Glob(path + ".damaged-*")
				if len(moved) != 1 || !strings.Contains(err.Error(), "moved aside to "+moved[0]) {
					t.Fatalf("moved aside: %v; error %q should name it", moved, err)
				}
				if kept, _ := os.ReadFile(moved[0]); string(kept) != string(damaged) {
					t.Error("the moved file is not the damaged file as it was")
				}
				if err := b.Update(context.Background(), nil, func(m map[string]*state.Record) error {
					m["k"] = &state.Record{Data: []byte("fresh")}
					return nil
				}); err != nil {
					t.Fatalf("update after the move: %v", err)
				}
				if got, err := b.View(context.Background(), []string{"k"}); err != nil || got["k"] == nil {
					t.Fatalf("fresh state: %v, %v", got, err)
				}
			})
		}
	}
}

// TestBoltNotOursNotMoved: a file at the state path that is not a bbolt
// file is reported, and never moved.
func TestBoltNotOursNotMoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := Open(path)
	_, err := b.Scan(context.Background(), "")
	if !errors.Is(err, state.ErrUnavailable) || errors.Is(err, state.ErrDamaged) {
		t.Fatalf("err = %v, want state.ErrUnavailable, not state.ErrDamaged", err)
	}
	if moved, _ := filepath.Glob(path + ".damaged-*"); len(moved) != 0 {
		t.Errorf("moved aside a file that is not ours: %v", moved)
	}
}

// TestBoltDamagedConcurrently: many stores (as many processes) find one
// damaged file at once: it is moved aside once, and a fresh file created
// after the move is never moved.
func TestBoltDamagedConcurrently(t *testing.T) {
	_, path := seededBolt(t, 60)
	overwrite(t, path, 8192, 12*1024)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			b, _ := Open(path)
			errs[i] = b.Update(context.Background(), []string{"h/000001"}, func(m map[string]*state.Record) error {
				m[fmt.Sprintf("new/%d", i)] = &state.Record{Data: []byte("x")}
				return nil
			})
		})
	}
	wg.Wait()
	moved, _ := filepath.Glob(path + ".damaged-*")
	if len(moved) != 1 {
		t.Fatalf("moved aside %d times: %v", len(moved), moved)
	}
	b, _ := Open(path)
	fresh, err := b.Scan(context.Background(), "new/")
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err == nil && fresh[fmt.Sprintf("new/%d", i)] == nil {
			t.Errorf("update %d succeeded but its record is not in the state file: a fresh file was moved aside", i)
		}
		if err != nil && !errors.Is(err, state.ErrDamaged) {
			t.Errorf("update %d: %v", i, err)
		}
	}
}

// TestBoltMoveAsideOnlyTheDamagedFile: a run that found the damage late
// (another run already moved the file and a new one is in its place)
// leaves the new file alone.
func TestBoltMoveAsideOnlyTheDamagedFile(t *testing.T) {
	b, path := seededBolt(t, 1)
	old, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".damaged-by-another-run"); err != nil {
		t.Fatal(err)
	}
	if err := b.Update(context.Background(), nil, func(m map[string]*state.Record) error { m["k"] = &state.Record{Data: []byte("1")}; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.moveAside(context.Background(), old); !errors.Is(err, errMovedByOther) {
		t.Fatalf("moveAside = %v, want errMovedByOther", err)
	}
	if got, err := b.View(context.Background(), []string{"k"}); err != nil || got["k"] == nil {
		t.Errorf("the new file was disturbed: %v, %v", got, err)
	}
}

// TestBoltCallbackPanicNotDamage: a panic in the caller's fn is a bug in
// the caller, not a damaged file: it is not swallowed and nothing moves.
func TestBoltCallbackPanicNotDamage(t *testing.T) {
	b, path := seededBolt(t, 1)
	func() {
		defer func() {
			if r := recover(); r != "caller bug" {
				t.Errorf("recovered %v, want the caller's panic", r)
			}
		}()
		b.Update(context.Background(), nil, func(map[string]*state.Record) error { panic("caller bug") })
	}()
	if moved, _ := filepath.Glob(path + ".damaged-*"); len(moved) != 0 {
		t.Errorf("moved aside on the caller's panic: %v", moved)
	}
}

// TestBoltLockWaitBounded: a lock another process never lets go ends
// every wait after a bound: a quarter of what is left of the deadline
// (most of it is left to deliver), or state.MaxLockWait with no deadline.
func TestBoltLockWaitBounded(t *testing.T) {
	b, path := seededBolt(t, 1)
	f := holdLock(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	_, err := b.Scan(ctx, "")
	var held *lockHeldError
	if !errors.Is(err, state.ErrUnavailable) || !errors.As(err, &held) || held.waited > time.Second {
		t.Fatalf("err = %v, want state.ErrUnavailable: held by another process, after at most a quarter of 4s", err)
	}
	if ctx.Err() != nil {
		t.Error("the lock wait took the whole deadline")
	}
	err = b.Update(context.WithoutCancel(ctx), nil, func(map[string]*state.Record) error { return nil })
	if !errors.As(err, &held) || held.waited != state.MaxLockWait || !strings.Contains(err.Error(), "fuser -v "+path+".lock") {
		t.Fatalf("without a deadline: err = %v, want held by another process after %s, with how to find it", err, state.MaxLockWait)
	}
	f.Close() // the abandoned waits take the lock and drop it
	b.pending.Wait()
}

// BenchmarkBoltGuard is what the recover costs each store operation:
// SetPanicOnFault twice and a deferred recover (compare BenchmarkBoltView
// and BenchmarkBoltUpdate, which include it).
func BenchmarkBoltGuard(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := s.guard(ctx, "bench", func(*damageWatch) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoltCheck is what bbolt's consistency check (tx.Check) would
// cost each event instead, on files of a few sizes (records of 300
// bytes, as history lines are): it reads every page.
func BenchmarkBoltCheck(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "state.db")
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			err = db.Update(func(tx *bbolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists(boltRecords)
				for i := 0; err == nil && i < n; i++ {
					err = bk.Put(fmt.Appendf(nil, "h/%08d", i), make([]byte, 300))
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			db.Close()
			db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for b.Loop() {
				err := db.View(func(tx *bbolt.Tx) error {
					for err := range tx.Check() {
						return err
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBoltLockWaitStormIsNotStuck: while the state file keeps changing
// (a storm: other runs commit one after another) a waiter does not take
// the holder for stuck; it waits up to half of what is left, then says
// the lock is busy rather than held by a stuck process.
func TestBoltLockWaitStormIsNotStuck(t *testing.T) {
	b, path := seededBolt(t, 1)
	f := holdLock(t, path)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // commits, as far as a waiter can see
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				os.Chtimes(path, time.Time{}, time.Unix(int64(i), 0))
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	_, err := b.Scan(ctx, "")
	close(stop)
	wg.Wait()
	var held *lockHeldError
	if !errors.As(err, &held) || !held.busy || !strings.Contains(err.Error(), "still taken by other runs") {
		t.Fatalf("err = %v, want the lock still busy after waiting through the storm", err)
	}
	if ctx.Err() != nil {
		t.Error("the wait took the whole deadline")
	}
	f.Close()
	b.pending.Wait()
}

// holdLock takes the state file path's lock as another process would and
// holds it until the returned file is closed.
func holdLock(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return f
}
