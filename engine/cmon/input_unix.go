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
//
// Once the bytes read form a complete JSON value it stops waiting: it
// takes what the writer has already sent, without blocking, and returns.
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
	var sc scanner
	buf := make([]byte, readChunk)
	for len(data) <= MaxInput {
		n, err := pf.Read(buf)
		data = append(data, buf[:n]...)
		switch {
		case errors.Is(err, io.EOF):
			data, err = capped(data, nil)
			return data, true, err
		case errors.Is(err, os.ErrDeadlineExceeded):
			data, err = gaveUp(data, context.DeadlineExceeded)
			return data, true, err
		case err != nil:
			data, err = capped(data, err)
			return data, true, err
		}
		if sc.feed(buf[:n]) {
			data, err = drain(pf, data)
			data, err = capped(data, err)
			return data, true, err
		}
	}
	data, err = capped(data, nil)
	return data, true, err
}

// drain appends what the pipe holds now, never waiting for more: the
// rest of a write that carried the end of the value, or the trailing
// data of a writer that then closed.
func drain(pf *os.File, data []byte) ([]byte, error) {
	rc, err := pf.SyscallConn()
	if err != nil {
		return data, nil
	}
	buf := make([]byte, readChunk)
	for len(data) <= MaxInput {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), buf)
			return true // never park: EAGAIN means nothing more for now
		}); err != nil {
			return data, nil
		}
		if errors.Is(rerr, syscall.EINTR) {
			continue
		}
		if n <= 0 || rerr != nil {
			if rerr != nil && !errors.Is(rerr, syscall.EAGAIN) {
				return data, rerr
			}
			return data, nil
		}
		data = append(data, buf[:n]...)
	}
	return data, nil
}
