package spool

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// v3Line is a drop's protocol v3 wake-up line for entry e.
func v3Line(e *Entry) string {
	return strings.TrimSuffix(v2Line(e), "\n") + " " + strconv.Itoa(e.V) + "\n"
}

// lostReport is one call of ServeOptions.Lost.
type lostReport struct {
	id  string
	err error
}

// A v3 line is answered "claimed" before the entry is claimed and read:
// accept, which the engine calls only after its read, is still waiting
// for the test to have the answer when the answer arrives. The entry is
// then claimed, read and handed over as on a v2 line.
func TestWakeV3AnswersFirst(t *testing.T) {
	s := openSpool(t, t.TempDir())
	answered := make(chan struct{})
	got := make(chan *Claimed, 1)
	afterAnswer := make(chan bool, 1)
	serveWith(t, s, func(c *Claimed) bool {
		select {
		case <-answered:
			afterAnswer <- true
		case <-time.After(10 * time.Second):
			afterAnswer <- false // the answer waited for this call: not first
		}
		got <- c
		return true
	}, ServeOptions{Wants: wantsPolicy("/etc/notifier/policy.yaml", "/var/lib/notifier/state.db")})
	e := put(t, s, 1)
	if a := sendLine(t, s.Path, v3Line(&e)); a != "claimed\n" {
		t.Fatalf("answer %q, want claimed", a)
	}
	close(answered)
	if !<-afterAnswer {
		t.Error("the answer came only after accept: not before the claim")
	}
	c := <-got
	if c.Entry.ID != e.ID || c.Owner != "host/1/engine" || c.Entry.Event.Key != e.Event.Key {
		t.Errorf("accepted %+v", c)
	}
	if _, err := os.Stat(filepath.Join(s.Path, ClaimedDir, c.Name)); err != nil {
		t.Error(err)
	}
}

// What Wants refuses, and an entry format newer than the engine reads,
// is answered "no" and left untouched in new/ for its drop: the answer
// comes first only for an entry the engine can take.
func TestWakeV3RefusesFirst(t *testing.T) {
	s := openSpool(t, t.TempDir())
	accepted := make(chan *Claimed, 4)
	serveWith(t, s, func(c *Claimed) bool { accepted <- c; return true },
		ServeOptions{Wants: wantsPolicy("/etc/notifier/policy.yaml", "/var/lib/notifier/state.db")})
	e := put(t, s, 1)
	newer := e
	newer.V = Version + 1
	other := e
	other.Policy = "/etc/notifier/other.yaml"
	for line, want := range map[string]string{
		v3Line(&newer): "no: entry format " + strconv.Itoa(Version+1) + ", this engine reads " + strconv.Itoa(Version) + "\n",
		v3Line(&other): "no: not served\n",
	} {
		if a := sendLine(t, s.Path, line); a != want {
			t.Errorf("%q: answer %q, want %q", line, a, want)
		}
	}
	untouched(t, s, e.ID, accepted)
}

// Malformed version fields are refused before anything is claimed, as
// "malformed" (so that a drop asks again in v1, which always works).
func TestWakeV3Malformed(t *testing.T) {
	s := openSpool(t, t.TempDir())
	serveWith(t, s, func(c *Claimed) bool { t.Errorf("accepted %s", c.Name); return true }, ServeOptions{})
	e := put(t, s, 1)
	v2 := strings.TrimSuffix(v2Line(&e), "\n")
	for _, v := range []string{" 0", " 01", " -1", " +1", " 1x", " 1 ", "  1", " 1 1", " 99999", " \u0661"} {
		if a := sendLine(t, s.Path, v2+v+"\n"); a != v2Refusal {
			t.Errorf("version %q: answered %q", v, a)
		}
	}
	if ids, _ := s.List(); len(ids) != 1 || ids[0] != e.ID {
		t.Errorf("new/ holds %q, want %s untouched", ids, e.ID)
	}
}

// After a v3 answer nobody waits, and an entry the engine cannot take
// after all is never lost: unreadable (here for good; perhaps only
// passing, out of descriptors), it goes back to new/ for the engine's
// scan (which moves to bad/ what it cannot read) and Lost says so; not
// what its line said, back to new/ for a flush, told to Mismatch;
// declined by accept (an engine stopping), back to new/, told to Lost;
// already taken by another claimer (a flush), theirs, and nothing told.
func TestWakeV3AfterTheAnswer(t *testing.T) {
	s := openSpool(t, t.TempDir())
	lost := make(chan lostReport, 4)
	mismatched := make(chan string, 4)
	handed := make(chan string, 8)
	var decline atomic.Value // the id accept declines
	decline.Store("")
	accepted := make(chan string, 4)
	stop := serveWith(t, s, func(c *Claimed) bool {
		accepted <- c.Entry.ID
		return c.Entry.ID != decline.Load()
	}, ServeOptions{
		Wants:    func(string, string) (bool, string) { return true, "" },
		Lost:     func(id string, err error) { lost <- lostReport{id, err} },
		Mismatch: func(id, why string, released bool) { mismatched <- id },
		Claiming: func(id string) func() { return func() { handed <- id } },
	})

	// Unreadable: back to new/.
	bad := put(t, s, 1)
	os.WriteFile(filepath.Join(s.Path, NewDir, bad.ID), []byte(`{"v":1,"nope":true}`), 0o640)
	if a := sendLine(t, s.Path, v3Line(&bad)); a != "claimed\n" {
		t.Fatalf("unreadable: answer %q", a)
	}
	if r := <-lost; r.id != bad.ID || !strings.Contains(r.err.Error(), "put back into new/") {
		t.Errorf("unreadable: lost %s: %v", r.id, r.err)
	}
	<-handed

	// Not what its line said: back to new/.
	lie := put(t, s, 2)
	told := lie
	told.Policy = "/etc/notifier/other.yaml"
	if a := sendLine(t, s.Path, v3Line(&told)); a != "claimed\n" {
		t.Fatalf("mismatch: answer %q", a)
	}
	if id := <-mismatched; id != lie.ID {
		t.Errorf("mismatch told of %s", id)
	}
	<-handed

	// Declined by accept: back to new/.
	declined := put(t, s, 3)
	decline.Store(declined.ID)
	if a := sendLine(t, s.Path, v3Line(&declined)); a != "claimed\n" {
		t.Fatalf("declined: answer %q", a)
	}
	if id := <-accepted; id != declined.ID {
		t.Errorf("accepted %s", id)
	}
	if r := <-lost; r.id != declined.ID || !strings.Contains(r.err.Error(), "declined after the answer") {
		t.Errorf("declined: lost %s: %v", r.id, r.err)
	}
	<-handed

	// Taken by another claimer before the engine's rename.
	taken := put(t, s, 4)
	if _, err := s.Claim(taken.ID, "host/2/flush"); err != nil {
		t.Fatal(err)
	}
	if a := sendLine(t, s.Path, v3Line(&taken)); a != "claimed\n" {
		t.Fatalf("taken: answer %q", a)
	}
	<-handed
	stop()

	select {
	case r := <-lost:
		t.Errorf("also lost: %s: %v", r.id, r.err)
	default:
	}
	ids, _ := s.List()
	if strings.Join(ids, ",") != bad.ID+","+lie.ID+","+declined.ID {
		t.Errorf("new/ holds %q, want %s, %s and %s back", ids, bad.ID, lie.ID, declined.ID)
	}
	if st, _ := s.Stats(); st.Claimed != 1 || st.Bad != 0 {
		t.Errorf("spool %+v, want only the flush's claim", st)
	}
}

// The answer comes first only when Wants has looked at the line, and
// for paths an entry can record: without Wants (accept alone decides),
// or with a path that is not UTF-8 (which the entry's JSON cannot hold
// as it is, so the entry would never match its line), a v3 line is
// answered after the read, as v2: "no" while the drop still waits.
func TestWakeV3AnswersAfterTheReadWhenItMustDecide(t *testing.T) {
	s := openSpool(t, t.TempDir())
	stop := serveWith(t, s, func(c *Claimed) bool { return false }, ServeOptions{})
	e := put(t, s, 1)
	if a := sendLine(t, s.Path, v3Line(&e)); a != "no: declined\n" {
		t.Errorf("without Wants: answer %q, want no: declined", a)
	}
	stop()

	s = openSpool(t, t.TempDir())
	serveWith(t, s, func(c *Claimed) bool { return true },
		ServeOptions{Wants: func(string, string) (bool, string) { return true, "" }})
	e = put(t, s, 2)
	e.Policy = "/etc/notifier/p\xff.yaml" // the file says "p\ufffd.yaml"
	if err := s.Put(&e); err != nil {
		t.Fatal(err)
	}
	if a := sendLine(t, s.Path, v3Line(&e)); a != "no: the entry is not what its wake-up line said\n" {
		t.Errorf("a path not UTF-8: answer %q", a)
	}
	if ids, _ := s.List(); !slices.Contains(ids, e.ID) {
		t.Errorf("new/ holds %q, want %s back for its drop", ids, e.ID)
	}
}

// After answering a v3 line the engine leaves the entry in new/ until
// its drop hangs up (its fsync of new/ done), then claims it; a drop
// that never hangs up (stopped) holds it back only hangUpBound.
func TestWakeV3ClaimsOnceTheDropHangsUp(t *testing.T) {
	s := openSpool(t, t.TempDir())
	got := make(chan string, 2)
	serveWith(t, s, func(c *Claimed) bool { got <- c.Entry.ID; return true },
		ServeOptions{Wants: func(string, string) (bool, string) { return true, "" }})
	for _, hangUp := range []bool{true, false} {
		e := put(t, s, 1)
		c, err := net.Dial("unix", filepath.Join(s.Path, WakeSocket))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(v3Line(&e)))
		if a, _ := bufio.NewReader(c).ReadString('\n'); a != "claimed\n" {
			t.Fatalf("answer %q", a)
		}
		if ids, _ := s.List(); !slices.Contains(ids, e.ID) {
			t.Errorf("hang up %v: claimed before the drop hung up (new/ holds %q)", hangUp, ids)
		}
		if hangUp {
			c.Close()
		}
		select {
		case id := <-got:
			if id != e.ID {
				t.Errorf("hang up %v: accepted %s", hangUp, id)
			}
		case <-time.After(time.Minute):
			t.Fatalf("hang up %v: never claimed", hangUp)
		}
		c.Close()
	}
}
