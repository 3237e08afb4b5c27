package state

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func queue(t *testing.T, recs map[string]*Record, es ...Entry) {
	t.Helper()
	for _, e := range es {
		r, err := e.Record()
		if err != nil {
			t.Fatal(err)
		}
		recs[e.ID] = r
	}
}

func ids(chains [][]Entry) string {
	var parts []string
	for _, c := range chains {
		var s []string
		for _, e := range c {
			s = append(s, e.ID)
		}
		parts = append(parts, strings.Join(s, "+"))
	}
	return strings.Join(parts, " ")
}

func TestClaimOrderAndLeases(t *testing.T) {
	now := at(0)
	recs := map[string]*Record{}
	queue(t, recs,
		Entry{ID: "o/1", Key: "k1", Channel: "pager", Action: "trigger", NextAttempt: at(5)}, // waiting for a retry
		Entry{ID: "o/2", Key: "k1", Channel: "pager", Action: "resolve", LeaseOwner: "me", LeasedUntil: at(1)},
		Entry{ID: "o/3", Key: "k2", Channel: "pager", Action: "trigger", LeaseOwner: "other", LeasedUntil: at(1)},
		Entry{ID: "o/4", Key: "k3", Channel: "ops", Action: "message", LeaseOwner: "dead", LeasedUntil: at(-1)},
		Entry{ID: "o/5", Key: "k1", Channel: "ops", Action: "message", LeaseOwner: "me", LeasedUntil: at(1)},
	)
	chains, _, err := Claim(recs, "me", now, at(1), false, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	// o/2 is mine but must wait behind o/1 (its trigger); o/3 is another
	// live run's; o/4's owner died (lease expired).
	if got := ids(chains); got != "o/4 o/5" {
		t.Fatalf("claimed %q, want o/4 o/5", got)
	}
	chains, _, _ = Claim(recs, "flusher", now, at(1), true, func(string) bool { return true })
	if got := ids(chains); got != "o/1" {
		t.Fatalf("flush claimed %q, want the head of k1/pager only: o/2 behind it is held by a live run", got)
	}
}

func TestSettle(t *testing.T) {
	recs := map[string]*Record{}
	// settle leases e to "me" (as Claim does), then settles it.
	settle := func(e Entry, o Attempt, now time.Time) (string, Entry) {
		t.Helper()
		e.LeaseOwner, e.LeasedUntil = "me", now.Add(time.Minute)
		queue(t, recs, e)
		what, err := Settle(recs, e, o, now, "me")
		if err != nil {
			t.Fatal(err)
		}
		var got Entry
		if r := recs[e.ID]; r != nil {
			got = Entries(map[string]*Record{e.ID: r})[0]
		}
		return string(what), got
	}
	e := Entry{ID: "o/9", Key: "k", Channel: "pager", Created: at(0)}
	boom := errors.New("HTTP 503")
	what, got := settle(e, Attempt{Status: AttemptRetryable, Err: boom}, at(0))
	if what != "queued" || got.Attempts != 1 || !got.NextAttempt.Equal(at(0).Add(30*time.Second)) || got.LeaseOwner != "" || got.LastError != "HTTP 503" {
		t.Fatalf("retryable: %s %+v", what, got)
	}
	what, got = settle(got, Attempt{Status: AttemptRetryable, Err: boom, RetryAfter: 10 * time.Minute}, at(1))
	if what != "queued" || !got.NextAttempt.Equal(at(11)) {
		t.Fatalf("Retry-After must win over a shorter backoff: %+v", got)
	}
	what, _ = settle(got, Attempt{Status: AttemptRejected, Err: errors.New("HTTP 400: invalid")}, at(2))
	if what != "failed" || recs["o/9"] != nil || recs["d/9"] == nil {
		t.Fatalf("permanent failure must become a dead letter: %s %v", what, recs)
	}
	old := Entry{ID: "o/8", Created: at(0)}
	if what, _ := settle(old, Attempt{Status: AttemptRetryable, Err: boom}, at(0).Add(GiveUpAfter)); what != "failed" {
		t.Fatalf("a delivery failing for %s must be given up, got %s", GiveUpAfter, what)
	}
	if what, _ := settle(e, Attempt{Status: AttemptDelivered}, at(0)); what != "delivered" || recs["o/9"] != nil {
		t.Fatalf("delivered: %s %v", what, recs)
	}
	// A run whose lease ran out and was taken over settles nothing: the
	// entry another run delivered must not come back.
	e.LeaseOwner, e.LeasedUntil = "other", at(5)
	queue(t, recs, e)
	if what, _ := Settle(recs, e, Attempt{Status: AttemptRetryable, Err: boom}, at(1), "me"); what != "superseded" {
		t.Fatalf("a settle without the lease: %s", what)
	}
	delete(recs, "o/9")
	if what, _ := Settle(recs, e, Attempt{Status: AttemptRetryable, Err: boom}, at(1), "me"); what != "superseded" || recs["o/9"] != nil {
		t.Fatalf("a settle of an entry already delivered by another run must not bring it back: %s %v", what, recs["o/9"])
	}
}

func TestClaimTakesOverDeadOwner(t *testing.T) {
	recs := map[string]*Record{}
	queue(t, recs, Entry{ID: "o/1", Key: "k", Channel: "pager", LeaseOwner: "killed", LeasedUntil: at(10)})
	alive := func(owner string) bool { return owner != "killed" }
	if chains, _, _ := Claim(recs, "me", at(0), at(1), false, alive); ids(chains) != "o/1" {
		t.Fatalf("a lease whose owner died must be taken over: %q", ids(chains))
	}
}

func TestOwnerAlive(t *testing.T) {
	me := NewOwner()
	if !OwnerAlive(me) {
		t.Fatalf("this process (%s) must be alive", me)
	}
	host, _, _ := strings.Cut(me, "/")
	if OwnerAlive(host + "/2147483646/abcd") {
		t.Error("a process id that does not exist must be dead")
	}
	if !OwnerAlive("another-host/1/abcd") || !OwnerAlive("garbage") {
		t.Error("owners elsewhere, or unreadable, must count as alive")
	}
}

// TestDecodersSkipNilRecords: an Update's map may hold nil (a record
// being deleted, or an id named but absent); every decoder of records
// skips it rather than dereference it (silence expire of an unknown id
// crashed on this).
func TestDecodersSkipNilRecords(t *testing.T) {
	recs := map[string]*Record{SilencePrefix + "s-1": nil, HistoryPrefix + "x": nil, OutboxPrefix + "y": nil}
	if got := Silences(recs); len(got) != 0 {
		t.Errorf("Silences = %v, want none", got)
	}
	if got := History(recs, "", 0); len(got) != 0 {
		t.Errorf("History = %v, want none", got)
	}
	if got := Entries(recs); len(got) != 0 {
		t.Errorf("Entries = %v, want none", got)
	}
}

// LeasedByOther is the one test of "another live run holds it", which
// Claim and the run's wait for its own blocked entries share.
func TestLeasedByOther(t *testing.T) {
	alive := func(owner string) bool { return owner != "killed" }
	for _, tc := range []struct {
		name string
		e    Entry
		want bool
	}{
		{"not leased", Entry{}, false},
		{"mine", Entry{LeaseOwner: "me", LeasedUntil: at(10)}, false},
		{"another's, live", Entry{LeaseOwner: "other", LeasedUntil: at(10)}, true},
		{"another's, run out", Entry{LeaseOwner: "other", LeasedUntil: at(0)}, false},
		{"another's, owner dead", Entry{LeaseOwner: "killed", LeasedUntil: at(10)}, false},
	} {
		if got := tc.e.LeasedByOther("me", at(0), alive); got != tc.want {
			t.Errorf("%s: LeasedByOther = %v, want %v", tc.name, got, tc.want)
		}
	}
}
