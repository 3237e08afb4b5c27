package spool

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// The drop's side of the wake-up protocol (WakeSocket), written on the
// raw socket (golang.org/x/sys/unix) rather than package net: a drop
// makes one connection and exchanges two lines, and net's dialer, its
// poller (an epoll instance, an eventfd) and its per-connection state
// cost each drop more than the exchange itself.
//
// Requests:
//
//	v1: <id>\n
//	v2: <id> <policy> <statepath>\n   (both strconv.Quote'd: the entry's
//	    Policy and StatePath, "" when it has none)
//	v3: <id> <policy> <statepath> <version>\n   (and the entry's V)
//
// The engine answers one line: "claimed" or "no: <reason>". A v3
// request tells the engine all it needs to decide whether it takes the
// entry without reading it first, so a drop sends it as soon as the
// entry is in new/, before new/'s fsync (Spool.PutWake), and the engine
// answers before it claims and reads the entry (WakeSocket). A drop
// sends v3; an engine from before v3 refuses it as malformed (and one
// from before v2, as not an id), and is asked again in v1.

// offerLineMax bounds a v3 request line; a drop whose line would be
// longer sends v1 (the engine reads the entry to learn the same).
const offerLineMax = 16 << 10

// WakeConn is a drop's connection to the engine's wake-up socket
// (DialWake). It is used by one goroutine.
type WakeConn struct {
	fd       int
	deadline time.Time
}

// errWakeTimeout: the deadline came first.
var errWakeTimeout = errors.New("wake-up: deadline exceeded")

// Wake offers entry id to the engine listening in the spool at dir and
// waits at most bound for its answer.
func Wake(dir, id string, bound time.Duration) WakeResult {
	deadline := time.Now().Add(bound)
	conn, r := DialWake(dir, deadline)
	if conn == nil {
		return r
	}
	return WakeOn(conn, id, deadline)
}

// DialWake connects to the engine's wake-up socket in dir, giving up at
// deadline: a nil conn and WakeNoEngine (or WakeTimedOut) when no engine
// listens. A drop dials before it writes its entry, so that it knows
// whether there is an engine to hand it to (see Spool.PutClaimed).
func DialWake(dir string, deadline time.Time) (*WakeConn, WakeResult) {
	c, r, _ := dialWake(dir, deadline)
	return c, r
}

// dialWake is DialWake, also returning why it did not connect.
func dialWake(dir string, deadline time.Time) (*WakeConn, WakeResult, error) {
	if !time.Now().Before(deadline) {
		return nil, WakeTimedOut, errWakeTimeout
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, WakeNoEngine, err
	}
	c := &WakeConn{fd: fd, deadline: deadline}
	// Any failure to connect is "no engine": ENOENT (no socket),
	// ECONNREFUSED (a stale socket), EAGAIN (a backlog so full that the
	// engine cannot be keeping up; a unix socket connects at once or
	// fails, it never blocks) all mean waiting would not help. Should a
	// kernel answer EINPROGRESS all the same, the connection is awaited
	// until the deadline, no longer.
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: filepath.Join(dir, WakeSocket)})
	if err == unix.EINPROGRESS || err == unix.EINTR {
		if err = c.wait(unix.POLLOUT); err == nil {
			var soerr int
			if soerr, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soerr != 0 {
				err = unix.Errno(soerr)
			}
		}
	}
	if err != nil {
		c.Close()
		if err == errWakeTimeout {
			// Something listens, but the deadline came before the
			// connection was made (a loaded host): not answered in time.
			return nil, WakeTimedOut, err
		}
		return nil, WakeNoEngine, err
	}
	return c, WakeClaimed, nil
}

// SetDeadline sets when c gives up waiting for the engine.
func (c *WakeConn) SetDeadline(t time.Time) { c.deadline = t }

// Close closes c.
func (c *WakeConn) Close() error { return unix.Close(c.fd) }

// wait polls c for events until its deadline, retrying after signals.
func (c *WakeConn) wait(events int16) error {
	for {
		left := time.Until(c.deadline)
		if left <= 0 {
			return errWakeTimeout
		}
		ms := int((left + time.Millisecond - 1) / time.Millisecond)
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: events}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR || (err == nil && n == 0) {
			continue // the loop checks the deadline again
		}
		// Ready, or an error or hang-up, which the read or write
		// that follows reports.
		return err
	}
}

// send writes line to the engine, all of it, by c's deadline.
func (c *WakeConn) send(line []byte) error {
	for len(line) > 0 {
		// MSG_NOSIGNAL: an engine gone away is EPIPE, not a SIGPIPE.
		n, err := unix.SendmsgN(c.fd, line, nil, nil, unix.MSG_NOSIGNAL)
		switch {
		case err == unix.EAGAIN:
			if err := c.wait(unix.POLLOUT); err != nil {
				return err
			}
		case err == unix.EINTR:
		case err != nil:
			return err
		default:
			line = line[n:]
		}
	}
	return nil
}

// readLine reads one newline-terminated line of at most max bytes (the
// newline not counted, nor returned) by c's deadline.
func (c *WakeConn) readLine(max int) ([]byte, error) {
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(2*cap(buf), max+1)-len(buf))
		}
		n, err := unix.Read(c.fd, buf[len(buf):min(cap(buf), max+1)])
		switch {
		case err == unix.EAGAIN:
			if err := c.wait(unix.POLLIN); err != nil {
				return nil, err
			}
			continue
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, err
		case n == 0:
			return nil, errors.New("spool: the engine hung up without a complete answer")
		}
		if i := bytes.IndexByte(buf[len(buf):len(buf)+n], '\n'); i >= 0 {
			return buf[:len(buf)+i], nil
		}
		if buf = buf[:len(buf)+n]; len(buf) > max {
			return nil, fmt.Errorf("spool: answer longer than %d bytes", max)
		}
	}
}

// answer reads the engine's one-line answer by c's deadline, and closes
// c.
func (c *WakeConn) answer() WakeResult {
	r, _ := c.answerLine()
	return r
}

// answerLine is answer, also returning the answer's line when it was
// not "claimed".
func (c *WakeConn) answerLine() (WakeResult, string) {
	defer c.Close()
	var buf [256]byte // "no: " and a reason of at most 200 bytes (oneLine)
	n := 0
	for {
		m, err := unix.Read(c.fd, buf[n:])
		switch {
		case err == unix.EAGAIN:
			if err := c.wait(unix.POLLIN); err != nil {
				return wakeFailed(err), ""
			}
			continue
		case err == unix.EINTR:
			continue
		case err != nil || m == 0:
			return WakeDeclined, "" // hung up (or failed) before answering
		}
		n += m
		for _, b := range buf[:n] {
			if b == '\n' {
				if string(buf[:n]) == "claimed\n" {
					return WakeClaimed, ""
				}
				return WakeDeclined, string(buf[:n])
			}
		}
		if n == len(buf) {
			return WakeDeclined, "" // no answer this long is "claimed"
		}
	}
}

// WakeOn offers entry id over conn (from DialWake) with a v1 request,
// waits until deadline for the answer, and closes conn.
func WakeOn(conn *WakeConn, id string, deadline time.Time) WakeResult {
	conn.SetDeadline(deadline)
	if err := conn.send([]byte(id + "\n")); err != nil {
		conn.Close()
		return wakeFailed(err)
	}
	return conn.answer()
}

func wakeFailed(err error) WakeResult {
	if err == errWakeTimeout {
		return WakeTimedOut
	}
	return WakeDeclined
}

// offerLine is the request offering e: v3, or v1 when v3's line would be
// longer than offerLineMax or a path is not UTF-8.
func offerLine(e *Entry) []byte {
	line := make([]byte, 0, len(e.ID)+len(e.Policy)+len(e.StatePath)+16)
	line = append(line, e.ID...)
	line = append(line, ' ')
	line = strconv.AppendQuote(line, e.Policy)
	line = append(line, ' ')
	line = strconv.AppendQuote(line, e.StatePath)
	line = append(line, ' ')
	line = strconv.AppendInt(line, int64(e.V), 10)
	line = append(line, '\n')
	if len(line) > offerLineMax || !utf8.ValidString(e.Policy) || !utf8.ValidString(e.StatePath) {
		// Too long; or a path the entry, in JSON, cannot record as it
		// is: the engine must read the entry to see what it is for.
		return []byte(e.ID + "\n")
	}
	return line
}

// PutWake is Put with the wake-up over conn (from DialWake) overlapped
// with new/'s fsync: the file is written, fsync'd and renamed into new/
// as Put does; then the v3 request is sent, new/ fsync'd while the
// engine handles it, and its answer read (waiting at most bound from
// the request). Only a nil error means the entry is on disk, as for
// Put; conn is closed.
//
// Sending before new/'s fsync is safe: the engine claims by a rename,
// atomic whether or not new/ was fsync'd yet, so the entry is in exactly
// one of new/ and claimed/; PutWake still returns (and the drop still
// exits 0) only after the fsync of new/. A failed fsync is an error even
// when the engine claimed the entry: the drop then reports a failure
// for an entry the engine decides once, as a later claimer would have
// after Put's failed fsync.
func (s *Spool) PutWake(e *Entry, conn *WakeConn, bound time.Duration) (WakeResult, error) {
	var (
		sent error
		line []byte
	)
	err := s.put(e, s.new, "", true, func() {
		// The bound counts from here: the engine has not been asked yet.
		conn.SetDeadline(time.Now().Add(bound))
		line = offerLine(e)
		sent = conn.send(line)
		s.told("offer")
	})
	var notDurable error
	if errors.Is(err, ErrNotDurable) {
		// Only new/'s fsync failed: the entry is in new/, and the engine,
		// if it was asked, may be claiming it. "Not spooled" would have
		// the caller decide it again beside the engine (a second page);
		// instead the answer says who has it, and ErrNotDurable says the
		// write was not made durable.
		notDurable, err = err, nil
	}
	if err != nil || sent != nil {
		conn.Close()
		if err == nil {
			err = notDurable
		}
		return wakeFailed(sent), err
	}
	deadline := conn.deadline
	r, answer := conn.answerLine()
	if (answer == v1Refusal || answer == v1RefusalLong || answer == v2Refusal) && len(line) > len(e.ID)+1 {
		// An engine from before v3 (one started before an upgrade):
		// asked again in v1, which every engine answers, within the same
		// bound.
		if conn, r = DialWake(s.Path, deadline); conn != nil {
			r = WakeOn(conn, e.ID, deadline)
		}
	}
	s.told("answer")
	return r, notDurable
}

// ErrNotDurable is wrapped by Put's and PutWake's error when the entry
// was written into new/ but new/'s fsync failed: the entry is in new/ (or
// the engine's), not certainly on disk. The caller must not report
// success, nor decide it beside new/: it decides it only once it has
// claimed it (drop.Put), or leaves it to whoever claims it.
var ErrNotDurable = errors.New("spool entry offered but not made durable")

// How an engine that reads only v1 requests answers a v2 or v3 one (its
// id would have to be the whole line, which is longer than an id), and
// how one that reads v2 answers v3 (a line with more than two paths).
const (
	v1Refusal     = "no: not a spool id\n"
	v1RefusalLong = "no: not an id line\n"
	v2Refusal     = "no: malformed wake-up line\n"
)

// ClaimUnlessWoken claims entry id for owner unless the engine took it:
// r is how the caller's wake-up went (DialWake, WakeOn, PutWake). A nil
// Claimed with a nil error means another claimer has it (the engine, or
// a flush that got there first): either way it is decided once, not
// here. After a timeout the two claims race, and that is safe: the
// engine claims by the same rename, so exactly one succeeds; if the
// engine claimed it after the bound, this rename fails with ENOENT
// (ErrTaken) and the engine has it.
func (s *Spool) ClaimUnlessWoken(r WakeResult, id, owner string) (*Claimed, WakeResult, error) {
	if r == WakeClaimed {
		return nil, r, nil
	}
	c, err := s.Claim(id, owner)
	if errors.Is(err, ErrTaken) {
		return nil, r, nil
	}
	return c, r, err
}
