package spool

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// serveWith runs ServeWith on s until the returned stop is called (or
// the test ends); stop returns once every connection is finished.
func serveWith(t *testing.T, s *Spool, accept func(*Claimed) bool, opts ServeOptions) (stop func()) {
	t.Helper()
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeWith(ctx, l, "host/1/engine", accept, opts) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// v2Line is a drop's protocol v2 wake-up line for entry e.
func v2Line(e *Entry) string {
	return e.ID + " " + strconv.Quote(e.Policy) + " " + strconv.Quote(e.StatePath) + "\n"
}

// sendLine is a tiny wake-up client: it sends line as is and returns the
// answer.
func sendLine(t *testing.T, dir, line string) string {
	t.Helper()
	c, err := net.Dial("unix", filepath.Join(dir, WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(line, "\n") {
		c.(*net.UnixConn).CloseWrite()
	}
	answer, _ := bufio.NewReader(c).ReadString('\n')
	return answer
}

// untouched fails t unless new/ holds entry id alone and accept was
// handed nothing.
func untouched(t *testing.T, s *Spool, id string, accepted <-chan *Claimed) {
	t.Helper()
	if ids, _ := s.List(); len(ids) != 1 || ids[0] != id {
		t.Errorf("new/ holds %q, want %s untouched", ids, id)
	}
	select {
	case c := <-accepted:
		t.Errorf("accepted %s", c.Name)
	default:
	}
}

// wantsPolicy is the Wants of an engine serving one policy and state path.
func wantsPolicy(policy, statePath string) func(string, string) (bool, string) {
	return func(p, sp string) (bool, string) {
		return p == policy && sp == statePath, "not served"
	}
}

// A v2 line names the entry's policy and state path: the engine asks
// Wants with them, without reading the entry first, answers "claimed",
// and hands the entry, read after the answer, to accept.
func TestWakeV2Claims(t *testing.T) {
	s := openSpool(t, t.TempDir())
	got := make(chan *Claimed, 1)
	var asked []string
	serveWith(t, s, func(c *Claimed) bool { got <- c; return true }, ServeOptions{
		Wants: func(p, sp string) (bool, string) {
			asked = append(asked, p, sp)
			return wantsPolicy("/etc/notifier/policy.yaml", "/var/lib/notifier/state.db")(p, sp)
		}})
	e := put(t, s, 1)
	if a := sendLine(t, s.Path, v2Line(&e)); a != "claimed\n" {
		t.Fatalf("answer %q, want claimed", a)
	}
	c := <-got
	if c.Entry.ID != e.ID || c.Owner != "host/1/engine" || c.Entry.Event.Key != e.Event.Key {
		t.Errorf("accepted %+v", c)
	}
	if _, err := os.Stat(filepath.Join(s.Path, ClaimedDir, c.Name)); err != nil {
		t.Error(err)
	}
	if len(asked) != 2 || asked[0] != e.Policy || asked[1] != e.StatePath {
		t.Errorf("Wants asked with %q", asked)
	}

	// An entry without a state path: the line's is "".
	e = testEntry(2)
	e.StatePath = ""
	if err := s.Put(&e); err != nil {
		t.Fatal(err)
	}
	if a := sendLine(t, s.Path, v2Line(&e)); a != "no: not served\n" {
		t.Errorf("other state path: answer %q", a)
	}
	if ids, _ := s.List(); len(ids) != 1 || ids[0] != e.ID {
		t.Errorf("new/ holds %q, want the declined entry untouched", ids)
	}
}

// A v2 line that lies about its entry's policy (or state path): the
// engine claims the entry, reads it, puts it back into new/, reports the
// mismatch and answers "no" (so the drop decides it itself), with or
// without Wants; it never decides it.
func TestWakeV2LyingLine(t *testing.T) {
	for _, early := range []bool{true, false} {
		s := openSpool(t, t.TempDir())
		accepted := make(chan *Claimed, 4)
		type report struct {
			id, why  string
			released bool
		}
		reports := make(chan report, 4)
		opts := ServeOptions{Mismatch: func(id, why string, released bool) { reports <- report{id, why, released} }}
		if early {
			opts.Wants = wantsPolicy("/etc/notifier/policy.yaml", "/var/lib/notifier/state.db")
		}
		stop := serveWith(t, s, func(c *Claimed) bool { accepted <- c; return true }, opts)
		lies := []func(e *Entry){
			func(e *Entry) { e.Policy = "/etc/notifier/other.yaml" },
			func(e *Entry) { e.StatePath = "/tmp/other.db" },
		}
		var ids []string
		for i, lie := range lies {
			e := put(t, s, i)
			ids = append(ids, e.ID)
			told := e
			told.Policy, told.StatePath = "/etc/notifier/policy.yaml", "/var/lib/notifier/state.db"
			lie(&e)
			// The file is the lying version; the line names the served one.
			data, err := e.encode()
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(s.Path, NewDir, e.ID), data, 0o640)
			if a := sendLine(t, s.Path, v2Line(&told)); !strings.HasPrefix(a, "no: ") {
				t.Errorf("early %v, lie %d: answer %q, want no", early, i, a)
			}
			r := <-reports
			if r.id != e.ID || !r.released || !strings.Contains(r.why, "/etc/notifier/policy.yaml") {
				t.Errorf("early %v, lie %d: reported %+v", early, i, r)
			}
		}
		stop()
		select {
		case c := <-accepted:
			t.Errorf("early %v: accepted %s", early, c.Name)
		default:
		}
		if got, _ := s.List(); strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Errorf("early %v: new/ holds %q, want %q", early, got, ids)
		}
		if st, _ := s.Stats(); st.Claimed != 0 || st.Bad != 0 {
			t.Errorf("early %v: spool %+v", early, st)
		}
	}
}

// Malformed v2 lines are refused before anything is claimed.
func TestWakeV2Malformed(t *testing.T) {
	s := openSpool(t, t.TempDir())
	accepted := make(chan *Claimed, 16)
	serveWith(t, s, func(c *Claimed) bool { accepted <- c; return true },
		ServeOptions{Wants: func(string, string) (bool, string) { return true, "" }})
	e := put(t, s, 1)
	p, sp := strconv.Quote(e.Policy), strconv.Quote(e.StatePath)
	for _, line := range []string{
		e.ID + " " + p + "\n",                            // no state path
		e.ID + " " + p + " " + sp + " x\n",               // trailing words
		e.ID + " " + p + " " + sp + " \n",                // a trailing space
		e.ID + "  " + p + " " + sp + "\n",                // two spaces
		e.ID + " " + p + "  " + sp + "\n",                // two spaces
		e.ID + " " + e.Policy + " " + e.StatePath + "\n", // unquoted
		e.ID + " `" + e.Policy + "` " + sp + "\n",        // raw quotes
		e.ID + " " + p + " '/'\n",                        // single quotes
		e.ID + ` "/etc/\q" ` + sp + "\n",                 // a bad escape
		e.ID + ` "/etc/notifier/policy.yaml ` + sp + "\n",
		e.ID + " \n",
		" " + p + " " + sp + "\n", // no id
		"../" + e.ID + " " + p + " " + sp + "\n",
		e.ID + " " + strconv.Quote(strings.Repeat("/x", 9000)) + " " + sp + "\n", // over 16 KiB
		e.ID + " " + p + " " + sp, // no newline
	} {
		if a := sendLine(t, s.Path, line); !strings.HasPrefix(a, "no: ") {
			t.Errorf("%.60q: answered %q", line, a)
		}
	}
	untouched(t, s, e.ID, accepted)
	// A line just within the bound is read whole and its entry claimed
	// (then put back, answered no: its policy is not the line's).
	long := e.ID + " " + strconv.Quote("/"+strings.Repeat("x", maxRequestLine-len(e.ID)-len(sp)-5)) + " " + sp
	if len(long) != maxRequestLine {
		t.Fatalf("long line of %d bytes", len(long))
	}
	if a := sendLine(t, s.Path, long+"\n"); a != "no: the entry is not what its wake-up line said\n" {
		t.Errorf("a line of %d bytes: answered %q", len(long), a)
	}
}

// An engine that stops between the claim and accepting the entry puts
// it back into new/ and answers "no": the drop takes it back.
func TestWakeV2StoppingAfterTheClaim(t *testing.T) {
	s := openSpool(t, t.TempDir())
	offered := make(chan string, 1)
	stop := serveWith(t, s, func(c *Claimed) bool { offered <- c.Entry.ID; return false },
		ServeOptions{Wants: func(string, string) (bool, string) { return true, "" }})
	e := put(t, s, 1)
	if a := sendLine(t, s.Path, v2Line(&e)); a != "no: declined\n" {
		t.Fatalf("answer %q, want no: declined", a)
	}
	if id := <-offered; id != e.ID {
		t.Errorf("offered %s", id)
	}
	stop()
	if ids, _ := s.List(); len(ids) != 1 || ids[0] != e.ID {
		t.Errorf("new/ holds %q, want %s back", ids, e.ID)
	}
	if st, _ := s.Stats(); st.Claimed != 0 {
		t.Errorf("spool %+v", st)
	}
}

// An entry that cannot be read (here: a newer drop's format), claimed on
// a v2 line, goes back to new/ and the answer is "no: unusable", as a v1
// line's Peek leaves it: its drop, still waiting, decides it. Never
// "claimed" then bad/, which would lose a newer drop's every event while
// an older engine runs.
func TestWakeV2Unreadable(t *testing.T) {
	s := openSpool(t, t.TempDir())
	accepted := make(chan *Claimed, 1)
	stop := serveWith(t, s, func(c *Claimed) bool { accepted <- c; return true },
		ServeOptions{Wants: func(string, string) (bool, string) { return true, "" }})
	e := put(t, s, 1)
	newer, err := e.encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{[]byte(`{"v":99}`), bytes.Replace(newer, []byte(`"v":1`), []byte(`"v":2`), 1),
		bytes.Replace(newer, []byte(`"event":{`), []byte(`"event":{"priority":"P1",`), 1)} {
		os.WriteFile(filepath.Join(s.Path, NewDir, e.ID), data, 0o640)
		if a := sendLine(t, s.Path, v2Line(&e)); a != "no: unusable\n" {
			t.Fatalf("%.60s: answer %q, want no: unusable", data, a)
		}
		if ids, _ := s.List(); len(ids) != 1 || ids[0] != e.ID {
			t.Errorf("%.60s: new/ holds %q, want %s back", data, ids, e.ID)
		}
	}
	stop()
	if st, _ := s.Stats(); st.New != 1 || st.Claimed != 0 || st.Bad != 0 {
		t.Errorf("spool %+v, want the entry in new/ only", st)
	}
	select {
	case c := <-accepted:
		t.Errorf("accepted %s", c.Name)
	default:
	}
}

// BenchmarkWakeAnswer is how long a drop waits for the engine's answer
// once its entry is in new/: dial, the line, "claimed" (the entries are
// put with the timer stopped). v1 sends the id alone (the engine reads
// the entry before claiming it), v2 the policy and state path too (the
// engine claims at once and reads after answering).
func BenchmarkWakeAnswer(b *testing.B) {
	for _, v := range []string{"v1", "v2"} {
		b.Run(v, func(b *testing.B) {
			s := openSpool(b, b.TempDir())
			l, err := s.Listen()
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- s.ServeWith(ctx, l, "host/1/engine", func(c *Claimed) bool { return true },
					ServeOptions{Wants: wantsPolicy("/etc/notifier/policy.yaml", "/var/lib/notifier/state.db")})
			}()
			defer func() { cancel(); <-done }()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				e := put(b, s, i)
				line := e.ID + "\n"
				if v == "v2" {
					line = v2Line(&e)
				}
				b.StartTimer()
				c, err := net.Dial("unix", filepath.Join(s.Path, WakeSocket))
				if err != nil {
					b.Fatal(err)
				}
				c.Write([]byte(line))
				answer, _ := bufio.NewReader(c).ReadString('\n')
				c.Close()
				if answer != "claimed\n" {
					b.Fatalf("answer %q", answer)
				}
			}
		})
	}
}
