package apitest

import (
	"sync"
	"testing"

	"notifier/channels"
)

// KeepAliveServer is what CheckKeepAlive needs of a fake: programmed
// failures and its connection counts (PagerDuty, Slack, Webhook, Teams).
type KeepAliveServer interface {
	FailNext(n, status int, retryAfter string)
	Conns() int
	Protos() map[string]int
}

// CheckKeepAlive checks that a channel the resident engine builds once
// and sends many events through keeps its connections: send(i) sends
// event i through the channel, closeIdle is its Close. 20 sequential
// sends, the first a 429 with Retry-After and the second a 503 (whose
// bodies the client libraries leave unread), travel over one
// connection; 3 rounds of 8 concurrent sends use no more connections
// than twice the senders (one over TLS, where HTTP/2 multiplexes them, and every
// request is HTTP/2 then); after closeIdle the next send opens a new one.
func CheckKeepAlive(t *testing.T, srv KeepAliveServer, overTLS bool, send func(i int) error, closeIdle func()) {
	t.Helper()
	srv.FailNext(1, 429, "7")
	srv.FailNext(1, 503, "")
	for i := range 20 {
		err := send(i)
		if retry, _ := channels.IsRetryable(err); i < 2 && !retry {
			t.Fatalf("send %d: err = %v, want the programmed failure, retryable", i, err)
		} else if i >= 2 && err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if c := srv.Conns(); c != 1 {
		t.Errorf("20 sequential sends took %d connections, want 1", c)
	}

	const senders = 8
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range senders {
			wg.Go(func() {
				if err := send(100 + round*senders + i); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	// Bounded, not one a request: net/http may dial for a waiting request
	// and then hand it an idle connection freed meanwhile, keeping the new
	// one too, so a round can add a few beyond its senders.
	want := 2 * senders
	if overTLS {
		want = 1 // HTTP/2 multiplexes them on the one connection
	}
	if c := srv.Conns(); c > want {
		t.Errorf("3 rounds of %d concurrent sends: %d connections, want at most %d", senders, c, want)
	}
	if p := srv.Protos(); overTLS && p["HTTP/2.0"] != 20+3*senders {
		t.Errorf("requests by protocol %v, want all %d over HTTP/2", p, 20+3*senders)
	}

	before := srv.Conns()
	closeIdle()
	if err := send(1000); err != nil {
		t.Fatalf("send after Close: %v", err)
	}
	if c := srv.Conns(); c != before+1 {
		t.Errorf("after Close: %d connections, want %d: Close kept the idle ones", c, before+1)
	}
}
