package apitest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestConnStatsAndTLS: the TLS fakes speak HTTP/2 to a client that trusts
// RootCAs, and ConnStats counts one connection for requests that share
// it, by protocol.
func TestConnStatsAndTLS(t *testing.T) {
	pd, slack := NewPagerDutyTLS(), NewSlackTLS()
	defer pd.Close()
	defer slack.Close()
	plain := NewPagerDuty()
	defer plain.Close()
	for _, tc := range []struct {
		name      string
		url       string
		stats     *ConnStats
		roots     *x509.CertPool
		wantProto string
	}{
		{"pagerduty tls", pd.URL() + PagerDutyEnqueuePath, &pd.ConnStats, pd.RootCAs(), "HTTP/2.0"},
		{"slack tls", slack.WebhookURL(), &slack.ConnStats, slack.RootCAs(), "HTTP/2.0"},
		{"pagerduty plain", plain.URL() + PagerDutyEnqueuePath, &plain.ConnStats, plain.RootCAs(), "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{ForceAttemptHTTP2: true}
			if isTLS := strings.HasPrefix(tc.url, "https:"); isTLS != (tc.roots != nil) {
				t.Fatalf("RootCAs() = %v for a server whose URL is %s", tc.roots, tc.url)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: tc.roots}
			c := &http.Client{Transport: tr}
			defer tr.CloseIdleConnections()
			for range 3 {
				resp, err := c.Post(tc.url, "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if n := tc.stats.Conns(); n != 1 {
				t.Errorf("Conns() = %d, want 1", n)
			}
			if p := tc.stats.Protos(); p[tc.wantProto] != 3 || len(p) != 1 {
				t.Errorf("Protos() = %v, want 3 over %s", p, tc.wantProto)
			}
		})
	}
}
