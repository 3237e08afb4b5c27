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
// wait. Closing the returned file releases the lock. When the wait runs
// out, the goroutine still blocked in flock closes the file once it has
// the lock (flock cannot be interrupted).
func Lock(path string, wait time.Duration) (*os.File, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	if err := retry(fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		return f, nil
	} else if !errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Unbuffered: a send is taken by a waiter; once the waiter gave up,
	// the goroutine's only way out is to close the file (and its lock).
	got := make(chan error)
	gaveUp := make(chan struct{})
	go func() {
		err := retry(fd, unix.LOCK_EX)
		select {
		case got <- err:
		case <-gaveUp:
			f.Close()
		}
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return f, nil
	case <-t.C:
		close(gaveUp)
		// The goroutine may have got it just now, and sent: take it.
		select {
		case err := <-got:
			if err == nil {
				return f, nil
			}
			f.Close()
		default:
		}
		return nil, fmt.Errorf("%s: %w after %v", path, ErrTimeout, wait)
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
