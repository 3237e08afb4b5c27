package apitest

import (
	"crypto/x509"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
)

// ConnStats counts what a fake's clients cost it: the TCP connections it
// accepted and the protocol each request came over, so a test can show
// that a client keeps one connection alive across messages (and speaks
// HTTP/2 where offered). The fakes embed it.
type ConnStats struct {
	mu     sync.Mutex
	conns  int
	protos map[string]int
}

// Conns is how many TCP connections the server has accepted so far.
func (c *ConnStats) Conns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conns
}

// Protos counts the requests received so far by protocol ("HTTP/1.1",
// "HTTP/2.0").
func (c *ConnStats) Protos() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.protos)
}

// connState is the server's http.Server.ConnState.
func (c *ConnStats) connState(_ net.Conn, s http.ConnState) {
	if s != http.StateNew {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns++
}

// counted wraps h to count each request's protocol.
func (c *ConnStats) counted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.protos == nil {
			c.protos = map[string]int{}
		}
		c.protos[r.Proto]++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// start serves srv on ln, counting into c; with tlsOn over TLS with a
// certificate of its own, offering HTTP/2 as real services do.
func (c *ConnStats) start(srv *httptest.Server, ln net.Listener, tlsOn bool) {
	srv.Listener = ln
	srv.Config.Handler = c.counted(srv.Config.Handler)
	srv.Config.ConnState = c.connState
	if tlsOn {
		srv.EnableHTTP2 = true
		srv.StartTLS()
		return
	}
	srv.Start()
}

// rootCAs is a pool trusting srv's certificate (nil for a plain server).
func rootCAs(srv *httptest.Server) *x509.CertPool {
	cert := srv.Certificate()
	if cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
