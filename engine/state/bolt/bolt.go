// Package bolt is the embedded state.Store: one bbolt file on local
// disk, shared by every notifier process on the host, taken in turns
// under a file lock, and moved aside when it is found damaged.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bbolt "go.etcd.io/bbolt"

	"notifier/engine/state"
	"notifier/engine/state/internal/record"
)

const (
	// boltOpenTimeout bounds bbolt's own polling lock. We hold <path>.lock
	// before opening, so it is free at once unless something that does not
	// take our lock (a bbolt CLI, say) has the file open.
	boltOpenTimeout = time.Second
	// boltSweepExamine and boltSweepDelete bound the expiry sweep each Update
	// makes, so the file does not grow forever and no Update pays for
	// a large backlog: it resumes where the previous sweep stopped.
	boltSweepExamine = 500
	boltSweepDelete  = 100
)

var (
	boltRecords   = []byte("records")
	boltMeta      = []byte("meta")
	boltSweepKey  = []byte("sweep") // in meta: the first id the next sweep examines
	errBoltClosed = errors.New("store closed")
)

// Store is the embedded state.Store: one bbolt file on local disk, shared by
// every notifier process on the host.
//
// It does not keep the file open: every Update, View and Scan takes the
// lock, opens, works, closes and unlocks, so the hundreds of processes
// Pacemaker starts at once (one per recipient) take turns on it and none
// holds it while it delivers. A batching Store (Options.Batch: the
// resident engine's) keeps the lock and the file open across operations
// that follow each other closely, for at most Options.KeepFor (keep.go).
// A Store is safe for concurrent use.
type Store struct {
	path     string
	lockPath string
	now      func() time.Time
	closed   atomic.Bool
	pending  sync.WaitGroup // lock waits abandoned by a cancelled ctx
	batch    *batcher       // nil unless Options.Batch: Updates one at a time
	keep     *keeper        // nil unless Options.Batch: the lock and file kept open (keep.go)
	commits  atomic.Uint64  // transactions committed (each costs the fsyncs)
}

// Open returns a state.Store backed by the bbolt file at path
// (state.DefaultBoltPath when empty). It does not keep the file open: every
// Update/View/Scan takes the lock, opens, works, closes, unlocks, so
// hundreds of concurrent processes (Pacemaker starts one per recipient,
// all at once) take turns on it and none holds it while delivering.
//
// The directory must exist (creating it, owned and writable by the right
// users, is the installer's job); the file and <path>.lock are created
// with mode 0660 on first use. Errors wrap state.ErrUnavailable.
func Open(path string) (*Store, error) {
	return OpenOptions(path, Options{})
}

// OpenOptions is Open with options; Open(path) is OpenOptions(path,
// Options{}).
func OpenOptions(path string, o Options) (*Store, error) {
	if path == "" {
		path = state.DefaultBoltPath
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &boltError{op: "open", path: path, err: &fs.PathError{Op: "directory", Path: dir, Err: err},
			hint: "the installer creates it, writable by the user running notifier, e.g. hacluster for Pacemaker"}
	}
	b := &Store{path: path, lockPath: path + ".lock", now: time.Now}
	if o.Batch {
		b.batch, b.keep = newBatcher(o), newKeeper(o)
	}
	return b, nil
}

// Update implements state.Store. The exclusive lock is held from before the
// file is opened until after it is closed; fn runs inside the one bbolt
// write transaction, which also prunes expired records.
//
// A damaged file (bbolt panics on it) is moved aside and the error wraps
// ErrDamaged; see guard. On a batching Store (Options.Batch) concurrent
// Updates share the lock, the open and the transaction; see
// updateBatched.
func (b *Store) Update(ctx context.Context, ids []string, fn func(map[string]*state.Record) error) error {
	if b.closed.Load() {
		return b.fail("update", b.path, errBoltClosed)
	}
	if b.batch != nil {
		return b.updateBatched(ctx, ids, fn)
	}
	return b.guard(ctx, "update", func(w *damageWatch) error { return b.update(ctx, ids, fn, w) })
}

func (b *Store) update(ctx context.Context, ids []string, fn func(map[string]*state.Record) error, w *damageWatch) error {
	lock, err := lockFile(ctx, b.lockPath, true, &b.pending)
	if err != nil {
		return b.fail("lock", b.lockPath, err)
	}
	defer lock.Close()
	w.seen(b.path)
	db, err := b.open(ctx, false)
	if err != nil {
		return err
	}
	w.seen(b.path) // created by this open
	// A close error after Commit cannot lose data: Commit has synced it.
	defer db.Close()
	tx, bk, err := b.beginUpdate(db)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	now := b.now()
	dirty := false
	recs, stored, stale := load(bk, ids, now)
	for _, id := range stale {
		if err := bk.Delete([]byte(id)); err != nil {
			return b.fail("update", b.path, err)
		}
		dirty = true
	}
	w.inCallback = true // a panic in fn is the caller's, not the file's
	if err := fn(recs); err != nil {
		return err // the caller's own error: nothing is saved
	}
	w.inCallback = false
	if err := state.CheckIDs(recs); err != nil {
		return err // a bug in the caller, not an unavailable store
	}
	wrote, err := b.save(bk, recs, stored, now)
	if err != nil {
		return err
	}
	return b.commit(tx, bk, now, dirty || wrote)
}

// beginUpdate starts a write transaction on db and makes its bucket of
// records; the caller rolls back what it does not commit.
func (b *Store) beginUpdate(db *bbolt.DB) (*bbolt.Tx, *bbolt.Bucket, error) {
	tx, err := db.Begin(true)
	if err != nil {
		return nil, nil, b.fail("update", b.path, err)
	}
	bk, err := tx.CreateBucketIfNotExists(boltRecords)
	if err != nil {
		tx.Rollback()
		return nil, nil, b.fail("update", b.path, err)
	}
	return tx, bk, nil
}

// commit ends an update's transaction: a sweep of expired records, then
// the commit, skipped (and its fsyncs with it) when nothing was written.
func (b *Store) commit(tx *bbolt.Tx, bk *bbolt.Bucket, now time.Time, dirty bool) error {
	swept, err := boltSweep(tx, bk, now)
	if err != nil {
		return b.fail("update", b.path, err)
	}
	if !dirty && swept == 0 {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return b.fail("update", b.path, err)
	}
	b.commits.Add(1)
	return nil
}

// load reads the records ids names from bk: the live ones into recs, with
// their encodings as stored (to skip rewriting unchanged ones), and the
// ids of expired or unreadable ones into stale, for the caller to delete.
func load(bk *bbolt.Bucket, ids []string, now time.Time) (recs map[string]*state.Record, stored map[string][]byte, stale []string) {
	recs = make(map[string]*state.Record, len(ids))
	stored = make(map[string][]byte, len(ids))
	for _, id := range ids {
		v := bk.Get([]byte(id))
		if v == nil {
			continue
		}
		r, ok := record.Decode(v)
		if !ok || !r.Live(now) {
			stale = append(stale, id)
			continue
		}
		recs[id] = r
		stored[id] = bytes.Clone(v) // bbolt's copy is valid only until the next write
	}
	return recs, stored, stale
}

// save writes what an Update's fn left in recs: records it removed or set
// to nil (or expired) are deleted, changed and new ones written. It
// reports whether it changed the file.
func (b *Store) save(bk *bbolt.Bucket, recs map[string]*state.Record, stored map[string][]byte, now time.Time) (bool, error) {
	dirty := false
	for id := range stored {
		if _, kept := recs[id]; !kept {
			if err := bk.Delete([]byte(id)); err != nil {
				return dirty, b.fail("update", b.path, err)
			}
			dirty = true
		}
	}
	for id, r := range recs {
		if r == nil || !r.Live(now) {
			if bk.Get([]byte(id)) == nil {
				continue
			}
			if err := bk.Delete([]byte(id)); err != nil {
				return dirty, b.fail("update", b.path, err)
			}
			dirty = true
			continue
		}
		v := record.Encode(r) // a fresh buffer: bbolt keeps it until Commit
		if old, ok := stored[id]; ok && bytes.Equal(old, v) {
			continue
		}
		if err := bk.Put([]byte(id), v); err != nil {
			if errors.Is(err, bbolt.ErrKeyRequired) || errors.Is(err, bbolt.ErrKeyTooLarge) {
				// A bug in the caller, not an unavailable store.
				return dirty, keyError(b.path, id, err)
			}
			return dirty, b.fail("update", b.path, err)
		}
		dirty = true
	}
	return dirty, nil
}

// keyError is an id bbolt cannot store: a bug in the caller, not an
// unavailable store.
func keyError(path, id string, err error) error {
	return fmt.Errorf("state: update %s: id %q: %w", path, id, err)
}

// boltSweep deletes up to boltSweepDelete expired records among the next
// boltSweepExamine ids after where the previous sweep stopped, and notes
// where it stopped. It reports how many it deleted; the position alone
// is not worth a commit.
func boltSweep(tx *bbolt.Tx, bk *bbolt.Bucket, now time.Time) (int, error) {
	meta, err := tx.CreateBucketIfNotExists(boltMeta)
	if err != nil {
		return 0, err
	}
	from := bytes.Clone(meta.Get(boltSweepKey))
	c := bk.Cursor()
	k, v := c.First()
	if from != nil {
		k, v = c.Seek(from)
	}
	var expired [][]byte
	for n := 0; k != nil && n < boltSweepExamine && len(expired) < boltSweepDelete; n++ {
		if !record.Live(v, now) {
			expired = append(expired, bytes.Clone(k))
		}
		k, v = c.Next()
	}
	next := bytes.Clone(k) // nil at the end: start over next time
	for _, k := range expired {
		if err := bk.Delete(k); err != nil {
			return 0, err
		}
	}
	if next == nil {
		err = meta.Delete(boltSweepKey)
	} else {
		err = meta.Put(boltSweepKey, next)
	}
	return len(expired), err
}

// View implements state.Store. It takes the lock shared, so readers run
// together but never see half an Update; a missing file reads as empty
// and is not created.
func (b *Store) View(ctx context.Context, ids []string) (map[string]*state.Record, error) {
	return b.read(ctx, "view", func(bk *bbolt.Bucket, now time.Time, out map[string]*state.Record) {
		for _, id := range ids {
			if r, ok := record.Decode(bk.Get([]byte(id))); ok && r.Live(now) {
				out[id] = r
			}
		}
	})
}

// Scan implements state.Store.
func (b *Store) Scan(ctx context.Context, prefix string) (map[string]*state.Record, error) {
	return b.read(ctx, "scan", func(bk *bbolt.Bucket, now time.Time, out map[string]*state.Record) {
		p := []byte(prefix)
		c := bk.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if r, ok := record.Decode(v); ok && r.Live(now) {
				out[string(k)] = r
			}
		}
	})
}

func (b *Store) read(ctx context.Context, op string, get func(*bbolt.Bucket, time.Time, map[string]*state.Record)) (map[string]*state.Record, error) {
	if b.closed.Load() {
		return nil, b.fail(op, b.path, errBoltClosed)
	}
	var out map[string]*state.Record
	err := b.guard(ctx, op, func(w *damageWatch) error {
		var err error
		if b.keep != nil {
			out, err = b.readKept(ctx, op, get, w)
		} else {
			out, err = b.readLocked(ctx, op, get, w)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (b *Store) readLocked(ctx context.Context, op string, get func(*bbolt.Bucket, time.Time, map[string]*state.Record), w *damageWatch) (map[string]*state.Record, error) {
	out := map[string]*state.Record{}
	if _, err := os.Stat(b.path); errors.Is(err, fs.ErrNotExist) {
		return out, nil
	} else if err != nil {
		return nil, b.fail(op, b.path, err)
	}
	lock, err := lockFile(ctx, b.lockPath, false, &b.pending)
	if err != nil {
		return nil, b.fail("lock", b.lockPath, err)
	}
	defer lock.Close()
	// Only a writer killed between creating the file and writing its
	// first pages leaves it empty; bbolt would try to initialise it.
	if fi, err := os.Stat(b.path); errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() == 0 {
		return out, nil
	}
	w.seen(b.path)
	db, err := b.open(ctx, true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		if bk := tx.Bucket(boltRecords); bk != nil {
			get(bk, b.now(), out)
		}
		return nil
	})
	if err != nil {
		return nil, b.fail(op, b.path, err)
	}
	return out, nil
}

// readKept is readLocked on a batching Store: a read transaction in the
// store's session (keep.go), beside the other operations in it.
func (b *Store) readKept(ctx context.Context, op string, get func(*bbolt.Bucket, time.Time, map[string]*state.Record), w *damageWatch) (map[string]*state.Record, error) {
	out := map[string]*state.Record{}
	if _, err := os.Stat(b.path); errors.Is(err, fs.ErrNotExist) {
		return out, nil // as readLocked: a read creates no file
	} else if err != nil {
		return nil, b.fail(op, b.path, err)
	}
	err := b.inSession(ctx, w, func(db *bbolt.DB) error {
		err := db.View(func(tx *bbolt.Tx) error {
			if bk := tx.Bucket(boltRecords); bk != nil {
				get(bk, b.now(), out)
			}
			return nil
		})
		if err != nil {
			return b.fail(op, b.path, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// open opens the file while the caller holds the lock.
func (b *Store) open(ctx context.Context, readOnly bool) (*bbolt.DB, error) {
	timeout := boltOpenTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if timeout <= 0 { // zero would mean "wait for ever" to bbolt
		return nil, b.fail("open", b.path, context.DeadlineExceeded)
	}
	db, err := bbolt.Open(b.path, stateFileMode, &bbolt.Options{
		Timeout:  timeout,
		ReadOnly: readOnly,
		OpenFile: openStateFile, // 0660 despite the umask
	})
	if err != nil {
		return nil, b.fail("open", b.path, err)
	}
	return db, nil
}

// Close implements state.Store. It makes later operations fail; on a
// batching Store it also ends the session (the lock and the open file)
// once the operations in it are done. Otherwise nothing is open between
// operations.
func (b *Store) Close() error {
	b.closed.Store(true)
	if b.keep != nil {
		b.keep.shutdown()
	}
	return nil
}

// boltError is every failure of the embedded store: one line naming the
// operation and the file, wrapping state.ErrUnavailable (the caller then fails
// open) and the cause.
type boltError struct {
	op, path string
	err      error
	hint     string // overrides boltHint
}

func (e *boltError) Error() string {
	cause := e.err
	var pe *fs.PathError
	if errors.As(cause, &pe) && pe.Path == e.path {
		cause = pe.Err // "open /x: permission denied" would repeat the path
	}
	msg := fmt.Sprintf("state: %s %s: %v", e.op, e.path, cause)
	hint := e.hint
	if hint == "" {
		hint = boltHint(e.err, e.path)
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return strings.ReplaceAll(msg, "\n", " ")
}

func (e *boltError) Unwrap() []error { return []error{state.ErrUnavailable, e.err} }

func (b *Store) fail(op, path string, err error) error {
	return &boltError{op: op, path: path, err: err}
}

// boltHint says what an operator most likely has to do about err.
func boltHint(err error, path string) string {
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return "is it writable by the user running notifier, e.g. hacluster for Pacemaker?"
	case errors.Is(err, bbolt.ErrTimeout):
		return "held by a program that does not take " + path + ".lock?"
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrVersionMismatch), errors.Is(err, bbolt.ErrChecksum):
		return "not a notifier state file, or damaged: move it aside and a new one is started"
	}
	return ""
}
