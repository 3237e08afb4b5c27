package spool

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// serve runs the engine side of the wake-up socket on s until the test
// ends; what it claims arrives on the returned channel.
func serve(t *testing.T, s *Spool, owner string) <-chan *Claimed {
	return serveOnly(t, s, owner, "/etc/notifier/policy.yaml")
}

// serveOnly is serve for an engine that accepts the entries of one
// policy only.
func serveOnly(t *testing.T, s *Spool, owner, policy string) <-chan *Claimed {
	t.Helper()
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *Claimed, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- s.Serve(ctx, l, owner, func(c *Claimed) bool {
			if c.Entry.Policy != policy {
				return false
			}
			ch <- c
			return true
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ch
}

// hungServer accepts connections and never answers (an engine stopped
// with SIGSTOP after accepting); each received id line, read only when
// the test asks, arrives on the channel.
func hungServer(t *testing.T, dir string) <-chan net.Conn {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return conns
}

// The engine claims a woken entry and says so; the drop then has
// nothing to do.
func TestWakeEngineClaims(t *testing.T) {
	dir := t.TempDir()
	engine, drop := openSpool(t, dir), openSpool(t, dir)
	claimed := serve(t, engine, "host/1/engine")
	e := put(t, drop, 1)
	c, r, err := drop.HandOff(e.ID, "host/2/drop", time.Minute)
	if err != nil || c != nil || r != WakeClaimed {
		t.Fatalf("HandOff: %+v, %v, %v; want the engine's", c, r, err)
	}
	got := <-claimed
	if got.Entry.ID != e.ID || got.Owner != "host/1/engine" || got.Entry.Event.Key != e.Event.Key {
		t.Errorf("engine claimed %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, ClaimedDir, got.Name)); err != nil {
		t.Error(err)
	}
}

// With no engine the drop hears so at once (the bound is an hour: a
// wait would hang the test) and claims the entry itself.
func TestWakeNoEngine(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	e := put(t, s, 1)
	if r := Wake(dir, e.ID, time.Hour); r != WakeNoEngine {
		t.Errorf("no socket: %v", r)
	}
	// A stale socket: the file is there, nobody listens.
	l, err := net.Listen("unix", filepath.Join(dir, WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	c, r, err := s.HandOff(e.ID, "host/2/drop", time.Hour)
	if err != nil || r != WakeNoEngine || c == nil || c.Entry.ID != e.ID {
		t.Fatalf("stale socket: %+v, %v, %v", c, r, err)
	}
	// An engine may start on the stale socket.
	serve(t, s, "host/1/engine")
}

// An engine that accepts and never answers: the drop gives up at the
// bound and claims the entry itself.
func TestWakeHungEngine(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	hungServer(t, dir)
	e := put(t, s, 1)
	c, r, err := s.HandOff(e.ID, "host/2/drop", 50*time.Millisecond)
	if err != nil || r != WakeTimedOut || c == nil || c.Entry.ID != e.ID || c.Owner != "host/2/drop" {
		t.Fatalf("HandOff: %+v, %v, %v", c, r, err)
	}
}

// After the drop's timeout, the drop and a late engine race to claim by
// the same rename: whichever order, exactly one of them has the entry,
// and HandOff's nil Claimed means the engine's.
func TestWakeTimeoutRace(t *testing.T) {
	dir := t.TempDir()
	drop, engine := openSpool(t, dir), openSpool(t, dir)
	conns := hungServer(t, dir)

	// The engine late but first: the drop's own claim finds nothing.
	e := put(t, drop, 1)
	if r := Wake(dir, e.ID, 10*time.Millisecond); r != WakeTimedOut {
		t.Fatalf("wake: %v", r)
	}
	if _, err := engine.Claim(readID(t, <-conns), "host/1/engine"); err != nil {
		t.Fatal(err)
	}
	if _, err := drop.Claim(e.ID, "host/2/drop"); err != ErrTaken {
		t.Fatalf("drop's claim after the engine's: %v, want ErrTaken", err)
	}

	// Truly concurrent, many times: exactly one claimer each time.
	for i := range 50 {
		e := put(t, drop, i)
		var (
			engineGot bool
			conn      net.Conn
			wg        sync.WaitGroup
		)
		handedOff := make(chan struct{})
		wg.Go(func() {
			select {
			case conn = <-conns:
			case <-handedOff:
				// The drop gave up before it connected (its bound ran out
				// in the dial, on a loaded machine): nothing to claim.
				select {
				case conn = <-conns:
				default:
					return
				}
			}
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				return // the drop's bound ran out before it sent the id
			}
			_, err = engine.Claim(strings.TrimSuffix(line, "\n"), "host/1/engine")
			engineGot = err == nil
			if err != nil && err != ErrTaken {
				t.Error(err)
			}
		})
		c, r, err := drop.HandOff(e.ID, "host/2/drop", time.Duration(i%5+1)*time.Millisecond)
		close(handedOff)
		wg.Wait()
		if conn != nil {
			conn.Close() // only now: the drop must see a hung engine, not a hang-up
		}
		if err != nil || r != WakeTimedOut {
			t.Fatalf("HandOff: %v, %v", r, err)
		}
		if (c != nil) == engineGot {
			t.Fatalf("round %d: drop claimed %v, engine claimed %v: want exactly one", i, c != nil, engineGot)
		}
	}
}

// readID reads the id line a drop sent to the hung server.
func readID(t *testing.T, c net.Conn) string {
	t.Helper()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(line, "\n")
}

// The socket accepts nothing but a spool id: paths, long lines and ids
// that are not in new/ are answered "no", and nothing is claimed.
func TestWakeRefusesBogusIDs(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	claimed := serve(t, s, "host/1/engine")
	e := put(t, s, 1)
	for _, line := range []string{
		"../new/" + e.ID + "\n",
		e.ID + "/../../x\n",
		"..\n",
		"/etc/shadow\n",
		strings.Repeat("0", 5000) + "\n",
		e.ID + "0\n",
		NewID(time.Now()) + "\n", // valid, not in new/
		e.ID,                     // no newline: the connection ends
	} {
		c, err := net.Dial("unix", filepath.Join(dir, WakeSocket))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(line))
		if !strings.HasSuffix(line, "\n") {
			c.(*net.UnixConn).CloseWrite()
		}
		answer, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.HasPrefix(answer, "no") {
			t.Errorf("%.40q: answered %q", line, answer)
		}
	}
	if ids, err := s.List(); err != nil || len(ids) != 1 || ids[0] != e.ID {
		t.Errorf("new/ holds %q, %v; want only %s", ids, err, e.ID)
	}
	select {
	case c := <-claimed:
		t.Errorf("engine claimed %s", c.Name)
	default:
	}
}

// An entry for a policy the engine does not serve is put back, and the
// drop claims it itself.
func TestWakeEngineDeclines(t *testing.T) {
	dir := t.TempDir()
	engine, drop := openSpool(t, dir), openSpool(t, dir)
	claimed := serveOnly(t, engine, "host/1/engine", "/etc/notifier/other.yaml")
	e := put(t, drop, 1)
	c, r, err := drop.HandOff(e.ID, "host/2/drop", time.Minute)
	if err != nil || r != WakeDeclined || c == nil || c.Entry.ID != e.ID || c.Owner != "host/2/drop" {
		t.Fatalf("HandOff: %+v, %v, %v; want the drop's", c, r, err)
	}
	select {
	case c := <-claimed:
		t.Errorf("engine took %s", c.Name)
	default:
	}
}

// With ServeOptions.Wants, an entry the engine does not want is answered
// "no" and left in new/ untouched — never claimed and released — and so
// is one the engine cannot read (a newer drop's): its drop decides it.
func TestWakeWantsLooksBeforeClaiming(t *testing.T) {
	s := openSpool(t, t.TempDir())
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	var accepted atomic.Int32
	go func() {
		done <- s.ServeWith(ctx, l, "host/1/engine", func(*Claimed) bool { accepted.Add(1); return true },
			ServeOptions{Wants: func(policy, statePath string) (bool, string) {
				return policy == "/etc/notifier/policy.yaml", "not mine\nat all"
			}})
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	defer stop()
	mine, other := testEntry(1), testEntry(2)
	other.Policy = "/etc/notifier/other.yaml"
	for _, e := range []*Entry{&mine, &other} {
		if err := s.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	if r := Wake(s.Path, other.ID, time.Minute); r != WakeDeclined {
		t.Errorf("unwanted: %v, want declined", r)
	}
	if ids, _ := s.List(); len(ids) != 2 {
		t.Errorf("new/ holds %v after the decline, want both", ids)
	}
	if r := Wake(s.Path, mine.ID, time.Minute); r != WakeClaimed {
		t.Errorf("wanted: %v, want claimed", r)
	}
	// An entry it cannot read stays for its drop, not in bad/.
	bad := testEntry(3)
	if err := s.Put(&bad); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.Path, NewDir, bad.ID), []byte(`{"v":99}`), 0o640)
	if r := Wake(s.Path, bad.ID, time.Minute); r != WakeDeclined {
		t.Errorf("unreadable: %v, want declined", r)
	}
	if st, _ := s.Stats(); st.Bad != 0 || st.New != 2 {
		t.Errorf("spool %+v, want the unreadable entry still in new/", st)
	}
	stop() // Serve returns after every connection is finished: accept has run
	if n := accepted.Load(); n != 1 {
		t.Errorf("accept called %d times, want 1", n)
	}
}

// TestOneLineCutsWholeCharacters: a reason cut to its bound is still
// valid UTF-8, whatever the byte at the bound.
func TestOneLineCutsWholeCharacters(t *testing.T) {
	for pad := 0; pad < 4; pad++ {
		in := strings.Repeat("a", pad) + strings.Repeat("é€😀\n", 80)
		got := oneLine(in)
		if !utf8.ValidString(got) || len(got) > 200 || strings.ContainsRune(got, '\n') {
			t.Errorf("pad %d: oneLine gave %d bytes, valid UTF-8 %v: %q", pad, len(got), utf8.ValidString(got), got)
		}
	}
}

// HandOff offers entry id to the engine (Wake, waiting at most bound)
// and, unless the engine claimed it, claims it for owner: a v1 drop, as
// the wake-up tests drive one (drops use PutWake and ClaimUnlessWoken).
func (s *Spool) HandOff(id, owner string, bound time.Duration) (*Claimed, WakeResult, error) {
	return s.ClaimUnlessWoken(Wake(s.Path, id, bound), id, owner)
}
