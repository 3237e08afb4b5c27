package webhook

import (
	"crypto/tls"
	"net/http"
	"testing"

	"notifier/internal/apitest"
)

// newReceiver starts a webhook receiver on 127.0.0.1 (apitest.Webhook),
// over TLS with HTTP/2 when overTLS, stopped when the test ends.
func newReceiver(t *testing.T, overTLS bool) *apitest.Webhook {
	t.Helper()
	newServer := apitest.NewWebhook
	if overTLS {
		newServer = apitest.NewWebhookTLS
	}
	r := newServer()
	t.Cleanup(r.Close)
	return r
}

// trust makes n trust r's TLS certificate.
func trust(n *Notifier, r *apitest.Webhook) {
	n.http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: r.RootCAs()}
}

// only is the one request r received, failing the test otherwise.
func only(t *testing.T, r *apitest.Webhook) apitest.WebhookRequest {
	t.Helper()
	reqs := r.Requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}
