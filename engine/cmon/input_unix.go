//go:build unix

package cmon

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// readPipe reads a pipe (how CMON feeds plugins) in the calling
// goroutine, with the deadline kept by poll(2) on the descriptor itself:
// no reader goroutine (handing the read to another thread and back cost
// more than the rest of the decoding) and not the runtime's poller
// either (its epoll instance, eventfd and timers cost a one-event
// process more than the read). ok is false when r is not a pipe;
// ReadInput then falls back to its goroutine.
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
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false, nil
	}
	deadline, has := ctx.Deadline()
	if !has && ctx.Done() != nil {
		// Cancellable but with no deadline: poll(2) cannot wait on a
		// channel, the goroutine path can.
		return nil, false, nil
	}
	var rerr error
	if cerr := rc.Control(func(fd uintptr) { data, ok, rerr = readPipeFD(int(fd), deadline) }); cerr != nil {
		return nil, false, nil
	}
	return data, ok, rerr
}

// readPipeFD is readPipe on the descriptor fd, until deadline (none when
// zero). O_NONBLOCK belongs to the open pipe, shared with whoever else
// holds it: it is set only for the read, and put back.
func readPipeFD(fd int, deadline time.Time) (data []byte, ok bool, err error) {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, false, nil
	}
	if flags&unix.O_NONBLOCK == 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_NONBLOCK); err != nil {
			return nil, false, nil
		}
		defer unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
	}
	var sc scanner
	buf := make([]byte, readChunk)
	complete := false
	for len(data) <= MaxInput {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if complete {
				// All the writer has sent so far, after a whole value.
				data, err = capped(data, nil)
				return data, true, err
			}
			if err := waitReadable(fd, deadline); err != nil {
				if err == context.DeadlineExceeded {
					data, err = gaveUp(data, err)
				} else {
					data, err = capped(data, err)
				}
				return data, true, err
			}
			continue
		case err != nil:
			data, err = capped(data, err)
			return data, true, err
		case n == 0:
			data, err = capped(data, nil)
			return data, true, err
		}
		data = append(data, buf[:n]...)
		if !complete && sc.feed(buf[:n]) {
			complete = true // take what is there already, never wait for more
		}
	}
	data, err = capped(data, nil)
	return data, true, err
}

// waitReadable polls fd until it is readable (or hung up, or in error:
// the read that follows says which); context.DeadlineExceeded once
// deadline has passed, or poll's own error.
func waitReadable(fd int, deadline time.Time) error {
	for {
		ms := -1
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return context.DeadlineExceeded
			}
			ms = int(min((left+time.Millisecond-1)/time.Millisecond, math.MaxInt32))
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		switch {
		case err == unix.EINTR, err == nil && n == 0:
			// the loop checks the deadline again
		case err != nil:
			return fmt.Errorf("poll: %w", err)
		default:
			return nil
		}
	}
}
