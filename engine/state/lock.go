package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// stateFileMode is given to the state file and its lock file whatever the
// umask: the directory is shared by root (CMON) and the haclient group
// (Pacemaker runs agents as hacluster), and both must write.
const stateFileMode fs.FileMode = 0o660

// openStateFile opens path; when flag has O_CREATE and the file is new, it
// gets exactly mode (an explicit chmod, so a umask of 022 cannot take
// the group's write bit away).
func openStateFile(path string, flag int, mode fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag&^os.O_CREATE, mode)
	if err == nil || flag&os.O_CREATE == 0 || !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	f, err = os.OpenFile(path, flag|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		return os.OpenFile(path, flag&^os.O_CREATE, mode)
	}
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// MaxLockWait bounds every wait for the state lock (the bbolt file's
// flock, and Redis's per-id locks). Updates hold it for milliseconds, so
// under a storm of hundreds of runs the wait stays far below this; a
// holder that never lets go (a stopped process, a backup script holding
// the file) makes the run fail open instead, with most of its deadline
// left to deliver.
const MaxLockWait = 5 * time.Second

// lockWait is how long one lock wait may last: MaxLockWait, and at most
// a quarter of what is left before ctx's deadline, so that a run that
// waited in vain still has three quarters of its time to deliver.
func lockWait(ctx context.Context) time.Duration {
	w := MaxLockWait
	if d, ok := ctx.Deadline(); ok {
		w = min(w, time.Until(d)/4)
	}
	return w
}

// lockHeldError is a lock wait that ran out: another process holds the
// lock and did not let go in time.
type lockHeldError struct {
	path   string
	waited time.Duration
}

// errLockHeld is what every lockHeldError is.
var errLockHeld = errors.New("lock held by another process")

func (e *lockHeldError) Error() string {
	w := e.waited.Round(time.Millisecond)
	if w >= time.Second {
		w = w.Round(100 * time.Millisecond)
	}
	return fmt.Sprintf("held by another process for over %s (a stopped notifier, a backup?): see who with fuser -v %s", w, e.path)
}

func (e *lockHeldError) Unwrap() error { return errLockHeld }

// lockFile opens path (creating it) and takes a blocking flock on it,
// exclusive or shared. A blocking flock queues in the kernel and wakes
// the moment the holder lets go, unlike bbolt's own lock, which polls
// every 50 ms and times out when hundreds of processes start at once.
//
// The wait is bounded by lockWait (even for a ctx that never ends): it
// then fails with a *lockHeldError, or ctx's error if ctx ended first.
// flock cannot be interrupted, so the wait runs in a goroutine; when
// lockFile gives up, the goroutine, when it finally gets the lock, drops
// it and closes the file; pending counts such goroutines (tests wait on
// it).
//
// Closing the returned file releases the lock.
func lockFile(ctx context.Context, path string, exclusive bool, pending *sync.WaitGroup) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	f, err := openStateFile(path, os.O_RDWR|os.O_CREATE, stateFileMode)
	if err != nil && !exclusive && (errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EROFS)) {
		// A reader that may not write the directory (notifier explain
		// run by an operator) can still take a shared lock.
		f, err = os.OpenFile(path, os.O_RDONLY, 0)
	}
	if err != nil {
		return nil, err
	}
	if !exclusive {
		how = unix.LOCK_SH
	}
	fd := int(f.Fd())

	// Uncontended: no goroutine.
	err = flockRetry(fd, how|unix.LOCK_NB)
	if err == nil {
		return f, nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, err
	}

	wait := lockWait(ctx)
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	got := make(chan error) // unbuffered: a send means the caller took f
	pending.Add(1)
	go func() {
		defer pending.Done()
		err := flockRetry(fd, how)
		select {
		case got <- err:
			if err != nil {
				f.Close()
			}
		case <-wctx.Done():
			f.Close() // the caller gave up: release at once
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			return nil, err
		}
		return f, nil
	case <-wctx.Done():
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, &lockHeldError{path: path, waited: wait}
	}
}

// flockRetry is unix.Flock, retried when a signal interrupts it.
func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
