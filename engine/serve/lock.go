package serve

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockFile is the engine's lock, in the spool directory: one engine per
// spool, for its whole life.
const LockFile = "engine.lock"

// LockedError is Lock's answer when another engine holds the spool.
type LockedError struct {
	// Path is the lock file.
	Path string
	// PID is the holder's process id, as it wrote it (0 when unreadable).
	PID int
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another engine (pid %d) serves this spool: it holds %s", e.PID, e.Path)
	}
	return fmt.Sprintf("another engine serves this spool: it holds %s", e.Path)
}

// Lock is the engine's hold on a spool.
type Lock struct{ f *os.File }

// TakeLock takes <dir>/engine.lock with flock(LOCK_EX|LOCK_NB) and
// writes this process's id into it, or returns a *LockedError naming the
// holder at once: it never waits. The lock ends with the process (or
// Close), so a killed engine leaves nothing to clean up.
func TakeLock(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|os.O_SYNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("engine lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			data := make([]byte, 32)
			n, _ := f.ReadAt(data, 0)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data[:n])))
			return nil, &LockedError{Path: path, PID: pid}
		}
		return nil, fmt.Errorf("engine lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("engine lock %s: writing the pid: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Close gives the lock up. The pid stays in the file: the next holder
// writes its own, and nobody trusts a pid without the lock.
func (l *Lock) Close() error { return l.f.Close() }
