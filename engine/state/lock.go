package state

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"

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

// lockFile opens path (creating it) and takes a blocking flock on it,
// exclusive or shared. A blocking flock queues in the kernel and wakes
// the moment the holder lets go, unlike bbolt's own lock, which polls
// every 50 ms and times out when hundreds of processes start at once.
//
// flock cannot be interrupted, so when ctx can end the wait runs in a
// goroutine. If ctx ends first, lockFile returns ctx's error at once and
// the goroutine, when it finally gets the lock, drops it and closes the
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
	if ctx.Done() == nil { // cannot be cancelled: just wait
		if err := flockRetry(fd, how); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}

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
		case <-ctx.Done():
			f.Close() // the caller gave up: release at once
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			return nil, err
		}
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
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
