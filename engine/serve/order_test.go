package serve

import (
	"slices"
	"testing"

	"notifier/engine/spool"
)

// A wake-up is answered "claimed" before its entry is read, so the next
// event's drop may be answered before that entry reaches the queue: an
// entry of the key waits for every older claim still on its way, and the
// key's entries are decided in receipt order all the same.
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
