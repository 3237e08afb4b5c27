// Package flock takes an exclusive flock on a small lock file with a
// bounded wait: for the files beside the state that several processes
// update (the metrics textfile, the self-alerts' record), where waiting
// without bound would make a run outlive its caller's timeout.
package flock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrTimeout is a wait for the lock that ran out.
var ErrTimeout = errors.New("lock still held by another process")

// Lock opens path (creating it with mode 0660 whatever the umask, never
// through a link) and takes an exclusive flock on it, waiting at most
// wait. Closing the returned file releases the lock.
//
// The wait polls (LOCK_NB, backing off from 1 to 20 ms) instead of
// blocking in flock(2) in a goroutine: a blocked flock cannot be
// interrupted, so every wait that gave up on a holder that never lets
// go (a stopped process) would keep a thread and a descriptor for as
// long, and the engine checks every few seconds.
func Lock(path string, wait time.Duration) (*os.File, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for {
		err := retry(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			f.Close()
			return nil, fmt.Errorf("%s: %w after %v", path, ErrTimeout, wait)
		}
		time.Sleep(min(pause, left)) // polling the lock, not synchronising
		pause = min(pause*2, 20*time.Millisecond)
	}
}

// Within is wait, or less when ctx ends sooner (never below a
// millisecond: an uncontended lock is still taken).
func Within(ctx context.Context, wait time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	return max(wait, time.Millisecond)
}

func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o660)
		if err == nil {
			if cerr := f.Chmod(0o660); cerr != nil {
				f.Close()
				return nil, cerr
			}
			return f, nil
		}
		if errors.Is(err, fs.ErrExist) { // made by another process meanwhile
			f, err = os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW, 0)
		}
	}
	if errors.Is(err, fs.ErrPermission) {
		// Made by another user: a read-only descriptor takes a flock too.
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link: lock files are never opened through one", path)
	}
	return f, err
}

func retry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
