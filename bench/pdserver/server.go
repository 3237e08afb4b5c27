package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"notifier/internal/apitest"
)

// maxBody is more than the Events API takes (512 KB), so that apitest
// still sees an oversized body as too large.
const maxBody = 1 << 20

// options is how the endpoint answers.
type options struct {
	tls     bool          // serve HTTPS with a certificate made at start
	caOut   string        // where to write the CA certificate (PEM) when tls
	noH2    bool          // offer only HTTP/1.1 over TLS
	latency time.Duration // hold each enqueue request this long before answering
}

// server is internal/apitest's PagerDuty endpoint behind a server of its
// own, which adds what apitest does not have: TLS and latency. apitest's
// server gets a listener that never yields a connection; its handler is
// what this server calls, so validation and the record of requests are
// exactly apitest's.
type server struct {
	pd      *apitest.PagerDuty
	srv     *http.Server
	ln      net.Listener
	url     string
	latency time.Duration
	// sleep waits d or until ctx ends; tests replace it to see requests
	// wait side by side.
	sleep func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	conns    int                  // connections accepted (with TLS, full handshakes)
	protos   map[string]int       // requests per HTTP version
	firstAt  map[string]time.Time // when each dedup key's first trigger was accepted (answered 202)
	minHeld  time.Duration        // shortest time an enqueue request was held before its answer
	answered int                  // enqueue requests answered
}

// newServer serves on ln (taken over) as o says; call serve, then close.
func newServer(ln net.Listener, o options) (*server, error) {
	s := &server{
		pd:      apitest.NewPagerDutyServer(&noConns{addr: ln.Addr(), done: make(chan struct{})}),
		ln:      ln,
		url:     "http://" + ln.Addr().String(),
		latency: o.latency,
		sleep:   sleepCtx,
		protos:  map[string]int{},
		firstAt: map[string]time.Time{},
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.mu.Lock()
				s.conns++
				s.mu.Unlock()
			}
		},
	}
	if o.tls {
		cert, caPEM, err := newCertificate()
		if err != nil {
			s.pd.Close()
			return nil, err
		}
		if err := os.WriteFile(o.caOut, caPEM, 0o644); err != nil {
			s.pd.Close()
			return nil, fmt.Errorf("write the CA certificate: %w", err)
		}
		// ServeTLS adds "h2" and "http/1.1" to NextProtos: clients
		// choose, as with the real endpoint.
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.noH2 {
			s.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		}
		s.url = "https://" + ln.Addr().String()
	}
	return s, nil
}

// serve answers until close; it returns http.ErrServerClosed then.
func (s *server) serve() error {
	if s.srv.TLSConfig != nil {
		return s.srv.ServeTLS(s.ln, "", "")
	}
	return s.srv.Serve(s.ln)
}

func (s *server) close() {
	s.srv.Close()
	s.pd.Close()
}

// ServeHTTP holds an enqueue request for the latency, without holding
// any other, then lets apitest answer it, and notes what was answered.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != apitest.PagerDutyEnqueuePath {
		s.pd.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	// apitest reads the body too: keep a copy to learn the event's key.
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var ev struct {
		Action string `json:"event_action"`
		Key    string `json:"dedup_key"`
	}
	_ = json.Unmarshal(raw, &ev) // apitest answers what does not decode
	if s.latency > 0 {
		if err := s.sleep(r.Context(), s.latency); err != nil {
			return // the client went away
		}
	}
	sw := &statusWriter{ResponseWriter: w}
	s.pd.ServeHTTP(sw, r)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.protos[r.Proto]++
	if held := now.Sub(start); s.answered == 0 || held < s.minHeld {
		s.minHeld = held
	}
	s.answered++
	if _, seen := s.firstAt[ev.Key]; sw.status == http.StatusAccepted && ev.Action == "trigger" && !seen {
		s.firstAt[ev.Key] = now
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// statusWriter remembers the status apitest answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// noConns is a listener that never yields a connection: apitest's own
// server must have one, but every request comes through server.
type noConns struct {
	addr net.Addr
	once sync.Once
	done chan struct{}
}

func (l *noConns) Accept() (net.Conn, error) {
	<-l.done
	return nil, net.ErrClosed
}

func (l *noConns) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *noConns) Addr() net.Addr { return l.addr }

// newCertificate makes a CA (ECDSA P-256) and a server certificate it
// signs for 127.0.0.1, ::1 and localhost, as a real endpoint presents a
// certificate its clients verify against a root. It returns the server's
// certificate with its chain, and the CA certificate as PEM for clients
// to trust.
func newCertificate() (tls.Certificate, []byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bench/pdserver CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("server certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}
