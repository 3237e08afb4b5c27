package bolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"notifier/engine/state"
)

// stateFileMode is given to the state file and its lock file whatever the
// umask: the directory is shared by root (CMON) and the haclient group
// (Pacemaker runs agents as hacluster), and both must write.
const stateFileMode fs.FileMode = 0o660

// openStateFile opens path; when flag has O_CREATE and the file is new, it
// gets exactly mode (an explicit chmod, so a umask of 022 cannot take
// the group's write bit away). A link is never followed: the directory
// is writable by the haclient group, and a link there must not make a
// run as root open, create or write another file.
func openStateFile(path string, flag int, mode fs.FileMode) (*os.File, error) {
	flag |= unix.O_NOFOLLOW
	f, err := os.OpenFile(path, flag&^os.O_CREATE, mode)
	if err == nil || flag&os.O_CREATE == 0 || !errors.Is(err, fs.ErrNotExist) {
		return f, linkError(path, err)
	}
	f, err = os.OpenFile(path, flag|os.O_EXCL, mode)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		f, err = os.OpenFile(path, flag&^os.O_CREATE, mode)
		return f, linkError(path, err)
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

// linkError says what to do when err is O_NOFOLLOW's refusal of a link.
func linkError(path string, err error) error {
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%s is a symbolic link, and state files are never opened through one: point settings.state.path at the file itself", path)
	}
	return err
}

// lockPoll is how often a waiting run looks for progress.
const lockPoll = 100 * time.Millisecond

// lockHeldError is a lock wait that ran out: another process holds the
// lock and did not let go in time.
type lockHeldError struct {
	path   string
	waited time.Duration
	busy   bool // the state kept changing: a storm, not a stuck holder
	// stopped is the holder's pid when it is a stopped process.
	stopped int
}

// errLockHeld is what every lockHeldError is.
var errLockHeld = errors.New("lock held by another process")

func (e *lockHeldError) Error() string {
	w := e.waited.Round(time.Millisecond)
	if w >= time.Second {
		w = w.Round(100 * time.Millisecond)
	}
	if e.stopped != 0 {
		return fmt.Sprintf("held by process %d, which is stopped (SIGSTOP?): not waiting for it", e.stopped)
	}
	if e.busy {
		return fmt.Sprintf("still taken by other runs after %s of waiting (a storm?)", w)
	}
	return fmt.Sprintf("held by another process for over %s with no change to the state (a stopped notifier, a backup?): see who with fuser -v %s", w, e.path)
}

func (e *lockHeldError) Unwrap() error { return errLockHeld }

// progressMark is what changes when a run commits to the state file that
// path (<state file>.lock) guards.
func progressMark(path string) [2]int64 {
	fi, err := os.Stat(strings.TrimSuffix(path, ".lock"))
	if err != nil {
		return [2]int64{-1, -1}
	}
	return [2]int64{fi.ModTime().UnixNano(), fi.Size()}
}

// lockFile opens path (creating it) and takes a blocking flock on it,
// exclusive or shared. A blocking flock queues in the kernel and wakes
// the moment the holder lets go, unlike bbolt's own lock, which polls
// every 50 ms and times out when hundreds of processes start at once.
//
// The wait is always bounded, even for a ctx that never ends: by
// state.LockWait while the state file (path without ".lock") does not change,
// by state.LockWaitLimit while it does. It then fails with a *lockHeldError,
// or with ctx's error if ctx ended first. flock cannot be interrupted,
// so the wait runs in a goroutine; when lockFile gives up, the
// goroutine, when it finally gets the lock, drops it and closes the
// file; pending counts such goroutines (tests wait on it).
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
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		err = linkError(path, err)
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

	id := lockID(fd) // now: the goroutine below may close f
	stall, limit := state.LockWait(ctx), state.LockWaitLimit(ctx)
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()          // also tells the goroutine that nobody waits any more
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
	tick := time.NewTicker(max(min(lockPoll, stall), time.Millisecond))
	defer tick.Stop()
	start := time.Now()
	mark, still := progressMark(path), start
	for {
		select {
		case err := <-got:
			if err != nil {
				return nil, err
			}
			return f, nil
		case <-wctx.Done():
			// limit ends before ctx's deadline, so only a cancel of ctx
			// is ctx's doing (a late wake-up may see ctx past its
			// deadline too: the limit was still what ended the wait).
			if err := ctx.Err(); errors.Is(err, context.Canceled) {
				return nil, err
			}
			return nil, &lockHeldError{path: path, waited: limit, busy: true}
		case now := <-tick.C:
			if m := progressMark(path); m != mark {
				mark, still = m, now // another run committed: not stuck
			} else if now.Sub(still) >= stall {
				return nil, &lockHeldError{path: path, waited: stall}
			} else if pid, ok := stoppedHolder(id); ok {
				// Looked for only when nothing was committed since the
				// last look: in a storm that makes progress, hundreds of
				// waiters need not read /proc/locks ten times a second.
				return nil, &lockHeldError{path: path, waited: now.Sub(start), stopped: pid}
			}
		}
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
