package bolt

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"notifier/engine/state"
)

// Options tunes a Store. The zero value is what a run of its own uses:
// every Update is its own lock, open, transaction and commit.
type Options struct {
	// Batch makes concurrent Updates of this Store join one batch (group
	// commit): one transaction and one commit — and so one pair of
	// fsyncs — for up to BatchSize of them; and it keeps the lock and the
	// open file across operations that follow each other closely, for
	// at most KeepFor (keep.go), its Views and Scans included. It is for
	// the resident engine, whose workers decide many events at once; a
	// process that makes one Update at a time gains nothing from it.
	Batch bool
	// BatchSize is the most Updates one batch takes (DefaultBatchSize
	// when zero or less).
	BatchSize int
	// KeepFor and KeepIdle bound how long a batching Store keeps the
	// lock and the file open across the operations that follow each
	// other (keep.go): it takes no new operation into a session older
	// than KeepFor (DefaultKeepFor when zero or less) and ends one that
	// nothing used for KeepIdle (DefaultKeepIdle).
	KeepFor, KeepIdle time.Duration
	// BatchDelay is how long the first Update of a batch waits for others
	// to join before the batch runs; none when zero or less. Updates
	// that arrive while the previous batch commits join the next one
	// whatever the delay, and that alone groups them best: measured with
	// BenchmarkUpdateParallel (16 goroutines, 2 CPUs), no delay took
	// 40-85 µs per Update in batches of about 8, a delay of 2 ms
	// 160-220 µs in batches of 16 (unbatched: 450-600 µs), and a delay
	// adds its whole length to a lone event's decision.
	BatchDelay time.Duration
}

// DefaultBatchSize is Options.BatchSize when unset.
const DefaultBatchSize = 64

// Batching reports whether b commits concurrent Updates in groups
// (Options.Batch).
func (b *Store) Batching() bool { return b.batch != nil }

// batcher gathers the concurrent Updates of a batching Store.
type batcher struct {
	size  int
	delay time.Duration
	run   chan struct{} // holds a token while a batch runs: one at a time
	mu    sync.Mutex
	open  *batch // the batch Updates join; nil when none is gathering

	joined func() // tests: called after each op joins a batch
}

// batch is the Updates that run in one transaction.
type batch struct {
	ops  []*batchOp
	full chan struct{} // closed when the batch has size ops
}

// The states of a batchOp: a waiting op is taken by the batch's runner,
// or abandoned by its caller when its ctx ends first, never both.
const (
	opWaiting int32 = iota
	opTaken
	opAbandoned
)

// batchOp is one Update in a batch.
type batchOp struct {
	ctx   context.Context
	ids   []string
	fn    func(map[string]*state.Record) error
	state atomic.Int32
	done  chan struct{} // closed by the runner once err or panicked is set

	settled  bool  // err is the op's own: the batch's outcome is not its
	err      error // what its Update returns
	panicked any   // what its fn panicked with, re-raised in its caller
}

func newBatcher(o Options) *batcher {
	bt := &batcher{size: o.BatchSize, delay: o.BatchDelay, run: make(chan struct{}, 1)}
	if bt.size <= 0 {
		bt.size = DefaultBatchSize
	}
	return bt
}

// join adds op to the gathering batch, starting one when none is; the
// op that starts a batch leads it: it starts its run.
func (bt *batcher) join(op *batchOp) (cur *batch, leader bool) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.open == nil {
		bt.open = &batch{full: make(chan struct{})}
		leader = true
	}
	cur = bt.open
	cur.ops = append(cur.ops, op)
	if len(cur.ops) >= bt.size {
		close(cur.full)
		bt.open = nil
	}
	return cur, leader
}

// seal closes cur to newcomers and returns its ops.
func (bt *batcher) seal(cur *batch) []*batchOp {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.open == cur {
		bt.open = nil
	}
	return cur.ops
}

// updateBatched is Update on a batching Store: fn runs in a transaction
// shared with the other Updates of its batch, after theirs that joined
// before it (so it sees what they wrote), and its result is saved unless
// it fails. It returns fn's error, or the batch's (the lock, the open,
// the commit, a damaged file), or ctx's when ctx ended before the batch
// reached it: the op was then not applied.
func (b *Store) updateBatched(ctx context.Context, ids []string, fn func(map[string]*state.Record) error) error {
	if err := ctx.Err(); err != nil {
		return b.fail("lock", b.lockPath, err) // as an unbatched Update says it
	}
	op := &batchOp{ctx: ctx, ids: ids, fn: fn, done: make(chan struct{})}
	cur, leader := b.batch.join(op)
	if b.batch.joined != nil {
		b.batch.joined()
	}
	if leader {
		// The batch runs in a goroutine of its own, so that every op,
		// the first included, can give up when its ctx ends.
		b.pending.Add(1)
		go func() {
			defer b.pending.Done()
			b.runBatch(cur)
		}()
	}
	select {
	case <-op.done:
	case <-ctx.Done():
		if op.state.CompareAndSwap(opWaiting, opAbandoned) {
			return b.fail("lock", b.lockPath, ctx.Err())
		}
		<-op.done // taken already: its outcome is on its way
	}
	if op.panicked != nil {
		panic(op.panicked) // the caller's fn panicked: not hidden, as unbatched
	}
	return op.err
}

// runBatch waits for cur to fill or for the delay, then for the batch
// before it to finish, and runs it; every op it took has its outcome
// when it returns.
func (b *Store) runBatch(cur *batch) {
	bt := b.batch
	if bt.delay > 0 {
		t := time.NewTimer(bt.delay)
		select {
		case <-cur.full:
		case <-t.C:
		}
		t.Stop()
	}
	bt.run <- struct{}{}
	defer func() { <-bt.run }()
	ops := bt.seal(cur)
	if !slices.ContainsFunc(ops, func(op *batchOp) bool { return op.state.Load() == opWaiting }) {
		return // every caller gave up: no lock to wait for, nothing to sweep
	}
	ctx, cancel := batchContext(ops)
	defer cancel()
	err := b.guard(ctx, "update", func(w *damageWatch) error { return b.commitBatch(ctx, ops, w) })
	for _, op := range ops {
		// An op the batch never reached (it failed first) is taken now,
		// unless its caller gave up on it.
		if op.state.CompareAndSwap(opWaiting, opTaken) || op.state.Load() == opTaken {
			if !op.settled {
				op.err = err
			}
			close(op.done)
		}
	}
}

// batchContext is the context a batch's lock wait and open run under:
// the first op's values, and the latest deadline of its ops (none when
// one has none): an op whose deadline comes earlier gives up on its own.
func batchContext(ops []*batchOp) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, op := range ops {
		d, ok := op.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(ops[0].ctx))
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(ops[0].ctx), latest)
}

// commitBatch is update for a batch: in the store's session (keep.go:
// the lock and the DB kept open across batches), in one transaction,
// each op in turn loads its ids, runs its fn and writes its records; then
// one sweep and one commit. An op whose fn fails (or whose ctx has ended)
// is settled with that error and writes nothing; an error returned is
// the batch's and reaches every op not settled.
func (b *Store) commitBatch(ctx context.Context, ops []*batchOp, w *damageWatch) error {
	return b.inSession(ctx, w, func(db *bbolt.DB) error { return b.commitOps(db, ops) })
}

// commitOps is commitBatch's transaction, on the session's DB.
func (b *Store) commitOps(db *bbolt.DB, ops []*batchOp) error {
	tx, bk, err := b.beginUpdate(db)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	now := b.now()
	dirty := false
	for _, op := range ops {
		if !op.state.CompareAndSwap(opWaiting, opTaken) {
			continue // its caller gave up on it
		}
		if err := op.ctx.Err(); err != nil {
			op.settle(b.fail("lock", b.lockPath, err))
			continue
		}
		wrote, err := b.apply(bk, op, now)
		if err != nil {
			return err
		}
		dirty = dirty || wrote
	}
	return b.commit(tx, bk, now, dirty)
}

// apply runs one op of a batch inside its transaction. An error of the
// op's own (its fn's, an id it may not write) settles it and writes
// nothing; an error returned is the transaction's.
func (b *Store) apply(bk *bbolt.Bucket, op *batchOp, now time.Time) (bool, error) {
	recs, stored, stale := load(bk, op.ids, now)
	if !op.call(recs) {
		return false, nil
	}
	if err := state.CheckIDs(recs); err != nil {
		op.settle(err) // a bug in the caller, not an unavailable store
		return false, nil
	}
	// What save would refuse halfway through, refused before it starts:
	// the transaction has no savepoint to undo half an op.
	for id, r := range recs {
		if r == nil || !r.Live(now) {
			continue
		}
		if len(id) == 0 {
			op.settle(keyError(b.path, id, bbolt.ErrKeyRequired))
			return false, nil
		}
		if len(id) > bbolt.MaxKeySize {
			op.settle(keyError(b.path, id, bbolt.ErrKeyTooLarge))
			return false, nil
		}
	}
	dirty := false
	for _, id := range stale {
		if err := bk.Delete([]byte(id)); err != nil {
			return dirty, b.fail("update", b.path, err)
		}
		dirty = true
	}
	wrote, err := b.save(bk, recs, stored, now)
	return dirty || wrote, err
}

// call runs op's fn on recs and reports whether it succeeded; a failure
// or a panic settles the op (the panic is re-raised in the op's caller,
// not in the runner's goroutine, which the batch's other ops wait on).
func (op *batchOp) call(recs map[string]*state.Record) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			op.panicked, op.settled = r, true
			ok = false
		}
	}()
	if err := op.fn(recs); err != nil {
		op.settle(err)
		return false
	}
	return true
}

// settle gives op an outcome of its own.
func (op *batchOp) settle(err error) {
	op.err, op.settled = err, true
}
