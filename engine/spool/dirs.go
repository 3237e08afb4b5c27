package spool

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"notifier/internal/safedir"
)

// dir is a subdirectory of the spool (tmp/, new/, claimed/, bad/),
// opened (and made when missing, with Open's checks: safedir.Open) on
// first use rather than by Open: a drop writes into two of the four, and
// each open is a mkdir, an open and a stat. A failed open is tried again
// on the next use. Its methods are safedir.Dir's.
type dir struct {
	path string
	d    atomic.Pointer[safedir.Dir]
	mu   sync.Mutex // held while opening
}

func newDir(path string) *dir { return &dir{path: path} }

// openError is a subdirectory that could not be opened. It does not
// unwrap: the callers read fs.ErrNotExist from an operation in the
// directory as "no such entry" (ErrTaken), which a missing spool is not.
type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }

// open returns the opened directory, opening it first if needed.
func (d *dir) open() (*safedir.Dir, error) {
	if sd := d.d.Load(); sd != nil {
		return sd, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if sd := d.d.Load(); sd != nil {
		return sd, nil
	}
	sd, err := openShared(d.path)
	if err != nil {
		return nil, &openError{err}
	}
	d.d.Store(sd)
	return sd, nil
}

// close closes the directory if it was opened.
func (d *dir) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sd := d.d.Swap(nil); sd != nil {
		return sd.Close()
	}
	return nil
}

func (d *dir) Create(name string, data []byte, perm uint32, sync bool) error {
	sd, err := d.open()
	if err != nil {
		return err
	}
	return sd.Create(name, data, perm, sync)
}

func (d *dir) CreateFile(name string, perm uint32) (*os.File, error) {
	sd, err := d.open()
	if err != nil {
		return nil, err
	}
	return sd.CreateFile(name, perm)
}

func (d *dir) CreateUnnamed(perm uint32) (*os.File, error) {
	sd, err := d.open()
	if err != nil {
		return nil, err
	}
	return sd.CreateUnnamed(perm)
}

func (d *dir) Link(f *os.File, name string) error {
	sd, err := d.open()
	if err != nil {
		return err
	}
	return sd.Link(f, name)
}

func (d *dir) Rename(old, name string) error {
	sd, err := d.open()
	if err != nil {
		return err
	}
	return sd.Rename(old, name)
}

func (d *dir) MoveTo(old string, to *dir, name string) error {
	sd, err := d.open()
	if err != nil {
		return err
	}
	td, err := to.open()
	if err != nil {
		return err
	}
	return sd.MoveTo(old, td, name)
}

func (d *dir) Sync() error {
	sd, err := d.open()
	if err != nil {
		return err
	}
	return sd.Sync()
}

func (d *dir) Read(name string) ([]byte, error) {
	sd, err := d.open()
	if err != nil {
		return nil, err
	}
	return sd.Read(name)
}

func (d *dir) Names() ([]string, error) {
	sd, err := d.open()
	if err != nil {
		return nil, err
	}
	return sd.Names()
}

func (d *dir) Remove(name string) error {
	sd, err := d.open()
	if err != nil {
		return err
	}
	return sd.Remove(name)
}

// openShared is safedir.Open(path, true) that tries the directory as it
// is first: it is there but the first time, and making it is a mkdir
// that fails with EEXIST every other time, in every drop.
func openShared(path string) (*safedir.Dir, error) {
	sd, err := safedir.Open(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return safedir.Open(path, true)
	}
	return sd, err
}
