package webhook

import (
	"context"
	"fmt"
	"testing"

	"notifier/internal/apitest"
)

// TestKeepAlive: the resident engine builds a channel once and sends many
// messages through it. They travel over one connection — also after a
// 429 with Retry-After and a 503 — concurrent sends use no more
// connections than there are senders, HTTP/2 is spoken where the
// receiver offers it over TLS, and Close drops what is kept.
func TestKeepAlive(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", overTLS), func(t *testing.T) {
			r := newReceiver(t, overTLS)
			n := notifier(t, r.URL()+"/hook", Config{})
			if overTLS {
				trust(n, r)
			}
			send := func(i int) error {
				m := fullMessage()
				m.Key = fmt.Sprintf("k/%d", i)
				return n.Notify(context.Background(), m)
			}
			apitest.CheckKeepAlive(t, r, overTLS, send, func() { n.Close() })
		})
	}
}
