package pagerduty

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"notifier/channels"
	"notifier/internal/apitest"
)

// TestKeepAlive: the resident engine builds a channel once and sends many
// events through it. They travel over one connection — also after a 429
// with Retry-After and after a 503, whose bodies go-pagerduty leaves
// unread — concurrent sends use no more connections than there are
// senders, HTTP/2 is spoken where the server offers it over TLS, and
// Close drops what is kept.
func TestKeepAlive(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", overTLS), func(t *testing.T) {
			srv := apitest.NewPagerDuty()
			if overTLS {
				srv = apitest.NewPagerDutyTLS()
			}
			defer srv.Close()
			n := notifier(t, srv.URL(), Config{})
			if overTLS {
				n.http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: srv.RootCAs()}
			}
			defer n.Close()
			ctx := context.Background()
			send := func(i int) error {
				m := fullMessage()
				m.Key = fmt.Sprintf("k/%d", i)
				return n.Notify(ctx, m)
			}

			srv.FailNext(1, http.StatusTooManyRequests, "7")
			srv.FailNext(1, http.StatusServiceUnavailable, "")
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
			// and then hand it an idle connection freed meanwhile, keeping the
			// new one too, so a round can add a few beyond its senders.
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
			n.Close()
			if err := send(1000); err != nil {
				t.Fatalf("send after Close: %v", err)
			}
			if c := srv.Conns(); c != before+1 {
				t.Errorf("after Close: %d connections, want %d: Close kept the idle ones", c, before+1)
			}
		})
	}
}
