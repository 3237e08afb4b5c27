package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// start serves o on a free loopback port until the test ends.
func start(t *testing.T, o options, hook func(*server)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newServer(ln, o)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.serve() }()
	t.Cleanup(func() {
		s.close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// client trusts only roots (none: nothing) and speaks HTTP/2 where the
// server offers it, as http.DefaultTransport does.
func client(t *testing.T, roots *x509.CertPool) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func trusting(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no PEM certificate", caFile)
	}
	return pool
}

func post(c *http.Client, url, key string) (*http.Response, error) {
	body := fmt.Sprintf(`{"routing_key":"bench0routing0key000000000000001","event_action":"trigger","dedup_key":%q,"payload":{"summary":"s","source":"h","severity":"critical"}}`, key)
	resp, err := c.Post(url+"/v2/enqueue", "application/json", bytes.NewReader([]byte(body)))
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func TestTLSClientTrustingTheWrittenCAIsAccepted(t *testing.T) {
	for _, tc := range []struct {
		noH2  bool
		proto string
	}{{false, "HTTP/2.0"}, {true, "HTTP/1.1"}} {
		t.Run(tc.proto, func(t *testing.T) {
			ca := filepath.Join(t.TempDir(), "ca.pem")
			s := start(t, options{tls: true, caOut: ca, noH2: tc.noH2}, nil)
			if want := "https://" + s.ln.Addr().String(); s.url != want {
				t.Fatalf("url = %q, want %q", s.url, want)
			}
			resp, err := post(client(t, trusting(t, ca)), s.url, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusAccepted || resp.TLS == nil || resp.Proto != tc.proto {
				t.Fatalf("got %d over %s (TLS %v), want 202 over TLS %s", resp.StatusCode, resp.Proto, resp.TLS != nil, tc.proto)
			}
			// Reached by name too: the certificate names localhost.
			_, port, _ := net.SplitHostPort(s.ln.Addr().String())
			if resp, err := post(client(t, trusting(t, ca)), "https://localhost:"+port, "k2"); err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("via localhost: %v %v", resp, err)
			}
			st := s.stats()
			if st.Accepted["k1"] != 1 || st.AcceptedAt["k1"] == 0 || st.Protos[tc.proto] != 2 {
				t.Errorf("stats = %+v, want k1 accepted once with a time, 2 requests over %s", st, tc.proto)
			}
		})
	}
}

func TestTLSClientNotTrustingTheCAFailsVerification(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	s := start(t, options{tls: true, caOut: ca}, nil)
	// Trusts another run's CA: same subject, other key.
	other := filepath.Join(t.TempDir(), "other.pem")
	start(t, options{tls: true, caOut: other}, nil)
	for name, roots := range map[string]*x509.CertPool{"no roots": x509.NewCertPool(), "another CA": trusting(t, other)} {
		_, err := post(client(t, roots), s.url, "k")
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("%s: err = %v, want x509.UnknownAuthorityError", name, err)
		}
	}
	if st := s.stats(); st.Requests != 0 {
		t.Errorf("%d requests reached the handler, want none", st.Requests)
	}
}

func TestLatencyHoldsEachRequestAtLeastThatLong(t *testing.T) {
	const latency = 30 * time.Millisecond
	s := start(t, options{latency: latency}, nil)
	t0 := time.Now()
	resp, err := post(client(t, nil), s.url, "k")
	elapsed := time.Since(t0)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post: %v %v", resp, err)
	}
	// Lower bounds: neither can be reached early, whatever the load.
	if elapsed < latency {
		t.Errorf("answered after %s, want at least %s", elapsed, latency)
	}
	if st := s.stats(); time.Duration(st.MinHeldNS) < latency {
		t.Errorf("server held the request %s, want at least %s", time.Duration(st.MinHeldNS), latency)
	}
}

// The latency is a wait per request: two requests on one HTTP/2
// connection wait at the same time, and neither is answered before its
// wait ends.
func TestLatencyDoesNotHoldOtherRequests(t *testing.T) {
	const latency = time.Hour // never elapses: the fake sleep decides
	entered := make(chan time.Duration, 3)
	release := make(chan struct{}) // one receive lets one request go on
	ca := filepath.Join(t.TempDir(), "ca.pem")
	s := start(t, options{tls: true, caOut: ca, latency: latency}, func(s *server) {
		s.sleep = func(ctx context.Context, d time.Duration) error {
			entered <- d
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	c := client(t, trusting(t, ca))
	var wg sync.WaitGroup
	codes := make([]int, 3)
	send := func(i int) {
		wg.Go(func() {
			if resp, err := post(c, s.url, fmt.Sprint("k", i)); err != nil {
				t.Error(err)
			} else {
				codes[i] = resp.StatusCode
			}
		})
	}
	// The first request opens the HTTP/2 connection the others share.
	send(0)
	<-entered
	release <- struct{}{}
	wg.Wait()
	send(1)
	send(2)
	for range 2 {
		if d := <-entered; d != latency {
			t.Errorf("waited %s, want %s", d, latency)
		}
	}
	// Both are waiting now, and neither has been answered.
	if st := s.stats(); st.Requests != 1 {
		t.Errorf("%d requests answered, want only the first: the others wait", st.Requests)
	}
	release <- struct{}{}
	release <- struct{}{}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusAccepted {
			t.Errorf("request %d: status %d, want 202", i, code)
		}
	}
	if st := s.stats(); st.Conns != 1 || st.Protos["HTTP/2.0"] != 3 {
		t.Errorf("%d connections, protocols %v; want all requests on one HTTP/2 connection", st.Conns, st.Protos)
	}
}
