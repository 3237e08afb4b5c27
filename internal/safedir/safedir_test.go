package safedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The rejected/ and pending directories are shared by root and hacluster
// through the group: a umask of 022 must not leave the group read-only.
func TestMkdirSharedIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "rejected")
	if err := MkdirShared(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := os.ModeDir | os.ModeSetgid | 0o770; st.Mode() != want {
		t.Errorf("mode %v, want %v", st.Mode(), want)
	}
	if err := MkdirShared(dir); !os.IsExist(err) {
		t.Errorf("second MkdirShared: %v, want exists", err)
	}
}

// Open compares the system calls' errors as bare errnos (no errors.Is):
// each refusal and each error must still be the one it was.
func TestOpenErrors(t *testing.T) {
	top := t.TempDir()
	real := filepath.Join(top, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(top, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(top, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{link, file} {
		for _, create := range []bool{false, true} {
			d, err := Open(path, create)
			if err == nil {
				d.Close()
				t.Fatalf("Open(%s, %v) opened it", path, create)
			}
			if want := path + " is a link or not a directory: refused (remove it; notifier makes it again)"; err.Error() != want {
				t.Errorf("Open(%s, %v): %v, want %q", path, create, err, want)
			}
			if IsNotExist(err) {
				t.Errorf("IsNotExist(%v) = true", err)
			}
		}
	}

	missing := filepath.Join(top, "missing")
	_, err := Open(missing, false)
	if !IsNotExist(err) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing directory: %v, want not-exist", err)
	}
	if want := "open " + missing + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("Open of a missing directory: %v, want %q", err, want)
	}
	if IsNotExist(fmt.Errorf("wrapped: %w", err)) != true {
		t.Error("IsNotExist misses a wrapped not-exist error")
	}

	// create: made, then found existing on the next Open.
	for range 2 {
		d, err := Open(missing, true)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
	}
	// create under a missing parent: mkdir's own error.
	deep := filepath.Join(top, "no", "such")
	_, err = Open(deep, true)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "mkdir" || pe.Path != deep || !IsNotExist(err) {
		t.Errorf("Open(%s, true): %#v, want mkdir's not-exist error", deep, err)
	}
	if err := MkdirShared(deep); !errors.As(err, &pe) || pe.Op != "mkdir" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MkdirShared(%s): %v, want mkdir's not-exist error", deep, err)
	}

	for _, err := range []error{nil, errors.New("no such file or directory"), &fs.PathError{Op: "open", Path: "x", Err: syscall.ENOTDIR}} {
		if IsNotExist(err) {
			t.Errorf("IsNotExist(%v) = true", err)
		}
	}
}

// Read refuses a link inside the directory (the errno compared bare).
func TestReadRefusesLink(t *testing.T) {
	top := t.TempDir()
	if err := os.WriteFile(filepath.Join(top, "target"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(top, "name")); err != nil {
		t.Fatal(err)
	}
	d, err := Open(top, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Read("name"); err == nil || err.Error() != filepath.Join(top, "name")+" is a link: not read" {
		t.Errorf("Read of a link: %v", err)
	}
	if _, err := d.Read("gone"); !IsNotExist(err) {
		t.Errorf("Read of a missing file: %v, want not-exist", err)
	}
}

// An unnamed file is seen by nobody until Link names it; Link never
// replaces a name; one never linked leaves nothing behind.
func TestUnnamed(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.CreateUnnamed(0o640)
	if errors.Is(err, ErrNoUnnamed) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: CI's file system (ext4) has them, so this is a failure", err)
		}
		t.Skip("no unnamed files on this file system") // the spool then writes named ones (its own tests cover both)
	}
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("entry"))
	if got, _ := d.Names(); len(got) != 0 {
		t.Errorf("before the link: %q", got)
	}
	if err := d.Link(f, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Link(f, "a"); err == nil {
		t.Error("a second link replaced the name")
	}
	f.Close()
	if data, err := d.Read("a"); err != nil || string(data) != "entry" {
		t.Errorf("read back %q, %v", data, err)
	}
	g, err := d.CreateUnnamed(0o640)
	if err != nil {
		t.Fatal(err)
	}
	g.Write([]byte("never named"))
	g.Close()
	if got, _ := d.Names(); len(got) != 1 || got[0] != "a" {
		t.Errorf("after an unlinked file closed: %q", got)
	}
}
