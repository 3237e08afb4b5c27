package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"notifier/engine/state"
)

// damageWatch is what guard needs to know about one operation: which file
// it opened, and whether a panic came from the caller's fn rather than
// from bbolt.
type damageWatch struct {
	opened     fs.FileInfo // the state file as stat'ed under the lock
	inCallback bool
}

// seen notes the file at path, unless one was noted already. It is
// called under the lock: no notifier process renames or creates the file
// meanwhile, so this is the file bbolt opens.
func (w *damageWatch) seen(path string) {
	if w.opened == nil {
		w.opened, _ = os.Stat(path)
	}
}

// guard runs one store operation so that a damaged file cannot crash the
// process. bbolt trusts its pages: on a damaged one it panics (failed
// assertions, out-of-range slices) or faults (a truncated file is
// mmapped past its end: SIGBUS). Faults become panics with
// SetPanicOnFault, and the panic is recovered here, in the goroutine that
// called bbolt: it runs every read and write of ours in the caller's
// goroutine (it starts its own only for Check, Batch and, for a file
// whose freelist was never synced, when opening; we use none of these).
// A batching store's batch runs in a goroutine of its own, which calls
// guard itself.
//
// A damaged file is moved aside (moveAside) and the error wraps
// state.ErrUnavailable, so the run fails open, and state.ErrDamaged. A panic in the
// caller's fn is not the file's fault and is not hidden.
//
// Measured as BenchmarkBoltGuard: the recover and SetPanicOnFault cost
// nothing measurable beside a commit's fsyncs.
func (b *Store) guard(ctx context.Context, op string, work func(*damageWatch) error) (err error) {
	w := &damageWatch{}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if w.inCallback {
			panic(r)
		}
		err = b.damaged(ctx, op, w.opened, fmt.Errorf("bbolt: %v", r))
	}()
	err = work(w)
	var be *boltError
	if err != nil && w.opened != nil && errors.As(err, &be) && be.op == "open" && damagedOnOpen(be.err, b.path) {
		err = b.damaged(ctx, op, w.opened, be.err)
	}
	return err
}

// boltMagic starts the first meta page of every bbolt file, after the
// 16-byte page header (bbolt's internal/common.Magic).
const (
	boltMagic       = 0xED0CDAED
	boltMagicOffset = 16
)

// damagedOnOpen tells a damaged state file from other reasons bbolt.Open
// fails: both meta pages fail their checksum (the magic and version were
// right), or a file that starts like a bbolt file is invalid or too short
// (truncated). A file that does not start like one is never moved: the
// path may name something that is not ours.
func damagedOnOpen(err error, path string) bool {
	if errors.Is(err, bbolt.ErrChecksum) {
		return true
	}
	if !errors.Is(err, bbolt.ErrInvalid) && !strings.HasPrefix(err.Error(), "file size too small") {
		return false
	}
	f, ferr := os.Open(path)
	if ferr != nil {
		return false
	}
	defer f.Close()
	var head [boltMagicOffset + 4]byte
	if _, ferr := io.ReadFull(f, head[:]); ferr != nil {
		return false
	}
	return binary.LittleEndian.Uint32(head[boltMagicOffset:]) == boltMagic
}

// damageError is state.ErrDamaged with what was done about it.
type damageError struct {
	cause error
	moved string // where the file now is; "" when it was not moved
	why   error  // why not
}

func (e *damageError) Error() string {
	msg := strings.TrimPrefix(e.cause.Error(), "bbolt: ")
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	return "damaged (" + msg + ")"
}

func (e *damageError) Unwrap() []error { return []error{state.ErrDamaged, e.cause} }

// damaged moves the damaged file aside and returns the one-line error a
// run prints: what happened, where the file went, what to do.
func (b *Store) damaged(ctx context.Context, op string, opened fs.FileInfo, cause error) error {
	moved, why := b.moveAside(ctx, opened)
	de := &damageError{cause: cause, moved: moved, why: why}
	var hint string
	switch {
	case moved != "":
		hint = "moved aside to " + moved + " and kept; the next run starts a new state file. Deliveries queued and incidents opened in it are not carried over: check the pager for incidents to resolve by hand"
	case errors.Is(why, errMovedByOther):
		hint = "another run has moved it aside (" + b.path + ".damaged-*); the next run starts a new state file"
	default:
		hint = fmt.Sprintf("it could not be moved aside (%v): move it aside by hand, e.g. mv %s %s.damaged, and the next run starts a new state file", why, b.path, b.path)
	}
	return &boltError{op: op, path: b.path, err: de, hint: hint}
}

// errMovedByOther: the damaged file is no longer at the path; another run
// moved it (and a new file may be there already).
var errMovedByOther = errors.New("already moved aside by another run")

// moveAside renames the damaged file opened to <path>.damaged-<time>-<pid>,
// under the exclusive lock and only if it is still the file at the path:
// of many runs that found it damaged, one moves it, and none moves the
// fresh file another run may have created since. The file is never
// deleted: it is evidence, and may hold what someone wants back.
func (b *Store) moveAside(ctx context.Context, opened fs.FileInfo) (string, error) {
	if opened == nil {
		return "", errors.New("it could not be identified")
	}
	dctx, cancel := state.Detached(ctx)
	defer cancel()
	lock, err := lockFile(dctx, b.lockPath, true, &b.pending)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	cur, err := os.Stat(b.path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !os.SameFile(cur, opened) {
		return "", errMovedByOther
	}
	if err != nil {
		return "", err
	}
	dst := fmt.Sprintf("%s.damaged-%s-%d", b.path, time.Now().UTC().Format("20060102T150405.000000000Z"), os.Getpid())
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s exists", dst) // never replace a kept file
	}
	if err := os.Rename(b.path, dst); err != nil {
		return "", err
	}
	if d, err := os.Open(filepath.Dir(b.path)); err == nil {
		d.Sync() // the rename survives a crash: no run reopens the damage
		d.Close()
	}
	return dst, nil
}
