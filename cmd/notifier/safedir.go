package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"notifier/engine/lastgood"
)

// safeDir is a directory of the state directory opened so that nothing
// done in it can be redirected: the state directory is writable by the
// haclient group while CMON runs notifier as root, so a member could put
// a link where rejected/ or the pending directory should be, or plant
// links inside them. Every operation goes through the directory's
// descriptor and never follows a link.
type safeDir struct {
	fd   int
	path string
}

// openSafeDir opens (making it first if asked) the directory path. A
// link, anything but a directory, or a directory owned by someone other
// than root or this user (unless it has the group of a setgid directory
// holding it: the shared state directory) is refused. A missing directory, when not made,
// is fs.ErrNotExist.
func openSafeDir(path string, create bool) (*safeDir, error) {
	if create {
		if err := lastgood.MkdirShared(path); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
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
	return &safeDir{fd: fd, path: path}, nil
}

// Close releases the directory.
func (d *safeDir) Close() error { return unix.Close(d.fd) }

// join is the path of name in d, for messages.
func (d *safeDir) join(name string) string { return filepath.Join(d.path, name) }

// create makes the file name in d, exclusively and not through a link,
// writes data and, if sync, fsyncs it.
func (d *safeDir) create(name string, data []byte, perm uint32, sync bool) error {
	fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return &os.PathError{Op: "create", Path: d.join(name), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.join(name))
	_, err = f.Write(data)
	if sync && err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.remove(name)
	}
	return err
}

// rename renames old to name within d; a link named name is replaced,
// never followed.
func (d *safeDir) rename(old, name string) error {
	if err := unix.Renameat(d.fd, old, d.fd, name); err != nil {
		return &os.PathError{Op: "rename", Path: d.join(old), Err: err}
	}
	return nil
}

// sync makes the entries of d durable.
func (d *safeDir) sync() error {
	if err := unix.Fsync(d.fd); err != nil {
		return &os.PathError{Op: "fsync", Path: d.path, Err: err}
	}
	return nil
}

// maxSafeRead bounds what read takes from one file.
const maxSafeRead = 4 << 20

// read returns the content of name in d, which must be a regular file
// with no other link to it (a hard link could make a root-only file
// readable here). A missing file is fs.ErrNotExist.
func (d *safeDir) read(name string) ([]byte, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a link: not read", d.join(name))
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.join(name))
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: d.join(name), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		return nil, fmt.Errorf("%s is not a plain file: not read", d.join(name))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSafeRead+1))
	if err == nil && len(data) > maxSafeRead {
		err = fmt.Errorf("%s is larger than %d bytes: not read", d.join(name), maxSafeRead)
	}
	return data, err
}

// names lists the entries of d, unsorted.
func (d *safeDir) names() ([]string, error) {
	// A descriptor of its own: reading entries moves its offset.
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	return f.Readdirnames(-1)
}

// remove unlinks name in d (a link itself, never what it points at).
func (d *safeDir) remove(name string) error {
	if err := unix.Unlinkat(d.fd, name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: d.join(name), Err: err}
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
