package pagerduty

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"testing"

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

			apitest.CheckKeepAlive(t, srv, overTLS, send, func() { n.Close() })
		})
	}
}
