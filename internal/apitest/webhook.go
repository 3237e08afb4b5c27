package apitest

import (
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
)

// WebhookRequest is one request a Webhook received, whatever it was
// answered.
type WebhookRequest struct {
	Seq                           int // arrival order, from 1
	Method, Path, RawQuery, Proto string
	Header                        http.Header
	Body                          []byte
	Status                        int // status answered; 0 when stalled and never answered
}

// WebhookAnswer is one programmed answer (Program). The zero value is
// the default answer: 200 "ok".
type WebhookAnswer struct {
	Status     int    // 0: 200 "ok"
	RetryAfter string // the Retry-After header, when not empty
	Location   string // the Location header, when not empty
	Text       string // the body
	// Echo answers, as Text, the last path segment, the request's URL,
	// its headers (sorted) and its body: what a receiver that quotes the
	// request back looks like, for tests that secrets stay out of errors.
	Echo bool
	// Stall never answers: the request hangs until the client gives up
	// or the server is closed.
	Stall bool
}

// Webhook is a generic HTTP webhook receiver: it keeps every request,
// whatever its method and path, and answers 200 "ok", or what was
// programmed (Program, FailNext, StallNext). The zero value is not
// usable; call NewWebhook, NewWebhookTLS or NewWebhookServer.
type Webhook struct {
	ConnStats
	srv       *httptest.Server
	closeOnce sync.Once
	closed    chan struct{} // releases stalled requests on Close

	mu      sync.Mutex
	reqs    []WebhookRequest
	next    []WebhookAnswer // programmed answers, used first
	onStall func()          // called (under mu) when a request starts to stall
}

// NewWebhook starts a webhook receiver on a free port of 127.0.0.1. It
// panics when no port can be had, as httptest.NewServer does. Close it
// when done.
func NewWebhook() *Webhook { return newWebhook(loopback("webhook"), false) }

// NewWebhookTLS is NewWebhook over TLS, offering HTTP/2; its certificate
// is its own: give RootCAs to the client.
func NewWebhookTLS() *Webhook { return newWebhook(loopback("webhook"), true) }

// NewWebhookServer serves a webhook receiver on ln, which it takes over
// (Close closes it): a demo runs it on a known address.
func NewWebhookServer(ln net.Listener) *Webhook { return newWebhook(ln, false) }

func newWebhook(ln net.Listener, tlsOn bool) *Webhook {
	w := &Webhook{closed: make(chan struct{})}
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(w.serve))
	w.srv.Listener.Close()
	w.start(w.srv, ln, tlsOn)
	return w
}

// URL is the receiver's base URL; any path under it is received too.
func (w *Webhook) URL() string { return w.srv.URL }

// RootCAs trusts the server's certificate (nil when it is not TLS).
func (w *Webhook) RootCAs() *x509.CertPool { return rootCAs(w.srv) }

// Close stops the server, first releasing any stalled request. It is
// safe to call more than once.
func (w *Webhook) Close() {
	w.closeOnce.Do(func() {
		close(w.closed)
		w.srv.Close()
	})
}

// Program queues answers for the next requests, one each, in order.
func (w *Webhook) Program(as ...WebhookAnswer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next = append(w.next, as...)
}

// FailNext answers the next n requests with status (and Retry-After
// when retryAfter is not empty) and a short text. Calls queue up.
func (w *Webhook) FailNext(n, status int, retryAfter string) {
	for range n {
		w.Program(WebhookAnswer{Status: status, RetryAfter: retryAfter, Text: "HTTP " + strconv.Itoa(status) + " from apitest.Webhook"})
	}
}

// StallNext leaves the next n requests unanswered until the client
// gives up or the server is closed.
func (w *Webhook) StallNext(n int) {
	for range n {
		w.Program(WebhookAnswer{Stall: true})
	}
}

// OnStall calls f (once per request, from the server's goroutine) when a
// request starts to stall: a test learns that the client is waiting
// without polling.
func (w *Webhook) OnStall(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onStall = f
}

// Requests returns a copy of every request received so far, in arrival
// order.
func (w *Webhook) Requests() []WebhookRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reqs)
}

func (w *Webhook) serve(rw http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	w.mu.Lock()
	var a WebhookAnswer
	if len(w.next) > 0 {
		a, w.next = w.next[0], w.next[1:]
	}
	status := a.Status
	switch {
	case a.Stall:
		status = 0
	case status == 0:
		status = http.StatusOK
	}
	w.reqs = append(w.reqs, WebhookRequest{Seq: len(w.reqs) + 1, Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery,
		Proto: req.Proto, Header: req.Header.Clone(), Body: body, Status: status})
	if a.Stall && w.onStall != nil {
		w.onStall()
	}
	w.mu.Unlock()

	switch {
	case a.Stall:
		select {
		case <-req.Context().Done():
		case <-w.closed:
		}
		// Drop the connection without an answer: returning normally
		// would send an empty 200.
		panic(http.ErrAbortHandler)
	case a.Status == 0:
		io.WriteString(rw, "ok")
		return
	}
	if a.RetryAfter != "" {
		rw.Header().Set("Retry-After", a.RetryAfter)
	}
	if a.Location != "" {
		rw.Header().Set("Location", a.Location)
	}
	text := a.Text
	if a.Echo {
		segs := strings.Split(req.URL.Path, "/")
		text = segs[len(segs)-1] + " " + req.URL.String() + "\n" + headerText(req.Header) + "\n" + string(body)
	}
	rw.WriteHeader(a.Status)
	io.WriteString(rw, text)
}

// headerText is h one "Name: value" line a value, sorted by name.
func headerText(h http.Header) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}
