package spool

import (
	"bufio"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeEngine answers each connection on dir's wake-up socket with the
// next of answers ("" hangs up without answering, "-" never answers
// until the test ends) and sends the request lines it read on lines.
func fakeEngine(t *testing.T, dir string, answers ...string) <-chan string {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, len(answers))
	done := make(chan struct{})
	go func() {
		for _, a := range answers {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			lines <- line
			switch a {
			case "-":
				<-done
			case "":
			default:
				c.Write([]byte(a))
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { close(done); l.Close() })
	return lines
}

// PutWake keeps Put's durability order and overlaps only new/'s fsync
// with the engine: the v3 request goes out once the entry is in new/,
// and PutWake returns (the drop exits) only after new/'s fsync and the
// answer.
func TestPutWakeOrder(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	lines := fakeEngine(t, dir, "claimed\n")
	var steps []string
	s.step = func(step string) { steps = append(steps, step) }
	conn, r := DialWake(dir, time.Now().Add(time.Minute))
	if conn == nil {
		t.Fatalf("DialWake: %v", r)
	}
	e := testEntry(1)
	r, err := s.PutWake(&e, conn, time.Minute)
	if err != nil || r != WakeClaimed {
		t.Fatalf("PutWake: %v, %v", r, err)
	}
	want := []string{"create", "write", "fsync file", "rename", "offer", "fsync new", "answer"}
	if !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q", steps, want)
	}
	if line, want := <-lines, v3Line(&e); line != want {
		t.Errorf("request %q, want %q", line, want)
	}
	if got := names(t, filepath.Join(dir, NewDir)); !slices.Equal(got, []string{e.ID}) {
		t.Errorf("new/ %q", got) // the fake engine claims nothing
	}
}

// The v3 request quotes what needs it, writes "" for no state path, and
// falls back to v1 when it would be too long or a path is not UTF-8.
func TestOfferLine(t *testing.T) {
	e := testEntry(1)
	e.ID, e.Policy, e.StatePath, e.V = "01796443860123456789-3462-f6e9217c", "/etc/my \"policy\"\n.yaml", "", Version
	if got, want := string(offerLine(&e)), e.ID+` "/etc/my \"policy\"\n.yaml" "" `+strconv.Itoa(Version)+"\n"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	e.Policy = "/" + strings.Repeat("p", offerLineMax)
	if got := string(offerLine(&e)); got != e.ID+"\n" {
		t.Errorf("long policy: %.80q, want the v1 line", got)
	}
	for _, e.Policy = range []string{"/etc/p\xff.yaml", "/etc/\xed\xa0\x80.yaml"} {
		if got := string(offerLine(&e)); got != e.ID+"\n" {
			t.Errorf("policy %q: %q, want the v1 line (the entry cannot record it as it is)", e.Policy, got)
		}
	}
}

// An engine that reads only v1 refuses the v3 line as not an id, and
// one that reads v2 as malformed; the drop asks it again in v1 within
// the same bound.
func TestPutWakeV1Engine(t *testing.T) {
	for _, refusal := range []string{v1Refusal, v1RefusalLong, v2Refusal} {
		dir := t.TempDir()
		s := openSpool(t, dir)
		lines := fakeEngine(t, dir, refusal, "claimed\n")
		conn, _ := DialWake(dir, time.Now().Add(time.Minute))
		e := testEntry(1)
		r, err := s.PutWake(&e, conn, time.Minute)
		if err != nil || r != WakeClaimed {
			t.Fatalf("%q: PutWake: %v, %v", refusal, r, err)
		}
		<-lines
		if line := <-lines; line != e.ID+"\n" {
			t.Errorf("%q: second request %q, want v1", refusal, line)
		}
	}
}

// An engine that hangs up, declines, or does not answer in time: the
// entry is on disk in new/ all the same (a nil error), and the result
// says what happened, for the caller to claim it.
func TestPutWakeNotClaimed(t *testing.T) {
	for _, c := range []struct {
		answer string
		want   WakeResult
	}{{"", WakeDeclined}, {"no: declined\n", WakeDeclined}, {"-", WakeTimedOut}, {"claimed but more\n", WakeDeclined}} {
		dir := t.TempDir()
		s := openSpool(t, dir)
		fakeEngine(t, dir, c.answer)
		conn, _ := DialWake(dir, time.Now().Add(time.Minute))
		e := testEntry(1)
		r, err := s.PutWake(&e, conn, 50*time.Millisecond)
		if err != nil || r != c.want {
			t.Errorf("answer %q: %v, %v; want %v", c.answer, r, err, c.want)
		}
		if got := names(t, filepath.Join(dir, NewDir)); !slices.Equal(got, []string{e.ID}) {
			t.Errorf("answer %q: new/ %q", c.answer, got)
		}
	}
}

// A deadline already past is a timeout, not "no engine": the caller
// must not take the drop's short cut (PutClaimed) on it.
func TestDialWakePastDeadline(t *testing.T) {
	dir := t.TempDir()
	fakeEngine(t, dir)
	if c, r := DialWake(dir, time.Now().Add(-time.Second)); c != nil || r != WakeTimedOut {
		t.Errorf("%v, %v", c, r)
	}
	if c, r := DialWake(filepath.Join(dir, "none"), time.Now().Add(time.Minute)); c != nil || r != WakeNoEngine {
		t.Errorf("no socket: %v, %v", c, r)
	}
}
