package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// WakeSocket is the engine's wake-up socket, in the spool directory.
//
// The protocol, over one stream connection per entry: the drop sends
// the entry's id and a newline (v1); or the id, its entry's policy and
// state path, both strconv.Quote'd, separated by spaces (v2); or those
// and the entry's format version (v3), each line at most maxRequestLine
// bytes. The engine answers one line, "claimed" or "no: " and a reason
// (the entry then untouched, or back, in new/ for the drop):
//
//   - v1 and v2: it claims new/<id> (its rename) and reads it, and only
//     then answers "claimed", once it has the entry queued;
//   - v3: the line says all the engine needs to know that it can take
//     the entry (its policy and state path, a format it reads), so the
//     answer "claimed" comes first, while the drop fsyncs new/, and the
//     claim (once the drop hangs up) and the read follow. An entry the
//     engine then cannot take after all is never lost: taken by another
//     claimer, it is theirs; unreadable now, not what its line said or
//     declined, it goes back to new/, for the engine's scan or a flush
//     (which move to bad/ what they cannot read, where `notifier status`
//     reports it); where even that fails, to bad/ (ServeOptions.Lost,
//     Mismatch).
//
// The engine reads nothing but an id (ValidID: digits, dashes and hex,
// bounded length, so no slash and no "..") and opens nothing but that
// entry of its own spool, so no client can make it read another file;
// the paths of a v2 or v3 line are only compared, never opened.
const WakeSocket = "wake.sock"

// DefaultWakeBound is how long a drop waits for the engine's answer by
// default: well under a second (an engine that is down, hung or
// stopped may delay no event by more than about that).
const DefaultWakeBound = 300 * time.Millisecond

// serverReadBound is how long the engine waits for a client's id: a
// client that connects and sends nothing holds a goroutine no longer.
const serverReadBound = 2 * time.Second

// WakeResult is how a wake-up went.
type WakeResult int

// The results of Wake.
const (
	// WakeClaimed: the engine claimed the entry; it is the engine's.
	WakeClaimed WakeResult = iota
	// WakeNoEngine: nothing listens on the socket (no socket file, or the
	// connection refused or impossible): answered at once, no waiting.
	WakeNoEngine
	// WakeDeclined: the engine answered but did not take the entry
	// (someone else had it, it was bad, or its policy is not one the
	// engine serves: then it is back in new/) or hung up.
	WakeDeclined
	// WakeTimedOut: the engine did not answer within the bound (hung,
	// stopped): the caller claims the entry itself.
	WakeTimedOut
)

// String says what the result means, for messages.
func (r WakeResult) String() string {
	switch r {
	case WakeClaimed:
		return "claimed by the engine"
	case WakeNoEngine:
		return "no engine listening"
	case WakeDeclined:
		return "declined by the engine"
	case WakeTimedOut:
		return "the engine did not answer in time"
	}
	return fmt.Sprintf("WakeResult(%d)", int(r))
}

// Conn is one connection to the wake-up socket, the engine's side: a
// net.Conn. Listener is the socket the engine accepts them on: a
// net.Listener whose Accept returns a Conn (engine/spool/spoolnet makes
// and wraps them). This package names neither net type, so that
// notifier-drop, which is only ever a client, links no package net.
type (
	Conn interface {
		io.ReadWriteCloser
		SetDeadline(time.Time) error
	}
	Listener interface {
		Accept() (Conn, error)
		Close() error
	}
)

// ListenerOf makes l a Listener: a listener whose Accept returns some
// Conn type C (a net.Listener: C is net.Conn).
func ListenerOf[C Conn](l interface {
	Accept() (C, error)
	Close() error
}) Listener {
	return listenerOf[C]{l}
}

type listenerOf[C Conn] struct {
	l interface {
		Accept() (C, error)
		Close() error
	}
}

func (a listenerOf[C]) Accept() (Conn, error) {
	c, err := a.l.Accept()
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (a listenerOf[C]) Close() error { return a.l.Close() }

// ListenWith makes the wake-up socket in the spool with listen (which
// binds a unix socket at path: spoolnet.Listen's net.Listen), replacing
// a stale one (nothing answering on it) but never one an engine answers
// on. The socket is made group-writable (0660) by the umask as it is
// bound, not by a chmod of its path after: the spool is writable by the
// haclient group, and a chmod would follow a link put in its place in
// between.
func (s *Spool) ListenWith(listen func(path string) (Listener, error)) (Listener, error) {
	path, err := s.clearSocket()
	if err != nil {
		return nil, err
	}
	old := syscall.Umask(0o117)
	l, err := listen(path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return l, nil
}

// clearSocket makes way for the engine's wake-up socket in the spool:
// it removes a stale one (nothing answering on it) but never one an
// engine answers on, and returns the path to listen on.
func (s *Spool) clearSocket() (string, error) {
	path := filepath.Join(s.Path, WakeSocket)
	if c, _ := DialWake(s.Path, time.Now().Add(time.Second)); c != nil {
		c.Close()
		return "", fmt.Errorf("spool: an engine already listens on %s", path)
	}
	if err := s.root.Remove(WakeSocket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("spool: removing the stale wake-up socket: %w", err)
	}
	return path, nil
}

// Serve answers wake-ups on l until ctx ends: for each valid id it
// claims the entry for owner and asks accept whether the engine takes it
// (an engine serves only the policies it was started with: an entry for
// any other is declined). Accepted, the answer is "claimed" and the entry
// is the engine's; declined, the entry is put back into new/ (Release)
// before the answer "no", so the drop claims it itself. accept runs in
// the connection's goroutine while the drop waits: it must only look at
// the entry and queue it. Serve returns when ctx ends (nil) or accepting
// fails, after every connection is finished; l is closed. A status
// request is answered "no: unsupported" (ServeWith answers it).
func (s *Spool) Serve(ctx context.Context, l Listener, owner string, accept func(*Claimed) bool) error {
	return s.serve(ctx, l, owner, accept, ServeOptions{})
}

func (s *Spool) serve(ctx context.Context, l Listener, owner string, accept func(*Claimed) bool, opts ServeOptions) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if timeout(err) {
				continue
			}
			l.Close()
			return fmt.Errorf("spool: accepting wake-ups: %w", err)
		}
		wg.Go(func() {
			defer conn.Close()
			s.answer(conn, owner, accept, opts)
		})
	}
}

// maxRequestLine bounds a wake-up line, its newline not counted: an id,
// a policy path and a state path, quoted (a drop whose line would be
// longer sends the id alone).
const maxRequestLine = 16 << 10

// request is one wake-up line: an id alone (protocol v1), or an id with
// the policy and state path of its entry (v2, known set), and its
// entry's format version (v3, version > 0).
type request struct {
	id                string
	policy, statePath string
	known             bool
	version           int
}

// maxVersionDigits bounds a v3 line's version field.
const maxVersionDigits = 4

// parseRequest reads a wake-up line without its newline: `<id>`, or
// `<id> <policy> <statepath>` with both paths strconv.Quote'd (statepath
// "" when the entry has none), optionally followed by ` <version>`, the
// entry's format version in decimal. Anything else is an error.
func parseRequest(line []byte) (request, error) {
	id, rest, v2 := strings.Cut(string(line), " ")
	if !ValidID(id) {
		return request{}, errors.New("not a spool id")
	}
	if !v2 {
		return request{id: id}, nil
	}
	malformed := errors.New("malformed wake-up line")
	policy, rest, err := unquotePrefix(rest)
	if err != nil || !strings.HasPrefix(rest, " ") {
		return request{}, malformed
	}
	statePath, rest, err := unquotePrefix(rest[1:])
	if err != nil {
		return request{}, malformed
	}
	req := request{id: id, policy: policy, statePath: statePath, known: true}
	if rest == "" {
		return req, nil
	}
	v, ok := strings.CutPrefix(rest, " ")
	if !ok || v == "" || len(v) > maxVersionDigits || v[0] == '0' || strings.Trim(v, "0123456789") != "" {
		return request{}, malformed
	}
	req.version, _ = strconv.Atoi(v)
	return req, nil
}

// unquotePrefix unquotes the double-quoted Go string s starts with and
// returns the rest.
func unquotePrefix(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", errors.New("not a quoted string")
	}
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	u, err := strconv.Unquote(q)
	return u, s[len(q):], err
}

// readRequest reads one line of at most maxRequestLine bytes and its
// newline, which it drops; bytes after the newline are ignored. A drop
// sends its line in one write, so this is one read, into a buffer
// sized for the usual line and grown only for a longer one.
func readRequest(conn Conn) ([]byte, error) {
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxRequestLine {
				return nil, errors.New("wake-up line too long")
			}
			buf = slices.Grow(buf, min(2*cap(buf), maxRequestLine+1)-len(buf))
		}
		end := min(cap(buf), maxRequestLine+1)
		n, err := conn.Read(buf[len(buf):end])
		if i := bytes.IndexByte(buf[len(buf):len(buf)+n], '\n'); i >= 0 {
			return buf[:len(buf)+i], nil
		}
		buf = buf[:len(buf)+n]
		if err != nil {
			return nil, err
		}
		if len(buf) > maxRequestLine {
			return nil, errors.New("wake-up line too long")
		}
	}
}

// answer reads one wake-up line from conn, claims and reads its entry,
// lets accept decide and answers; or reads the status request and
// answers it.
func (s *Spool) answer(conn Conn, owner string, accept func(*Claimed) bool, opts ServeOptions) {
	conn.SetDeadline(time.Now().Add(serverReadBound))
	line, err := readRequest(conn)
	if err != nil {
		conn.Write([]byte("no: not an id line\n"))
		return
	}
	if string(line) == statusRequest {
		answerStatus(conn, opts.Status)
		return
	}
	req, err := parseRequest(line)
	if err != nil {
		conn.Write([]byte("no: " + err.Error() + "\n"))
		return
	}
	if req.version != 0 && req.version != Version {
		// Another drop's format (DecodeEntry reads only Version): left
		// untouched for that drop to decide.
		conn.Write([]byte("no: entry format " + strconv.Itoa(req.version) + ", this engine reads " + strconv.Itoa(Version) + "\n"))
		return
	}
	if opts.Wants != nil {
		if !req.known {
			// A v1 line: the entry says what it is for. One it cannot
			// read (perhaps a newer drop's) is left for its drop.
			e, err := s.Peek(req.id)
			if refused(conn, err) {
				return
			}
			req.policy, req.statePath, req.known = e.Policy, e.StatePath, true
		}
		if ok, reason := opts.Wants(req.policy, req.statePath); !ok {
			conn.Write([]byte("no: " + oneLine(reason) + "\n"))
			return
		}
	}
	if req.version > 0 && opts.Wants != nil && utf8.ValidString(req.policy) && utf8.ValidString(req.statePath) {
		// Wants has taken it from the line, which says all that decides
		// (the entry records its paths as JSON, which cannot hold a path
		// that is not UTF-8: such a line is answered after the read, as
		// v2, which then finds the mismatch while the drop waits).
		s.answerFirst(conn, req, owner, accept, opts)
		return
	}
	// The rename is the claim. The entry is read once, after it (a v2
	// line said what it is for, so no Peek first), and the answer waits
	// until the engine has it queued: "claimed" is never said of an
	// entry the engine could still fail to read or decline. Unreadable
	// here (perhaps a newer drop's, whose format this engine does not
	// know) or not what its line said (a lying client, or a path the
	// entry's encoding changed), it goes back to new/ and the answer is
	// "no": the drop, still waiting, claims and decides it itself, as it
	// does when a v1 line's Peek fails.
	name, err := s.rename(req.id, owner)
	if refused(conn, err) {
		return
	}
	if opts.Claiming != nil {
		defer opts.Claiming(req.id)()
	}
	c, err := s.read(req.id, name, owner)
	if err != nil {
		if rerr := s.release(name, req.id); rerr != nil {
			// Not back in new/: as a claim that cannot be read, to bad/
			// (the drop's own claim then finds it taken; bad/ makes
			// `notifier status` unhealthy).
			s.toBad(s.claimed, name, fmt.Errorf("%v; and putting it back in new/ failed: %v", err, rerr))
		}
		conn.Write([]byte("no: unusable\n"))
		return
	}
	if req.known && (c.Entry.Policy != req.policy || c.Entry.StatePath != req.statePath) {
		released := s.Release(c) == nil
		if opts.Mismatch != nil {
			opts.Mismatch(req.id, mismatchWhy(req, c), released)
		}
		conn.Write([]byte("no: the entry is not what its wake-up line said\n"))
		return
	}
	switch {
	case accept(c):
		conn.Write([]byte("claimed\n"))
	case s.Release(c) != nil:
		// Left in claimed/ under a live owner: the drop's claim fails and
		// the entry waits for the next engine's Takeover.
		conn.Write([]byte("no: declined, not released\n"))
	default:
		conn.Write([]byte("no: declined\n"))
	}
}

// answerFirst takes the entry of a v3 line, which Wants has taken:
// "claimed" is answered before the claim, while the drop fsyncs new/;
// once the drop has hung up (awaitHangUp) the entry is claimed,
// read once and handed to accept. Nobody waits for what follows, so an
// entry that cannot be taken after all is told to opts.Lost (or, not
// what its line said, to opts.Mismatch), with where it is: back in new/
// (unreadable now, declined by accept, not its line's), or in bad/ (not
// even that worked). One another claimer renamed first (a flush) is
// theirs, decided once, and not told. Claiming is told before the
// answer, so a newer entry of the key answered meanwhile waits for this
// one (receipt order).
func (s *Spool) answerFirst(conn Conn, req request, owner string, accept func(*Claimed) bool, opts ServeOptions) {
	if opts.Claiming != nil {
		defer opts.Claiming(req.id)()
	}
	conn.Write([]byte("claimed\n"))
	awaitHangUp(conn)
	lost := func(err error) {
		if opts.Lost != nil {
			opts.Lost(req.id, err)
		}
	}
	name, err := s.rename(req.id, owner)
	switch {
	case errors.Is(err, ErrTaken):
		return
	case err != nil:
		lost(fmt.Errorf("%w; it stays in new/ for a flush", err))
		return
	}
	c, err := s.read(req.id, name, owner)
	if err != nil {
		// Perhaps passing (out of descriptors, an I/O error): back into
		// new/, for the engine's scan, which moves to bad/ what it
		// cannot read; where even that fails, to bad/ now.
		if rerr := s.release(name, req.id); rerr != nil {
			lost(s.toBad(s.claimed, name, fmt.Errorf("%v; and putting it back in new/ failed: %v", err, rerr)))
			return
		}
		lost(fmt.Errorf("reading it: %w; put back into new/ for the engine's scan", err))
		return
	}
	if c.Entry.Policy != req.policy || c.Entry.StatePath != req.statePath {
		released := s.Release(c) == nil
		if opts.Mismatch != nil {
			opts.Mismatch(req.id, mismatchWhy(req, c), released)
		}
		return
	}
	if !accept(c) {
		if err := s.Release(c); err != nil {
			lost(fmt.Errorf("declined after the answer, and %w: it waits in claimed/ for the next engine", err))
			return
		}
		lost(errors.New("declined after the answer (stopping?): put back into new/ for the next engine or a flush"))
	}
}

// hangUpBound is how long the engine waits, after answering a v3 line,
// for its drop to hang up before it claims the entry (awaitHangUp): a
// drop hangs up after one fsync, a millisecond or two; one stopped
// (SIGSTOP) holds its entry, and the newer entries a receipt-ordered
// engine keeps behind it (engine/serve), no longer than this: well
// under the engine's stall rule (250 ms), so that such a drop never
// makes it answer busy. A drop slower than this is claimed from all
// the same (safe: the claim is the same atomic rename).
const hangUpBound = 100 * time.Millisecond

// awaitHangUp waits, at most hangUpBound, for the drop to close conn: it
// does once its fsync of new/ is done and it has read the answer, so the
// engine's claim (a rename in new/) and its decision's writes do not
// compete with that fsync, which the invocation's caller waits for; and
// the entry is renamed only once its place in new/ is on disk. A drop
// killed meanwhile has hung up; one stopped (SIGSTOP) is waited for no
// longer than the bound.
func awaitHangUp(conn Conn) {
	conn.SetDeadline(time.Now().Add(hangUpBound))
	var b [1]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			return
		}
	}
}

// mismatchWhy says how an entry differs from its wake-up line.
func mismatchWhy(req request, c *Claimed) string {
	return fmt.Sprintf("the wake-up line said policy %.200q, state path %.200q; the entry has %.200q, %.200q",
		req.policy, req.statePath, c.Entry.Policy, c.Entry.StatePath)
}

// refused answers a failed Peek or Claim "no", saying why, and reports
// whether it did.
func refused(conn Conn, err error) bool {
	switch {
	case errors.Is(err, ErrTaken):
		conn.Write([]byte("no: taken\n"))
	case err != nil:
		conn.Write([]byte("no: unusable\n"))
	default:
		return false
	}
	return true
}

// timeout reports whether err is a deadline's (net.Error's Timeout).
func timeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// oneLine keeps a reason to one short line of the protocol.
func oneLine(reason string) string {
	reason = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, reason)
	if len(reason) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut-- // not in the middle of a character: the line stays valid UTF-8
		}
		reason = reason[:cut]
	}
	return reason
}
