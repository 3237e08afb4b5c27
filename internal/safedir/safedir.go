// Package safedir opens a directory of the state directory so that
// nothing done in it can be redirected through a link: the pending
// deliveries and the rejected input live there.
package safedir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Dir is a directory of the state directory opened so that nothing
// done in it can be redirected: the state directory is writable by the
// haclient group while CMON runs notifier as root, so a member could put
// a link where rejected/ or the pending directory should be, or plant
// links inside them. Every operation goes through the directory's
// descriptor and never follows a link.
type Dir struct {
	fd int
	// Path is where the directory is, for messages.
	Path string
}

// Open opens (making it first if asked) the directory path. A
// link, anything but a directory, or a directory owned by someone other
// than root or this user (unless it has the group of a setgid directory
// holding it: the shared state directory) is refused. A missing directory, when not made,
// is fs.ErrNotExist.
//
// Errors of the system calls are compared as the bare errno they are,
// not through errors.Is: every run opens a few of these directories,
// and errors.Is costs it the runtime's interface lookups for each error
// type it meets (the first lookups of a process grow the runtime's
// table of them, measurably).
func Open(path string, create bool) (*Dir, error) {
	if create {
		if op, err := mkdirShared(path); err != nil && err != unix.EEXIST {
			return nil, &os.PathError{Op: op, Path: path, Err: err}
		}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ELOOP || err == unix.ENOTDIR {
		return nil, fmt.Errorf("%s is a link or not a directory: refused (remove it; notifier makes it again)", path)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a directory: refused", path)
	}
	if euid := os.Geteuid(); st.Uid != 0 && int(st.Uid) != euid && !sharedGroup(path, st.Gid) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is owned by uid %d, not root or this user (uid %d), nor by the state directory's group: refused", path, st.Uid, euid)
	}
	return &Dir{fd: fd, Path: path}, nil
}

// Close releases the directory.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// Join is the path of name in d, for messages.
func (d *Dir) Join(name string) string { return filepath.Join(d.Path, name) }

// Create makes the file name in d, exclusively and not through a link,
// writes data and, if sync, fsyncs it.
func (d *Dir) Create(name string, data []byte, perm uint32, sync bool) error {
	fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return &os.PathError{Op: "create", Path: d.Join(name), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.Join(name))
	_, err = f.Write(data)
	if sync && err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.Remove(name)
	}
	return err
}

// Rename renames old to name within d; a link named name is replaced,
// never followed.
func (d *Dir) Rename(old, name string) error {
	if err := unix.Renameat(d.fd, old, d.fd, name); err != nil {
		return &os.PathError{Op: "rename", Path: d.Join(old), Err: err}
	}
	return nil
}

// Sync makes the entries of d durable.
func (d *Dir) Sync() error {
	if err := unix.Fsync(d.fd); err != nil {
		return &os.PathError{Op: "fsync", Path: d.Path, Err: err}
	}
	return nil
}

// maxSafeRead bounds what read takes from one file.
const maxSafeRead = 4 << 20

// Read returns the content of name in d, which must be a regular file
// with no other link to it (a hard link could make a root-only file
// readable here). A missing file is fs.ErrNotExist.
func (d *Dir) Read(name string) ([]byte, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ELOOP { // the bare errno, as in Open
		return nil, fmt.Errorf("%s is a link: not read", d.Join(name))
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.Join(name), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.Join(name))
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: d.Join(name), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		return nil, fmt.Errorf("%s is not a plain file: not read", d.Join(name))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSafeRead+1))
	if err == nil && len(data) > maxSafeRead {
		err = fmt.Errorf("%s is larger than %d bytes: not read", d.Join(name), maxSafeRead)
	}
	return data, err
}

// Names lists the entries of d, unsorted.
func (d *Dir) Names() ([]string, error) {
	// A descriptor of its own: reading entries moves its offset.
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.Path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.Path)
	defer f.Close()
	return f.Readdirnames(-1)
}

// Remove unlinks name in d (a link itself, never what it points at).
func (d *Dir) Remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: d.Join(name), Err: err}
	}
	return nil
}

// sharedGroup reports whether gid is the group of the directory holding
// path: in the shared state directory (root:haclient, setgid) a
// Pacemaker run, as hacluster, may make rejected/ or the pending
// directory first, and CMON's runs, as root, must still use it. Every
// operation is relative to the opened directory and never follows a
// link, so its owner cannot point them elsewhere.
func sharedGroup(path string, gid uint32) bool {
	var st unix.Stat_t
	return unix.Stat(filepath.Dir(path), &st) == nil && st.Gid == gid && st.Mode&unix.S_ISGID != 0
}

// MkdirShared makes dir for the users that share the state directory —
// root (CMON) and hacluster (Pacemaker), through its group — whatever the
// umask: 0770, setgid so what is made in it keeps the group (Mkdir's mode
// is cut by the umask: 022 makes 0770 into 0750, and the group could not
// write). An existing dir is left as it is.
func MkdirShared(dir string) error {
	if op, err := mkdirShared(dir); err != nil {
		return &os.PathError{Op: op, Path: dir, Err: err}
	}
	return nil
}

// mkdirShared is MkdirShared with the bare errno, and the operation that
// failed ("mkdir" or "chmod"), as os.Mkdir and os.Chmod would say it.
func mkdirShared(dir string) (op string, err error) {
	if err := ignoringEINTR(func() error { return unix.Mkdir(dir, 0o700) }); err != nil {
		return "mkdir", err
	}
	// Through a descriptor of the directory just made, never its path:
	// in a group-writable parent, someone could put a link in its place
	// in between, and a chmod by path would follow it.
	var fd int
	err = ignoringEINTR(func() (err error) {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return "chmod", err
	}
	defer unix.Close(fd)
	if err := ignoringEINTR(func() error { return unix.Fchmod(fd, 0o770|unix.S_ISGID) }); err != nil {
		return "chmod", err
	}
	return "", nil
}

// ignoringEINTR retries fn while a signal interrupts it, as package os
// does for its system calls.
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// IsNotExist reports whether err, an error of Open or of a Dir's
// methods, says the file or directory does not exist: the same answer
// as errors.Is(err, fs.ErrNotExist), without its interface lookups
// for the error Open returns for a missing directory.
func IsNotExist(err error) bool {
	if pe, ok := err.(*os.PathError); ok && pe.Err == unix.ENOENT {
		return true
	}
	return errors.Is(err, fs.ErrNotExist)
}

// CreateFile makes the file name in d, exclusively and not through a
// link, and returns it open for writing: for a caller that must order
// its own write, fsync and close (the spool's durability steps).
func (d *Dir) CreateFile(name string, perm uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: d.Join(name), Err: err}
	}
	return os.NewFile(uintptr(fd), d.Join(name)), nil
}

// MoveTo renames old in d to name in to, both through their
// descriptors: a link is moved as a link, never followed, and a link
// named name in to is replaced.
func (d *Dir) MoveTo(old string, to *Dir, name string) error {
	if err := unix.Renameat(d.fd, old, to.fd, name); err != nil {
		return &os.PathError{Op: "rename", Path: d.Join(old), Err: err}
	}
	return nil
}

// ErrNoUnnamed is CreateUnnamed's error where d's file system (or the
// kernel) makes no unnamed files: the caller writes a named temporary
// file instead.
var ErrNoUnnamed = errors.New("no unnamed files here")

// CreateUnnamed makes an unnamed file in d (O_TMPFILE), open for
// writing: it has no name, so nobody sees it, until Link gives it one,
// and it is gone with the last descriptor if that never happens (a
// process killed meanwhile leaves nothing behind).
func (d *Dir) CreateUnnamed(perm uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, ".", unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, perm)
	if err == unix.EOPNOTSUPP || err == unix.EISDIR || err == unix.EINVAL {
		return nil, ErrNoUnnamed
	}
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: d.Path, Err: err}
	}
	return os.NewFile(uintptr(fd), d.Path), nil
}

// Link gives f, a file CreateUnnamed made in d, the name name in d; it
// fails if name exists. It links through /proc/self/fd (linkat with
// AT_EMPTY_PATH needs a capability): ErrNoUnnamed where /proc is not
// there, and f is then of no use.
func (d *Dir) Link(f *os.File, name string) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		lerr = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(fd)), d.fd, name, unix.AT_SYMLINK_FOLLOW)
	}); err != nil {
		return err
	}
	switch {
	case lerr == unix.ENOENT && !procMounted():
		return ErrNoUnnamed
	case lerr != nil:
		return &os.PathError{Op: "link", Path: d.Join(name), Err: lerr}
	}
	return nil
}

// procMounted reports whether /proc/self/fd is there.
func procMounted() bool {
	var st unix.Stat_t
	return unix.Stat("/proc/self/fd", &st) == nil
}

// ReadFile reads at most limit bytes of the file at path, never through
// a link (in a directory others may write, one could point anywhere); a
// missing file reads as nothing. A longer file is an error.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link: not read or written through (remove it; notifier makes the file again)", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s: over %d bytes: not a file notifier wrote", path, limit)
	}
	return data, err
}
