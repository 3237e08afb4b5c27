package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// receiver is a webhook receiver on 127.0.0.1 that keeps every request
// and answers as a real one does: 200 "ok", or what a test programmed
// (a status with Retry-After and a text, an echo of the request, a
// request never answered).
type receiver struct {
	srv *httptest.Server

	mu     sync.Mutex
	reqs   []received
	next   []answer // programmed answers, used first
	conns  int
	protos map[string]int
}

// received is one request as it arrived.
type received struct {
	Method, Path, RawQuery, Proto string
	Header                        http.Header
	Body                          []byte
}

// answer is one programmed answer.
type answer struct {
	status     int
	retryAfter string
	text       string
	echo       bool // answer the request's URL, headers and body as the text
	stall      bool // never answer: wait until the client gives up
	location   string
}

func newReceiver(t *testing.T, overTLS bool) *receiver {
	t.Helper()
	r := &receiver{protos: map[string]int{}}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Listener.Close()
	r.srv.Listener = ln
	r.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
		}
	}
	if overTLS {
		r.srv.EnableHTTP2 = true
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the receiver's base URL.
func (r *receiver) URL() string { return r.srv.URL }

// trust makes n trust the receiver's TLS certificate.
func (r *receiver) trust(n *Notifier) {
	pool := x509.NewCertPool()
	pool.AddCert(r.srv.Certificate())
	n.http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, received{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery,
		Proto: req.Proto, Header: req.Header.Clone(), Body: body})
	r.protos[req.Proto]++
	var a answer
	if len(r.next) > 0 {
		a, r.next = r.next[0], r.next[1:]
	}
	r.mu.Unlock()
	switch {
	case a.stall:
		<-req.Context().Done()
		return
	case a.status == 0:
		io.WriteString(w, "ok")
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	text := a.text
	if a.echo {
		segs := strings.Split(req.URL.Path, "/")
		text = segs[len(segs)-1] + " " + req.URL.String() + "\n" + headerText(req.Header) + "\n" + string(body)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, text)
}

func headerText(h http.Header) string {
	var s string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			s += k + ": " + v + "\n"
		}
	}
	return s
}

// program queues answers for the next requests.
func (r *receiver) program(as ...answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next = append(r.next, as...)
}

// FailNext answers the next n requests with status (apitest's
// KeepAliveServer).
func (r *receiver) FailNext(n, status int, retryAfter string) {
	for range n {
		r.program(answer{status: status, retryAfter: retryAfter, text: "HTTP " + strconv.Itoa(status) + " from the test receiver"})
	}
}

// Conns is how many TCP connections the receiver accepted.
func (r *receiver) Conns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// Protos counts the requests by protocol.
func (r *receiver) Protos() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.protos)
}

// requests is every request received so far.
func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

// only is the one request received, failing the test otherwise.
func (r *receiver) only(t *testing.T) received {
	t.Helper()
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}
