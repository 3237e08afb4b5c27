package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"notifier/engine/state"
)

// gatedBatch opens a batching store on path whose batches run only when
// size ops have joined (the delay is too long to end in a test), so
// which ops share a batch is known; joins receives one value per op that
// joins.
func gatedBatch(t *testing.T, path string, size int) (b *Store, joins chan struct{}) {
	t.Helper()
	b, err := OpenOptions(path, Options{Batch: true, BatchSize: size, BatchDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	joins = make(chan struct{}, 100)
	b.batch.joined = func() { joins <- struct{}{} }
	return b, joins
}

// increment adds one to the decimal counter in record id.
func increment(ctx context.Context, b *Store, id string) error {
	return b.Update(ctx, []string{id}, func(m map[string]*state.Record) error {
		n := 0
		if r := m[id]; r != nil {
			var err error
			if n, err = strconv.Atoi(string(r.Data)); err != nil {
				return err
			}
		}
		m[id] = &state.Record{Data: []byte(strconv.Itoa(n + 1))}
		return nil
	})
}

// counter reads record id as a number (-1 when absent).
func counter(t *testing.T, b *Store, id string) int {
	t.Helper()
	m, err := b.View(context.Background(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if m[id] == nil {
		return -1
	}
	n, err := strconv.Atoi(string(m[id].Data))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBatchOneCommit: a full batch of updates to one record and to
// records of their own is one transaction, one commit, and each op saw
// the writes of those before it.
func TestBatchOneCommit(t *testing.T) {
	const n = 8
	b, _ := gatedBatch(t, filepath.Join(t.TempDir(), "state.db"), n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = b.Update(context.Background(), []string{"count"}, func(m map[string]*state.Record) error {
				c := 0
				if r := m["count"]; r != nil {
					c, _ = strconv.Atoi(string(r.Data))
				}
				m["count"] = &state.Record{Data: []byte(strconv.Itoa(c + 1))}
				m[fmt.Sprintf("own/%d", i)] = &state.Record{Data: []byte("1")}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("op %d: %v", i, err)
		}
	}
	if c := counter(t, b, "count"); c != n {
		t.Errorf("count = %d, want %d", c, n)
	}
	if own, err := b.Scan(context.Background(), "own/"); err != nil || len(own) != n {
		t.Errorf("own records: %d, %v; want %d", len(own), err, n)
	}
	if c := b.commits.Load(); c != 1 {
		t.Errorf("%d commits, want 1 for one batch", c)
	}
}

// TestBatchErroringOp: an op whose fn fails gets its own error and writes
// nothing, and the others of its batch commit.
func TestBatchErroringOp(t *testing.T) {
	b, _ := gatedBatch(t, filepath.Join(t.TempDir(), "state.db"), 3)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	var errA, errB, errC error
	wg.Go(func() { errA = increment(context.Background(), b, "count") })
	wg.Go(func() {
		errB = b.Update(context.Background(), []string{"count"}, func(m map[string]*state.Record) error {
			m["count"] = &state.Record{Data: []byte("100")}
			m["other"] = &state.Record{Data: []byte("x")}
			return boom
		})
	})
	wg.Go(func() { errC = increment(context.Background(), b, "count") })
	wg.Wait()
	if errA != nil || errC != nil {
		t.Fatalf("the others failed: %v, %v", errA, errC)
	}
	if errB != boom {
		t.Fatalf("failing op: err = %v, want its own error as it is", errB)
	}
	if c := counter(t, b, "count"); c != 2 {
		t.Errorf("count = %d, want 2: the failing op wrote, or the others were lost", c)
	}
	if c := counter(t, b, "other"); c != -1 {
		t.Error("the failing op's new record was written")
	}
	if c := b.commits.Load(); c != 1 {
		t.Errorf("%d commits, want 1", c)
	}
}

// TestBatchExpiredContext: an op whose ctx ends before its batch runs
// gets ctx's error (wrapping state.ErrUnavailable, as an unbatched lock
// wait says it) at once and is not applied, whether it leads the batch
// or waits in it; the others are applied.
func TestBatchExpiredContext(t *testing.T) {
	for _, leads := range []bool{true, false} {
		t.Run(fmt.Sprintf("leads=%v", leads), func(t *testing.T) {
			b, joins := gatedBatch(t, filepath.Join(t.TempDir(), "state.db"), 3)
			var wg sync.WaitGroup
			var errs [2]error
			other := func(i int) {
				wg.Go(func() { errs[i] = increment(context.Background(), b, "count") })
				<-joins
			}
			if !leads {
				other(0)
			}
			ctx, cancel := context.WithCancel(context.Background())
			xerr := make(chan error, 1)
			go func() {
				xerr <- b.Update(ctx, []string{"count"}, func(m map[string]*state.Record) error {
					m["count"] = &state.Record{Data: []byte("100")}
					return nil
				})
			}()
			<-joins
			cancel()
			// It gives up without waiting for the batch, which is not full
			// (and, when it leads it, has not even started).
			if err := <-xerr; !errors.Is(err, context.Canceled) || !errors.Is(err, state.ErrUnavailable) {
				t.Fatalf("err = %v, want context.Canceled and ErrUnavailable", err)
			}
			if leads {
				other(0)
			}
			other(1) // fills the batch: the abandoned op still holds its place
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("op %d: %v", i, err)
				}
			}
			if c := counter(t, b, "count"); c != 2 {
				t.Errorf("count = %d, want 2: the expired op was applied or another lost", c)
			}
		})
	}
}

// TestBatchCallbackPanic: an op's fn that panics panics in its own
// caller, as unbatched; the others of its batch commit; nothing is
// moved aside.
func TestBatchCallbackPanic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	b, _ := gatedBatch(t, path, 2)
	var wg sync.WaitGroup
	var recovered any
	var err error
	wg.Go(func() {
		defer func() { recovered = recover() }()
		b.Update(context.Background(), nil, func(map[string]*state.Record) error { panic("caller bug") })
	})
	wg.Go(func() { err = increment(context.Background(), b, "count") })
	wg.Wait()
	if recovered != "caller bug" {
		t.Errorf("recovered %v, want the caller's panic", recovered)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c := counter(t, b, "count"); c != 1 {
		t.Errorf("count = %d, want 1", c)
	}
	if moved, _ := filepath.Glob(path + ".damaged-*"); len(moved) != 0 {
		t.Errorf("moved aside on the caller's panic: %v", moved)
	}
}

// TestBatchDamaged: a batch on a damaged file gives every op the damage
// error, moves the file aside once, and the next batch starts afresh.
func TestBatchDamaged(t *testing.T) {
	_, path := seededBolt(t, 60)
	overwrite(t, path, 8192, 12*1024)
	b, _ := gatedBatch(t, path, 3)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = increment(context.Background(), b, fmt.Sprintf("h/%06d", i*20)) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, state.ErrUnavailable) || !errors.Is(err, state.ErrDamaged) {
			t.Errorf("op %d: err = %v, want ErrUnavailable and ErrDamaged", i, err)
		}
	}
	if moved, _ := filepath.Glob(path + ".damaged-*"); len(moved) != 1 {
		t.Fatalf("moved aside: %v, want one file", moved)
	}
	for range 3 {
		wg.Go(func() {
			if err := increment(context.Background(), b, "count"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c := counter(t, b, "count"); c != 3 {
		t.Errorf("count = %d after the move, want 3", c)
	}
}

// TestBatchLockWaitBounded: a batch waits for a lock another process
// holds no longer than an unbatched Update would, and every op in it
// gets the error.
func TestBatchLockWaitBounded(t *testing.T) {
	_, path := seededBolt(t, 1)
	f := holdLock(t, path)
	b, _ := gatedBatch(t, path, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = increment(ctx, b, "count") })
	}
	wg.Wait()
	for i, err := range errs {
		var held *lockHeldError
		if !errors.Is(err, state.ErrUnavailable) || !errors.As(err, &held) || held.waited > time.Second {
			t.Errorf("op %d: err = %v, want held by another process after at most a quarter of 4s", i, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "state: lock "+path+".lock: ") {
			t.Errorf("op %d: err = %q, want it to name the lock", i, err)
		}
	}
	if ctx.Err() != nil {
		t.Error("the lock wait took the whole deadline")
	}
	f.Close()
	b.pending.Wait()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
