package spool

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveStatus runs the engine side of the socket with a status func
// until the test ends.
func serveStatus(t *testing.T, s *Spool, status func() EngineStatus) {
	t.Helper()
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- s.ServeWith(ctx, l, "host/1/engine", func(*Claimed) bool { return true }, ServeOptions{Status: status})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// answering listens on the spool's socket and answers every connection
// with reply, whatever it asked (an engine speaking another protocol).
func answering(t *testing.T, dir, reply string) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte(reply))
			c.Close()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
}

func sampleStatus() EngineStatus {
	started := time.Date(2026, 12, 5, 1, 2, 3, 4, time.UTC)
	return EngineStatus{
		PID: 4242, Owner: "host/4242/abcd", Started: started, Version: "1.2.3",
		Spool: "/var/lib/notifier/spool",
		Policies: []PolicyStatus{
			{Path: "/etc/notifier/policy.yaml", LoadedAt: started.Add(time.Minute)},
			{Path: "/etc/notifier/other.yaml", LoadedAt: started, LastGood: true, Error: "line 3: bad"},
		},
		InFlight: 3, Claimed: 17, Declined: 2,
	}
}

// An engine given a status func answers the status request with it, and
// the client gets every field back as the engine gave it.
func TestAskStatus(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	want := sampleStatus()
	serveStatus(t, s, func() EngineStatus { return want })
	got, err := AskStatus(dir, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != want.PID || got.Owner != want.Owner || !got.Started.Equal(want.Started) ||
		got.Version != want.Version || got.Spool != want.Spool || got.InFlight != want.InFlight ||
		got.Claimed != want.Claimed || got.Declined != want.Declined ||
		!slices.EqualFunc(got.Policies, want.Policies, func(a, b PolicyStatus) bool {
			return a.Path == b.Path && a.LoadedAt.Equal(b.LoadedAt) && a.LastGood == b.LastGood && a.Error == b.Error
		}) {
		t.Errorf("AskStatus = %+v, want %+v", got, want)
	}
	// The wake-ups still work beside it, and the request claimed nothing.
	e := put(t, s, 1)
	if r := Wake(dir, e.ID, time.Minute); r != WakeClaimed {
		t.Errorf("wake beside status: %v", r)
	}
}

// The answer is one line of JSON with the names the contract gives, so
// other tools may read it.
func TestStatusWireNames(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	serveStatus(t, s, sampleStatus)
	c, err := net.Dial("unix", filepath.Join(dir, WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("status\n"))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pid", "owner", "started", "version", "spool", "policies", "in_flight", "claimed", "declined"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, line)
		}
	}
	var ps []map[string]json.RawMessage
	if err := json.Unmarshal(m["policies"], &ps); err != nil || len(ps) != 2 {
		t.Fatalf("policies %s: %v", m["policies"], err)
	}
	for _, k := range []string{"path", "loaded_at", "last_good", "error"} {
		if _, ok := ps[1][k]; !ok {
			t.Errorf("no %q in policy %s", k, m["policies"])
		}
	}
}

// An engine without a status func says so, distinctly.
func TestAskStatusUnsupported(t *testing.T) {
	dir := t.TempDir()
	serve(t, openSpool(t, dir), "host/1/engine")
	if st, err := AskStatus(dir, time.Minute); !errors.Is(err, ErrStatusUnsupported) {
		t.Errorf("AskStatus = %+v, %v; want ErrStatusUnsupported", st, err)
	}
}

// No engine: answered at once (the bound is an hour: a wait would hang
// the test), as a distinct error, with or without a stale socket.
func TestAskStatusNoEngine(t *testing.T) {
	dir := t.TempDir()
	if _, err := AskStatus(dir, time.Hour); !errors.Is(err, ErrNoEngine) {
		t.Errorf("no socket: %v", err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := AskStatus(dir, time.Hour); !errors.Is(err, ErrNoEngine) {
		t.Errorf("stale socket: %v", err)
	}
}

// A socket this user may not connect to is not "no engine": status must
// not say the engine is down when it cannot tell.
func TestAskStatusNotPermitted(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root connects whatever the socket's mode")
	}
	dir := t.TempDir()
	serveStatus(t, openSpool(t, dir), sampleStatus)
	if err := os.Chmod(filepath.Join(dir, WakeSocket), 0); err != nil {
		t.Fatal(err)
	}
	_, err := AskStatus(dir, time.Minute)
	if err == nil || errors.Is(err, ErrNoEngine) || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("AskStatus = %v, want a permission error, not ErrNoEngine", err)
	}
}

// An engine that accepts and never answers: AskStatus gives up at the
// bound and says the engine did not answer.
func TestAskStatusHungEngine(t *testing.T) {
	dir := t.TempDir()
	conns := hungServer(t, dir)
	_, err := AskStatus(dir, 50*time.Millisecond)
	if !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("AskStatus: %v, want ErrNoAnswer", err)
	}
	// It had sent the request: the hung engine got the connection.
	if c := <-conns; c == nil {
		t.Fatal("no connection")
	}
}

// Anything but exactly one well-formed status object on one line is an
// error, never a half-read status.
func TestAskStatusStrict(t *testing.T) {
	good, err := json.Marshal(sampleStatus())
	if err != nil {
		t.Fatal(err)
	}
	for name, reply := range map[string]string{
		"unknown field": `{"pid":1,"colour":"red"}` + "\n",
		"trailing":      string(good) + ` {}` + "\n",
		"not json":      "claimed\n",
		"wrong type":    `{"pid":"one"}` + "\n",
		"no newline":    string(good),
		"empty":         "",
		"too long":      `{"owner":"` + strings.Repeat("x", maxStatusLine) + `"}` + "\n",
		"refused":       "no: not a spool id\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			answering(t, dir, reply)
			st, err := AskStatus(dir, time.Minute)
			if err == nil || errors.Is(err, ErrNoEngine) || errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrStatusUnsupported) {
				t.Errorf("AskStatus = %+v, %v; want a status error", st, err)
			}
		})
	}
	// The same reply, well-formed, is accepted: the cases above fail for
	// their flaw alone.
	dir := t.TempDir()
	answering(t, dir, string(good)+"\n")
	if st, err := AskStatus(dir, time.Minute); err != nil || st.PID != 4242 {
		t.Errorf("well-formed: %+v, %v", st, err)
	}
}

// A status request is matched exactly: a line that only starts with it
// is no id either, and claims nothing.
func TestStatusRequestExact(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	serveStatus(t, s, sampleStatus)
	for _, line := range []string{"status \n", "statusX\n", "STATUS\n", "status"} {
		c, err := net.Dial("unix", filepath.Join(dir, WakeSocket))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(line))
		c.(*net.UnixConn).CloseWrite()
		answer, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if !strings.HasPrefix(answer, "no: ") {
			t.Errorf("%q: answered %q", line, answer)
		}
	}
}

// ReadStats counts as Stats does, without making anything: a missing
// subdirectory holds nothing, a missing spool is ErrNotExist.
func TestReadStats(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadStats(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing spool: %v", err)
	}
	s := openSpool(t, dir)
	old := testEntry(1)
	old.Received = time.Now().Add(-time.Hour)
	if err := s.Put(&old); err != nil {
		t.Fatal(err)
	}
	put(t, s, 2)
	put(t, s, 3)
	if _, err := s.Claim(old.ID, "host/1/engine"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, BadDir, "junk"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	want, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadStats(dir)
	if err != nil || got != want || got.New != 2 || got.Claimed != 1 || got.Bad != 1 || !got.Oldest.Equal(old.Received) {
		t.Errorf("ReadStats = %+v, %v; Stats = %+v", got, err, want)
	}
	if err := os.RemoveAll(filepath.Join(dir, BadDir)); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadStats(dir); err != nil || got.Bad != 0 || got.New != 2 {
		t.Errorf("without bad/: %+v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, BadDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadStats made bad/: %v", err)
	}
}
