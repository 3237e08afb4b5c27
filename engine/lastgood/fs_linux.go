package lastgood

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Kept policies live in dir/<euid>/, a directory only that user can write
// (0700), inside dir, which root and hacluster share through their group
// and which is made sticky (1770) so that neither can rename or remove
// what the other made. Each user trusts only what it made itself: a
// kept policy decides who gets paged, and hacluster must not be able to make
// root's runs drop alarms. Every file is opened without following a link
// and checked on the open descriptor (fstat), so what is checked is what
// is read.

// openUserDir opens dir/<euid> without following a link and checks that
// this user owns it and nobody else can write to it. With create it is
// made when missing (and dir with it, sticky and shared).
func openUserDir(dir string, create bool) (int, error) {
	top, err := openSharedDir(dir, create)
	if err != nil {
		return -1, err
	}
	defer unix.Close(top)
	euid := os.Geteuid()
	name := strconv.Itoa(euid)
	path := filepath.Join(dir, name)
	open := func() (int, error) {
		return unix.Openat(top, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	fd, err := open()
	if err == unix.ENOENT && create {
		if err = unix.Mkdirat(top, name, 0o700); err == nil {
			if fd, err = open(); err == nil {
				unix.Fchmod(fd, 0o700) // not the setgid a subdirectory inherits from dir
			}
		} else if err == unix.EEXIST {
			fd, err = open()
		}
	}
	if err != nil {
		return -1, pathErr("open", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, pathErr("stat", path, err)
	}
	if int(st.Uid) != euid || st.Mode&0o022 != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: owned by uid %d, mode %04o: not a directory only uid %d can write", path, st.Uid, st.Mode&0o7777, euid)
	}
	return fd, nil
}

// openSharedDir opens dir, not through a link, and checks that nobody but
// this user and root can rename what is in it: it is owned by one of them
// and sticky if others can write to it. With create it is made when
// missing, and one of ours made before it had to be sticky is made so.
func openSharedDir(dir string, create bool) (int, error) {
	open := func() (int, error) {
		return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	fd, err := open()
	if err == unix.ENOENT && create { // dir itself; its parent is the installer's
		if err = mkdirMode(dir, 0o770|os.ModeSetgid|os.ModeSticky); err == nil || errors.Is(err, fs.ErrExist) {
			fd, err = open()
		}
	}
	if err != nil {
		return -1, pathErr("open", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, pathErr("stat", dir, err)
	}
	euid := os.Geteuid()
	shared := st.Mode&0o022 != 0
	if create && shared && st.Mode&unix.S_ISVTX == 0 && int(st.Uid) == euid && unix.Fchmod(fd, st.Mode&0o7777|unix.S_ISVTX) == nil {
		st.Mode |= unix.S_ISVTX
	}
	if (st.Uid != 0 && int(st.Uid) != euid) || (shared && st.Mode&unix.S_ISVTX == 0) {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: owned by uid %d, mode %04o: others could rename what is in it (want owned by root or uid %d, and sticky if others can write to it)",
			dir, st.Uid, st.Mode&0o7777, euid)
	}
	return fd, nil
}

// openPrivate opens name in this user's directory for reading: not
// through a link, never blocking (a FIFO put there must not hang a run),
// and only if it is a regular file this user owns and only it can write.
func openPrivate(dir, name string) (*os.File, fs.FileInfo, error) {
	dfd, err := openUserDir(dir, false)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(dfd)
	path := filepath.Join(dir, strconv.Itoa(os.Geteuid()), name)
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, pathErr("open", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	st, err := f.Stat() // fstat: the file that was opened
	if err == nil {
		sys, _ := st.Sys().(*syscall.Stat_t)
		switch {
		case sys == nil:
			err = errors.New("no owner")
		case !st.Mode().IsRegular():
			err = fmt.Errorf("not a regular file (%v)", st.Mode().Type())
		case int(sys.Uid) != os.Geteuid():
			err = fmt.Errorf("owned by uid %d, not by this user (uid %d)", sys.Uid, os.Geteuid())
		case st.Mode().Perm()&0o022 != 0:
			err = fmt.Errorf("mode %v: others can write to it", st.Mode().Perm())
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// writePrivate replaces name in this user's directory with data,
// atomically, so concurrent runs (one per Pacemaker recipient) see the
// old file or the new one, never half. It is best effort: a run that
// cannot keep its policy still runs it, and the next one tries again.
func writePrivate(dir, name string, data []byte) {
	dfd, err := openUserDir(dir, true)
	if err != nil {
		return
	}
	defer unix.Close(dfd)
	tmp := fmt.Sprintf(".%s.%d.%d.tmp", name, os.Getpid(), time.Now().UnixNano())
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(data)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = unix.Renameat(dfd, tmp, dfd, name)
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return
	}
	removeSnapshots(dfd)
}

// removeSnapshots removes, from this user's directory dfd, the policy
// snapshots (*.snapshot) the policy cache of older versions wrote there
// and nothing reads any more. Only regular files go, each looked at
// without following a link; best effort: one left is tried again the
// next time a policy is kept.
func removeSnapshots(dfd int) {
	fd, err := unix.Openat(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(fd), ".")
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, name := range names {
		if !strings.HasSuffix(name, ".snapshot") {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			unix.Unlinkat(dfd, name, 0)
		}
	}
}

// pathErr wraps a system call's error, saying plainly what ELOOP means
// under O_NOFOLLOW.
func pathErr(op, path string, err error) error {
	switch err {
	case unix.ELOOP:
		return fmt.Errorf("%s: is a symbolic link, not followed", path)
	case unix.ENOTDIR: // O_DIRECTORY|O_NOFOLLOW on a link to a directory
		return fmt.Errorf("%s: not a directory (a symbolic link is not followed)", path)
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}
