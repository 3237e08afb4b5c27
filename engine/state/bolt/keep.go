package bolt

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// A batching Store (the resident engine's) keeps the file open between
// operations that follow each other closely: a session is the lock on
// <path>.lock, taken exclusive, and the bbolt DB opened under it. Every
// Update, View and Scan of the store works in the current session, so a
// busy engine pays the lock, the open (open, flock, mmap, meta check) and
// the close once per session instead of once per operation, and its reads
// run concurrently with each other and with the batch being written.
//
// Other processes (a run that was not handed to the engine, notifier
// flush, explain, status) take the same lock, so a session is short: it
// takes no new operations once it is KeepFor old, and it ends as soon as
// the operations in it are done, letting a waiting process in; and it
// ends when no operation has come for KeepIdle. A session ended by its
// age is followed by a pause of keepGap before the next one takes the
// lock, so that a process woken by the release gets it first. An
// operation holds a session only for its own transaction, never across
// a delivery: the lock is never held across network I/O, and how long
// another process waits is bounded by KeepFor, not by any delivery.
const (
	// DefaultKeepFor is Options.KeepFor when unset.
	DefaultKeepFor = 20 * time.Millisecond
	// DefaultKeepIdle is Options.KeepIdle when unset.
	DefaultKeepIdle = 2 * time.Millisecond
	// keepGap is the pause after a session that ended by age.
	keepGap = 2 * time.Millisecond
)

// keeper is a batching Store's current session.
type keeper struct {
	forAge, idle time.Duration
	mu           sync.Mutex
	cur          *session  // nil when none is open or opening
	gapUntil     time.Time // no session takes the lock before this
	shut         bool      // the Store is closed: no new session

	// Tests: called each time a session has taken the lock and opened
	// the file, and each time one has closed it and let the lock go.
	opened, ended func()
}

// session is the lock and the open DB, shared by the operations in it.
type session struct {
	ready  chan struct{} // closed once opened, or once the open failed
	err    error         // why it could not be opened (set before ready)
	lock   *os.File
	db     *bbolt.DB
	file   fs.FileInfo // the state file as stat'ed under the lock
	start  time.Time   // when the lock was taken
	users  int         // operations in it, or waiting for it to open (keeper.mu)
	ending bool        // takes no new operations; closed by the last one out (keeper.mu)
	done   bool        // closed (keeper.mu)
	gone   chan struct{}
	idle   *time.Timer
}

func newKeeper(o Options) *keeper {
	k := &keeper{forAge: o.KeepFor, idle: o.KeepIdle}
	if k.forAge <= 0 {
		k.forAge = DefaultKeepFor
	}
	if k.idle <= 0 {
		k.idle = DefaultKeepIdle
	}
	return k
}

// sessionPanic is a panic of bbolt while opening a session, in the
// goroutine that opened it: re-raised in the operation's own goroutine,
// where guard recovers it and moves the damaged file aside.
type sessionPanic struct{ v any }

func (p *sessionPanic) Error() string { return fmt.Sprintf("bbolt: %v", p.v) }

// acquire returns the current session with one more user, opening one
// when there is none (or the current one is too old: then after it ends).
// Waiting for it ends with ctx. The caller must call release unless it
// gets an error (with the session whose open failed, when one did).
func (b *Store) acquire(ctx context.Context) (*session, error) {
	k := b.keep
	for {
		k.mu.Lock()
		if k.shut {
			k.mu.Unlock()
			return nil, b.fail("open", b.path, errBoltClosed)
		}
		s := k.cur
		if s == nil {
			s = &session{ready: make(chan struct{}), gone: make(chan struct{})}
			k.cur = s
			gap := time.Until(k.gapUntil)
			// Opened under a context of its own, with ctx's deadline but
			// not its cancellation: the operations waiting for it come and
			// go, each waiting only as long as its own ctx lets it.
			octx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			if d, ok := ctx.Deadline(); ok {
				octx, cancel = context.WithDeadline(context.WithoutCancel(ctx), d)
			}
			b.pending.Add(1)
			go func() {
				defer b.pending.Done()
				defer cancel()
				b.openSession(octx, s, gap)
			}()
		}
		if !s.ending && (s.start.IsZero() || time.Since(s.start) < k.forAge) {
			s.users++
			if s.idle != nil {
				s.idle.Stop()
				s.idle = nil
			}
			k.mu.Unlock()
			select {
			case <-s.ready:
			case <-ctx.Done():
				b.release(s, false)
				return nil, b.fail("lock", b.lockPath, ctx.Err())
			}
			if s.err != nil {
				b.release(s, false)
				return s, s.err
			}
			return s, nil
		}
		// Too old: it takes no one new, and ends when its last
		// operation does; the next session opens after it.
		s.ending = true
		if s.users == 0 {
			k.endLocked(s)
		}
		gone := s.gone
		k.mu.Unlock()
		select {
		case <-gone:
		case <-ctx.Done():
			return nil, b.fail("lock", b.lockPath, ctx.Err())
		}
	}
}

// openSession takes the lock (after gap) and opens the DB for s; then
// lets its waiters in. A session nobody waits for any more is closed at
// once, or after KeepIdle.
func (b *Store) openSession(ctx context.Context, s *session, gap time.Duration) {
	k := b.keep
	var (
		lock  *os.File
		db    *bbolt.DB
		file  fs.FileInfo
		start time.Time
	)
	err := func() (err error) {
		if gap > 0 {
			t := time.NewTimer(gap)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return b.fail("lock", b.lockPath, ctx.Err())
			}
		}
		lock, err = lockFile(ctx, b.lockPath, true, &b.pending)
		if err != nil {
			return b.fail("lock", b.lockPath, err)
		}
		start = time.Now()
		file, _ = os.Stat(b.path)
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				err = &sessionPanic{v: r}
			}
		}()
		db, err = b.open(ctx, false)
		if file == nil {
			file, _ = os.Stat(b.path) // created by this open
		}
		return err
	}()
	if err != nil && db != nil {
		db.Close()
		db = nil
	}
	if err != nil && lock != nil {
		lock.Close()
		lock = nil
	}
	if err == nil && k.opened != nil {
		k.opened()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s.lock, s.db, s.file, s.start, s.err = lock, db, file, start, err
	close(s.ready)
	if err != nil {
		s.ending = true
	}
	if s.users == 0 {
		k.settleLocked(s)
	}
}

// release ends one operation's use of s; broken says the DB may not be
// used again (bbolt failed or panicked in it).
func (b *Store) release(s *session, broken bool) {
	k := b.keep
	k.mu.Lock()
	defer k.mu.Unlock()
	s.users--
	if broken {
		s.ending = true
	}
	if s.users == 0 {
		k.settleLocked(s)
	}
}

// settleLocked decides about s once nobody uses it: closed now when it
// is ending, too old or the store closed; else after KeepIdle with
// nobody coming.
func (k *keeper) settleLocked(s *session) {
	select {
	case <-s.ready:
	default:
		return // still opening: openSession settles it
	}
	old := !s.start.IsZero() && time.Since(s.start) >= k.forAge
	if s.ending || old || k.shut {
		if old && s.err == nil {
			k.gapUntil = time.Now().Add(keepGap)
		}
		k.endLocked(s)
		return
	}
	if s.idle == nil {
		s.idle = time.AfterFunc(k.idle, func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			if s.users == 0 {
				k.endLocked(s)
			}
		})
	}
}

// endLocked closes s's DB and lock, unless done already.
func (k *keeper) endLocked(s *session) {
	if s.done {
		return
	}
	s.done, s.ending = true, true
	if k.cur == s {
		k.cur = nil
	}
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	// A close error after Commit cannot lose data: Commit has synced it.
	if s.db != nil {
		s.db.Close()
	}
	if s.lock != nil {
		s.lock.Close()
		if k.ended != nil {
			k.ended()
		}
	}
	close(s.gone)
}

// shutdown ends the current session once its operations are done, and
// lets no new one open.
func (k *keeper) shutdown() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.shut = true
	if s := k.cur; s != nil {
		s.ending = true
		if s.users == 0 {
			k.settleLocked(s)
		}
	}
}

// inSession runs work on the DB of the current session, for guard: a
// panic in work (or in opening) is released from the session first, so
// that moving the damaged file aside can take the lock.
func (b *Store) inSession(ctx context.Context, w *damageWatch, work func(*bbolt.DB) error) error {
	s, err := b.acquire(ctx)
	if s != nil && w.opened == nil {
		w.opened = s.file
	}
	if err != nil {
		if sp, ok := err.(*sessionPanic); ok {
			panic(sp.v) // guard recovers it: the file is damaged
		}
		return err
	}
	ok := false
	defer func() { b.release(s, !ok) }()
	err = work(s.db)
	ok = err == nil || !isStoreError(err)
	return err
}

// isStoreError says err is the store's own failure (bbolt's), after
// which the DB is not used again, rather than a caller's error.
func isStoreError(err error) bool {
	_, ok := err.(*boltError)
	return ok
}
