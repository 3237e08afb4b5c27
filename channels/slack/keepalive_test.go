package slack

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
// with Retry-After and after a 503, whose bodies slack-go leaves unread —
// concurrent sends use no more connections than there are senders,
// HTTP/2 is spoken where the server offers it over TLS, and Close drops
// what is kept. For a webhook and for the Web API alike.
func TestKeepAlive(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		for _, mode := range []string{"webhook", "web api"} {
			t.Run(fmt.Sprintf("%s/tls=%v", mode, overTLS), func(t *testing.T) {
				s := apitest.NewSlack()
				if overTLS {
					s = apitest.NewSlackTLS()
				}
				defer s.Close()
				n := webhookNotifier(t, s)
				if mode == "web api" {
					n = apiNotifier(t, s, s.Token(), "#"+apitest.SlackChannelName)
				}
				if overTLS {
					n.http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: s.RootCAs()}
				}
				defer n.Close()
				ctx := context.Background()
				send := func(i int) error {
					m := sampleMessage()
					m.Key = fmt.Sprintf("k/%d", i)
					return n.Notify(ctx, m)
				}

				apitest.CheckKeepAlive(t, s, overTLS, send, func() { n.Close() })
			})
		}
	}
}
