package serve

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/engine/spool"
)

// Wake-ups are answered concurrently, so a newer entry may reach the
// queue while an older one, claimed a moment before, is still being
// read: an entry of the key waits for every older claim still on its
// way, and the key's entries are decided in receipt order all the same.
func TestReceiptOrderAcrossEarlyAnswers(t *testing.T) {
	r := newRig(t, nil)
	r.start()
	older := r.put("cmon/ctl/1/order", "critical")
	newer := r.put("cmon/ctl/1/order", "warning")
	// The older one claimed by a wake-up and not yet offered, as between
	// the answer and the read.
	handed := r.srv.claiming(older)
	c, err := r.sp.Claim(older, r.srv.cfg.Owner)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.wake(newer); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	if !r.srv.offer(c) {
		t.Fatal("the older entry was not taken")
	}
	handed()
	wait(t, r.done, "a decision")
	wait(t, r.done, "a decision")
	r.mu.Lock()
	decided := slices.Clone(r.decided)
	r.mu.Unlock()
	if !slices.Equal(decided, []string{older, newer}) {
		t.Errorf("decided %v, want %s then %s", decided, older, newer)
	}
}

// A wake-up line that names a served policy for an entry of another one
// is answered "no" once the engine has read the entry: it is back in
// new/, counted declined and said, and the engine never decides it.
func TestLyingWakeLineNotDecided(t *testing.T) {
	r := newRig(t, nil)
	r.start()
	other := filepath.Join(r.dir, "other.yaml")
	id := r.put("cmon/ctl/1/lie", "critical", other)
	c, err := net.Dial("unix", filepath.Join(r.sp.Path, spool.WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "%s %s %s\n", id, strconv.Quote(r.policy), strconv.Quote(""))
	answer, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(answer, "no: ") {
		t.Fatalf("answer %q, want no", answer)
	}
	wait(t, r.handedCh(id), "the entry to be looked at")
	if ids, _ := r.sp.List(); !slices.Equal(ids, []string{id}) {
		t.Errorf("new/ holds %v, want %s back", ids, id)
	}
	if st := r.srv.Status(); st.Declined != 1 || st.Claimed != 0 || st.InFlight != 0 {
		t.Errorf("status %+v, want one declined, none claimed", st)
	}
	if notes := r.allNotes(); !strings.Contains(notes, id) || !strings.Contains(notes, "not decided here") {
		t.Errorf("the mismatch is not said:\n%s", notes)
	}
	r.stop()
	if len(r.decided) != 0 {
		t.Errorf("decided %v", r.decided)
	}
}

// An older claim that never reaches the queue (its read hangs on a bad
// disk) holds a newer entry of the key back only handOffWait: then the
// newer one is decided, rather than every drain waiting on the read.
func TestHandOffWaitIsBounded(t *testing.T) {
	r := newRig(t, nil)
	r.start()
	older := r.put("cmon/ctl/1/hung", "critical")
	newer := r.put("cmon/ctl/1/hung", "warning")
	handed := r.srv.claiming(older) // and never offered, until the end
	defer handed()
	if got := r.wake(newer); got != spool.WakeClaimed {
		t.Fatalf("wake: %v", got)
	}
	if got := wait(t, r.done, "the newer entry to be decided"); got != newer {
		t.Errorf("decided %s, want %s", got, newer)
	}
}

// A drain waiting for an older claim to reach the queue holds no worker
// slot: with one worker, an entry of another key that is not behind the
// claim is decided while the wait goes on (here it would be an hour).
func TestWaitForOlderClaimHoldsNoSlot(t *testing.T) {
	old := handOffWait
	handOffWait = time.Hour
	t.Cleanup(func() { handOffWait = old })
	r := newRig(t, func(c *Config) { c.Workers = 1 })
	r.start()
	first := r.put("cmon/ctl/1/first", "critical")
	claimed := r.put("cmon/ctl/1/claimed", "critical")
	behind := r.put("cmon/ctl/1/behind", "critical")
	handed := r.srv.claiming(claimed) // between its answer and its read
	if got := r.wake(behind); got != spool.WakeClaimed {
		t.Fatalf("wake behind: %v", got)
	}
	if got := r.wake(first); got != spool.WakeClaimed {
		t.Fatalf("wake first: %v", got)
	}
	if got := wait(t, r.done, "the entry older than the claim"); got != first {
		t.Errorf("decided %s first, want %s", got, first)
	}
	handed()
	if got := wait(t, r.done, "the entry behind the claim"); got != behind {
		t.Errorf("decided %s, want %s", got, behind)
	}
}

// An engine idle for a while is not stuck the moment its queue fills:
// with entries waiting behind an older claim that has not reached the
// queue (a stopped drop between its answer and its hang-up), a wake-up
// is still answered "claimed", until the workers have really begun
// nothing for StallAfter since the queue filled.
func TestIdleEngineNotBusyWhenItFills(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Workers = 2; c.StallAfter = time.Hour })
	r.start()
	r.srv.mu.Lock()
	r.srv.lastStart = time.Now().Add(-2 * time.Hour) // long idle
	r.srv.mu.Unlock()
	stuck := r.put("cmon/ctl/1/stuck", "critical")
	a := r.put("cmon/ctl/1/a", "critical")
	b := r.put("cmon/ctl/1/b", "critical")
	c := r.put("cmon/ctl/1/c", "critical")
	handed := r.srv.claiming(stuck)
	defer handed()
	for _, id := range []string{a, b, c} {
		if got := r.wake(id); got != spool.WakeClaimed {
			t.Fatalf("wake of %s with the queue filling after a long idle: %v, want claimed", id, got)
		}
	}
}
