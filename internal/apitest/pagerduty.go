package apitest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"unicode/utf8"
)

// PagerDutyEnqueuePath is where Events API v2 clients post (go-pagerduty
// appends it to the configured events endpoint).
const PagerDutyEnqueuePath = "/v2/enqueue"

// Limits the real Events API v2 enforces, as documented at
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ .
const (
	pdRoutingKeyLen = 32
	pdMaxDedupKey   = 255
	pdMaxSummary    = 1024
	pdMaxBody       = 512 << 10
)

// Response texts of the real API; clients and operators read them.
const (
	pdInvalidStatus   = "invalid event"
	pdInvalidMessage  = "Event object is invalid"
	pdThrottleStatus  = "throttle event"
	pdThrottleMessage = "Requests for this service are arriving too quickly. Please retry later."
)

// PagerDutyEvent is an Events API v2 event as it arrived on the wire.
// It is decoded leniently, as the real API does; Raw in PagerDutyRequest
// has the exact bytes for anything this struct does not name.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Client      string            `json:"client"`
	ClientURL   string            `json:"client_url"`
	Payload     *PagerDutyPayload `json:"payload"`
	Links       []map[string]any  `json:"links"`
	Images      []map[string]any  `json:"images"`
}

// PagerDutyPayload is the payload object of a trigger event.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component"`
	Group         string         `json:"group"`
	Class         string         `json:"class"`
	CustomDetails map[string]any `json:"custom_details"`
}

// PagerDutyRequest is one POST to the enqueue endpoint and what it was
// answered, kept whether it was accepted, rejected or failed on purpose,
// so tests can count attempts as well as deliveries.
type PagerDutyRequest struct {
	Seq    int            // arrival order, from 1
	Status int            // status answered; 0 when the request was stalled and never answered
	Errors []string       // validation errors answered with a 400
	Event  PagerDutyEvent // zero when the body was not a JSON object
	Raw    []byte         // the body exactly as received
	Header http.Header    // request headers (User-Agent, Content-Type)
}

// pdFailure is one programmed failure (see FailNext).
type pdFailure struct {
	status     int
	retryAfter string
}

// PagerDuty is a local Events API v2 endpoint. Give URL() to a client as
// its events URL. The zero value is not usable; call NewPagerDuty or
// NewPagerDutyServer.
type PagerDuty struct {
	ConnStats
	srv       *httptest.Server
	closeOnce sync.Once
	closed    chan struct{} // releases stalled requests on Close

	mu       sync.Mutex
	requests []PagerDutyRequest
	failures []pdFailure
	stalls   int
	onStall  func() // test hook: called (under mu) when a request starts to stall
}

// NewPagerDuty starts a PagerDuty Events API v2 server on a free port of
// 127.0.0.1. It panics when no port can be had, as httptest.NewServer
// does: a test cannot go on without it. Close it when done.
func NewPagerDuty() *PagerDuty {
	return NewPagerDutyServer(loopback("pagerduty"))
}

// NewPagerDutyServer serves the Events API v2 on ln, which it takes over
// (Close closes it). A demo program uses this to run the server in its
// own process on a known address:
//
//	ln, err := net.Listen("tcp", "127.0.0.1:8090")
//	...
//	pd := apitest.NewPagerDutyServer(ln)
//	defer pd.Close()
func NewPagerDutyServer(ln net.Listener) *PagerDuty {
	return newPagerDuty(ln, false)
}

// NewPagerDutyTLS is NewPagerDuty over TLS, offering HTTP/2 as
// events.pagerduty.com does; its certificate is its own: give RootCAs to
// the client.
func NewPagerDutyTLS() *PagerDuty {
	return newPagerDuty(loopback("pagerduty"), true)
}

func newPagerDuty(ln net.Listener, tlsOn bool) *PagerDuty {
	p := &PagerDuty{closed: make(chan struct{})}
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.Listener.Close()
	p.start(p.srv, ln, tlsOn)
	return p
}

// RootCAs trusts the server's certificate (nil when it is not TLS).
func (p *PagerDuty) RootCAs() *x509.CertPool { return rootCAs(p.srv) }

// URL is the base URL to configure as events_url (no path: clients append
// /v2/enqueue themselves).
func (p *PagerDuty) URL() string { return p.srv.URL }

// Close stops the server, first releasing any stalled request. It is safe
// to call more than once.
func (p *PagerDuty) Close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.srv.Close()
	})
}

// FailNext makes the next n requests fail with status before any
// validation, as the real service throttles or falls over regardless of
// the event. retryAfter, when not empty, is sent as the Retry-After
// header. Calls queue up: FailNext(1, 429, "2") then FailNext(1, 503, "")
// fails the next request with 429 and the one after with 503.
func (p *PagerDuty) FailNext(n int, status int, retryAfter string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failures = append(p.failures, pdFailure{status: status, retryAfter: retryAfter})
	}
}

// Recover drops the failures FailNext queued and not yet served: the
// service is back.
func (p *PagerDuty) Recover() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = nil
}

// StallNext makes the next n requests hang without an answer until the
// client gives up (its timeout or context closes the connection) or the
// server is closed: what a black-holed or overloaded endpoint looks like.
// Stalls apply before programmed failures.
func (p *PagerDuty) StallNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalls += n
}

// OnStall calls f (once per request, from the server's goroutine) when a
// request starts to stall (StallNext): a test learns that the client is
// waiting on the endpoint without polling.
func (p *PagerDuty) OnStall(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onStall = f
}

// Events returns a copy of every request received on the enqueue
// endpoint so far, in arrival order.
func (p *PagerDuty) Events() []PagerDutyRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PagerDutyRequest, len(p.requests))
	copy(out, p.requests)
	return out
}

// ServeHTTP answers like events.pagerduty.com: POST JSON to /v2/enqueue
// only; 202 for a valid event, 400 with the API's error object for an
// invalid one, and whatever FailNext or StallNext programmed.
func (p *PagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != PagerDutyEnqueuePath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	raw, readErr := io.ReadAll(io.LimitReader(r.Body, pdMaxBody+1))
	var ev PagerDutyEvent
	decodeErr := json.Unmarshal(raw, &ev)
	if decodeErr != nil {
		ev = PagerDutyEvent{}
	}

	rec := PagerDutyRequest{Raw: raw, Event: ev, Header: r.Header.Clone()}
	p.mu.Lock()
	rec.Seq = len(p.requests) + 1
	stall := p.stalls > 0
	var fail pdFailure
	failing := !stall && len(p.failures) > 0
	switch {
	case stall:
		p.stalls--
		if p.onStall != nil {
			p.onStall()
		}
	case failing:
		fail = p.failures[0]
		p.failures = p.failures[1:]
	}
	status, body := http.StatusAccepted, any(nil)
	switch {
	case stall:
		status = 0
	case failing:
		status, body = fail.status, pdFailureBody(fail.status)
	case readErr != nil:
		status, body = http.StatusBadRequest, pdUnrecognized("could not read request body")
	case len(raw) > pdMaxBody:
		status, body = http.StatusBadRequest, pdInvalid("Event payload is too large (must be at most 512 KB)")
	case !pdIsJSON(r.Header.Get("Content-Type")):
		status, body = http.StatusBadRequest, pdUnrecognized("Content-Type must be application/json")
	case decodeErr != nil:
		status, body = http.StatusBadRequest, pdUnrecognized("JSON parse error")
	default:
		if errs := pdValidate(&ev); len(errs) > 0 {
			rec.Errors = errs
			status, body = http.StatusBadRequest, pdInvalid(errs...)
		} else {
			key := ev.DedupKey
			if key == "" {
				key = pdNewDedupKey()
			}
			body = map[string]string{"status": "success", "message": "Event processed", "dedup_key": key}
		}
	}
	rec.Status = status
	p.requests = append(p.requests, rec)
	p.mu.Unlock()

	if stall {
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
		// Drop the connection without an answer: returning normally
		// would send an empty 200.
		panic(http.ErrAbortHandler)
	}
	if failing && fail.retryAfter != "" {
		w.Header().Set("Retry-After", fail.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// pdValidate checks an event the way the real API does and returns its
// error texts; none means the event is accepted.
func pdValidate(ev *PagerDutyEvent) []string {
	var errs []string
	if len(ev.RoutingKey) != pdRoutingKeyLen {
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	switch ev.EventAction {
	case "trigger", "acknowledge", "resolve":
	case "":
		errs = append(errs, "'event_action' is missing or blank")
	default:
		errs = append(errs, "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
	}
	if utf8.RuneCountInString(ev.DedupKey) > pdMaxDedupKey {
		errs = append(errs, "'dedup_key' is too long (must be at most 255 characters)")
	}
	if (ev.EventAction == "acknowledge" || ev.EventAction == "resolve") && strings.TrimSpace(ev.DedupKey) == "" {
		errs = append(errs, "'dedup_key' is missing or blank")
	}
	if ev.EventAction != "trigger" {
		return errs
	}
	pl := ev.Payload
	if pl == nil {
		return append(errs, "'payload' is missing or is not a JSON object")
	}
	switch {
	case strings.TrimSpace(pl.Summary) == "":
		errs = append(errs, "'payload.summary' is missing or blank")
	case utf8.RuneCountInString(pl.Summary) > pdMaxSummary:
		errs = append(errs, "'payload.summary' is too long (must be at most 1024 characters)")
	}
	if strings.TrimSpace(pl.Source) == "" {
		errs = append(errs, "'payload.source' is missing or blank")
	}
	switch pl.Severity {
	case "critical", "error", "warning", "info":
	case "":
		errs = append(errs, "'payload.severity' is missing or blank")
	default:
		errs = append(errs, "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
	}
	return errs
}

// pdInvalid is the API's answer to a well-formed but invalid event.
func pdInvalid(errs ...string) map[string]any {
	return map[string]any{"status": pdInvalidStatus, "message": pdInvalidMessage, "errors": errs}
}

// pdUnrecognized is the API's answer to a body that is not an event at all.
func pdUnrecognized(why string) map[string]any {
	return map[string]any{"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": []string{why}}
}

// pdFailureBody is what the real service sends with a programmed failure.
func pdFailureBody(status int) map[string]any {
	switch {
	case status == http.StatusTooManyRequests:
		return map[string]any{"status": pdThrottleStatus, "message": pdThrottleMessage}
	case status == http.StatusBadRequest:
		return pdInvalid("rejected by apitest.PagerDuty.FailNext")
	default:
		return map[string]any{"status": strings.ToLower(http.StatusText(status)), "message": fmt.Sprintf("HTTP %d from apitest.PagerDuty.FailNext", status)}
	}
}

// pdIsJSON reports whether a Content-Type names JSON.
func pdIsJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// pdNewDedupKey makes the key the real API assigns to a trigger sent
// without one: 32 hex digits.
func pdNewDedupKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
