//go:build unix

package cmon

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"
)

// readPipe reads a pipe (how CMON feeds plugins) in the calling goroutine,
// with the deadline enforced by the runtime's poller instead of a reader
// goroutine: handing the read to another thread and back cost more than
// the rest of the decoding. ok is false when r is not a pipe, or the pipe
// cannot be polled; ReadInput then falls back to its goroutine.
func readPipe(ctx context.Context, r io.Reader) (data []byte, ok bool, err error) {
	f, isFile := r.(*os.File)
	if !isFile {
		return nil, false, nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return nil, false, nil
	}
	// O_NONBLOCK belongs to the open pipe, shared with whoever else holds
	// it: set it only for the read, and put it back.
	fd := int(f.Fd())
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, false, nil
	}
	if err := syscall.SetNonblock(dup, true); err != nil {
		syscall.Close(dup)
		return nil, false, nil
	}
	defer syscall.SetNonblock(fd, false)
	pf := os.NewFile(uintptr(dup), f.Name())
	defer pf.Close()
	if dl, has := ctx.Deadline(); has {
		if pf.SetReadDeadline(dl) != nil {
			return nil, false, nil // not pollable: the goroutine path copes
		}
	}
	data, err = io.ReadAll(io.LimitReader(pf, MaxInput+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, true, gaveUp(context.DeadlineExceeded)
	}
	data, err = capped(data, err)
	return data, true, err
}
