package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"notifier/engine/state"
)

// claimerEnv makes the test binary a claimer process (TestClaimerProcess).
const claimerEnv = "SPOOL_TEST_CLAIMER_DIR"

// TestClaimerProcess is a claimer in a process of its own when the test
// binary is re-executed by TestClaimRace: it says "ready", waits for a
// line on stdin, then claims until the spool is empty, printing each id.
func TestClaimerProcess(t *testing.T) {
	dir := os.Getenv(claimerEnv)
	if dir == "" {
		t.Skip("run by TestClaimRace")
	}
	s := openSpool(t, dir)
	owner := state.NewOwner()
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	for {
		c, err := s.ClaimNext(owner)
		if errors.Is(err, ErrEmpty) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("claimed", c.Entry.ID)
	}
}

// 20 goroutines and 3 processes race to claim 200 entries: each is
// claimed exactly once.
func TestClaimRace(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	want := map[string]bool{}
	for i := range 200 {
		want[put(t, s, i).ID] = true
	}

	var (
		mu  sync.Mutex
		got = map[string][]string{}
	)
	record := func(id, who string) {
		mu.Lock()
		got[id] = append(got[id], who)
		mu.Unlock()
	}

	type proc struct {
		cmd   *exec.Cmd
		in    io.WriteCloser
		lines *bufio.Scanner
	}
	var procs []proc
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestClaimerProcess$", "-test.v=false")
		cmd.Env = append(os.Environ(), claimerEnv+"="+dir)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := proc{cmd, in, bufio.NewScanner(out)}
		if !p.lines.Scan() || p.lines.Text() != "ready" {
			t.Fatalf("claimer process: %q, %v", p.lines.Text(), p.lines.Err())
		}
		procs = append(procs, p)
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			owner := fmt.Sprintf("test/%d/g%d", os.Getpid(), g)
			<-start
			for {
				c, err := s.ClaimNext(owner)
				if errors.Is(err, ErrEmpty) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				record(c.Entry.ID, owner)
			}
		})
	}
	for i, p := range procs {
		wg.Go(func() {
			for p.lines.Scan() {
				if id, ok := strings.CutPrefix(p.lines.Text(), "claimed "); ok {
					record(id, fmt.Sprintf("process %d", i))
				}
			}
		})
	}
	close(start)
	for _, p := range procs {
		if _, err := io.WriteString(p.in, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	// Every line read before Wait: Wait closes the pipes, and a line not
	// yet read would be lost (a claim not counted).
	wg.Wait()
	for _, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("claimer process: %v", err)
		}
	}

	for id, who := range got {
		if !want[id] {
			t.Errorf("claimed %s, which was never put", id)
		}
		if len(who) != 1 {
			t.Errorf("%s claimed %d times: %q", id, len(who), who)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d of %d entries claimed", len(got), len(want))
	}
	if left := names(t, filepath.Join(dir, NewDir)); len(left) != 0 {
		t.Errorf("new/ still holds %q", left)
	}
	if n := len(names(t, filepath.Join(dir, ClaimedDir))); n != 200 {
		t.Errorf("claimed/ holds %d entries, want 200", n)
	}
}

// A claim of an entry someone else has is ErrTaken; Done deletes,
// Release puts back.
func TestClaimDoneRelease(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	a, b := put(t, s, 1), put(t, s, 2)
	c, err := s.Claim(a.ID, "host/1/x")
	if err != nil {
		t.Fatal(err)
	}
	if c.Entry.ID != a.ID || c.Owner != "host/1/x" || c.Name != a.ID+".host%2F1%2Fx" {
		t.Errorf("claimed %+v", c)
	}
	if _, err := s.Claim(a.ID, "host/2/y"); !errors.Is(err, ErrTaken) {
		t.Errorf("second claim: %v, want ErrTaken", err)
	}
	if _, err := s.Claim("../"+a.ID, "host/2/y"); err == nil || errors.Is(err, ErrTaken) {
		t.Errorf("claim of a path: %v", err)
	}
	if err := s.Release(c); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.List(); err != nil || !slices.Equal(ids, []string{a.ID, b.ID}) {
		t.Fatalf("after release: %q, %v", ids, err)
	}
	c, err = s.ClaimNext("host/3/z")
	if err != nil || c.Entry.ID != a.ID {
		t.Fatalf("ClaimNext: %+v, %v (want the oldest, %s)", c, err, a.ID)
	}
	if err := s.Done(c); err != nil {
		t.Fatal(err)
	}
	if got := names(t, filepath.Join(dir, ClaimedDir)); len(got) != 0 {
		t.Errorf("claimed/ after Done: %q", got)
	}
	if _, err := s.ClaimNext("host/3/z"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimNext("host/3/z"); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty spool: %v, want ErrEmpty", err)
	}
}

// deadOwner is the owner id of a process of this host that has exited.
func deadOwner(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(state.NewOwner(), "/")
	parts[1] = fmt.Sprint(cmd.Process.Pid)
	owner := strings.Join(parts, "/")
	if state.OwnerAlive(owner) {
		t.Skipf("pid %d was reused already", cmd.Process.Pid)
	}
	return owner
}

// A killed claimer's entries are taken over (by exactly one of two
// concurrent takers); a live claimer's are left alone.
func TestTakeover(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	dead, live := deadOwner(t), state.NewOwner()
	deadIDs := map[string]bool{}
	for i := range 6 {
		e := put(t, s, i)
		owner := live
		if i%2 == 0 {
			owner = dead
			deadIDs[e.ID] = true
		}
		if _, err := s.Claim(e.ID, owner); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu  sync.Mutex
		got = map[string]int{}
		wg  sync.WaitGroup
	)
	for i := range 2 {
		wg.Go(func() {
			cs, err := s.Takeover(state.OwnerAlive, fmt.Sprintf("%s-taker%d", live, i))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range cs {
				got[c.Entry.ID]++
			}
		})
	}
	wg.Wait()
	if len(got) != len(deadIDs) {
		t.Errorf("took over %d entries, want %d", len(got), len(deadIDs))
	}
	for id, n := range got {
		if !deadIDs[id] || n != 1 {
			t.Errorf("%s taken over %d times (dead owner's: %v)", id, n, deadIDs[id])
		}
	}
	liveLeft := 0
	for _, n := range names(t, filepath.Join(dir, ClaimedDir)) {
		_, owner, ok := parseClaimed(n)
		if !ok {
			t.Errorf("claimed/ holds %q", n)
		}
		if owner == dead {
			t.Errorf("%s still under the dead owner", n)
		}
		if owner == live {
			liveLeft++
		}
	}
	if liveLeft != 3 {
		t.Errorf("%d entries left to the live owner, want 3", liveLeft)
	}
}

// Peek reads an entry in new/ without claiming it; one claimed since is
// ErrTaken. Bad moves a claimed entry to bad/ with its reason.
func TestPeekAndBad(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	e := testEntry(1)
	if err := s.Put(&e); err != nil {
		t.Fatal(err)
	}
	got, err := s.Peek(e.ID)
	if err != nil || got.ID != e.ID || got.Policy != e.Policy || got.Input.Source != InputCMON {
		t.Fatalf("Peek: %+v, %v", got, err)
	}
	if n := names(t, filepath.Join(dir, NewDir)); len(n) != 1 {
		t.Fatalf("new/ holds %v after Peek, want the entry still there", n)
	}
	c, err := s.Claim(e.ID, "host/1/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Peek(e.ID); !errors.Is(err, ErrTaken) {
		t.Errorf("Peek of a claimed entry: %v, want ErrTaken", err)
	}
	if err := s.Bad(c, errors.New("input no longer decodes")); !errors.Is(err, ErrBadEntry) {
		t.Errorf("Bad: %v", err)
	}
	if n := names(t, filepath.Join(dir, ClaimedDir)); len(n) != 0 {
		t.Errorf("claimed/ holds %v", n)
	}
	bad := names(t, filepath.Join(dir, BadDir))
	if len(bad) != 2 {
		t.Fatalf("bad/ holds %v, want the entry and its reason", bad)
	}
	for _, n := range bad {
		if strings.HasSuffix(n, ".reason") {
			if data, _ := os.ReadFile(filepath.Join(dir, BadDir, n)); !strings.Contains(string(data), "input no longer decodes") {
				t.Errorf("reason %q", data)
			}
		}
	}
}

// Adopt takes the claim its owner made before an exec; nothing else.
func TestAdopt(t *testing.T) {
	s := openSpool(t, t.TempDir())
	e := testEntry(1)
	c, err := s.PutClaimed(&e, "host/7/a")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Adopt(e.ID, "host/7/a")
	if err != nil || got.Name != c.Name || got.Entry.ID != e.ID || got.Owner != "host/7/a" {
		t.Fatalf("Adopt: %+v, %v", got, err)
	}
	if _, err := s.Adopt(e.ID, "host/8/b"); !errors.Is(err, ErrTaken) {
		t.Errorf("Adopt of another owner's claim: %v, want ErrTaken", err)
	}
	if _, err := s.Adopt("../x", "host/7/a"); err == nil {
		t.Error("Adopt of a bad id succeeded")
	}
}

// escapeOwner and unescapeOwner are net/url's PathEscape and
// PathUnescape, which claimed/ names were made with before.
func TestOwnerEscapeIsURLs(t *testing.T) {
	for _, owner := range []string{"vm/1234/abcd0123", "node1.example.com/1/ff", "a b%c/d?e#f;g,h:i@j&k=l+m$n~o", "é/\x00/\xff", "%", "%2", "%zz", "%2f", ""} {
		checkOwnerEscape(t, owner)
	}
}

func FuzzOwnerEscape(f *testing.F) {
	for _, s := range []string{"vm/1234/abcd0123", "%41", "%", "a%2"} {
		f.Add(s)
	}
	f.Fuzz(checkOwnerEscape)
}

func checkOwnerEscape(t *testing.T, s string) {
	if got, want := escapeOwner(s), url.PathEscape(s); got != want {
		t.Errorf("escapeOwner(%q) = %q, want %q", s, got, want)
	}
	got, ok := unescapeOwner(s)
	want, err := url.PathUnescape(s)
	if ok != (err == nil) || ok && got != want {
		t.Errorf("unescapeOwner(%q) = %q, %v; PathUnescape %q, %v", s, got, ok, want, err)
	}
}
