package msteams

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// teamsMaxMessage is Teams' message size limit, "approximately 28 KB",
// read strictly.
const teamsMaxMessage = 28 * 1000

// teamsSig is the signature of the local webhook's URL: the secret.
const teamsSig = "Zx9sEcReTsIgNaTuRe0123456789abcdefGHIJKL"

// cardSchemas are the official Adaptive Card schemas by the version a
// card declares (testdata/README.md says where they come from).
var cardSchemas = map[string]string{"1.5": "testdata/adaptive-card-1.5.json"}

var (
	compileOnce sync.Once
	compiled    map[string]*jsonschema.Schema
	compileErr  error
)

// schemaFor compiles the official schema of version once per test run.
func schemaFor(t testing.TB, version string) *jsonschema.Schema {
	t.Helper()
	compileOnce.Do(func() {
		compiled = map[string]*jsonschema.Schema{}
		for v, path := range cardSchemas {
			b, err := os.ReadFile(path)
			if err != nil {
				compileErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				compileErr = fmt.Errorf("%s: %w", path, err)
				return
			}
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			if err := c.AddResource(path, doc); err != nil {
				compileErr = err
				return
			}
			if compiled[v], err = c.Compile(path); err != nil {
				compileErr = fmt.Errorf("%s: %w", path, err)
				return
			}
		}
	})
	if compileErr != nil {
		t.Fatalf("compile the Adaptive Card schema: %v", compileErr)
	}
	return compiled[version]
}

// teamsRequest is one POST the local webhook received and its answer.
type teamsRequest struct {
	Status  int
	Raw     []byte
	Header  http.Header
	Problem string // why it was refused, "" when accepted
	Card    Card   // the first attachment's card, when it decoded
}

type teamsFailure struct {
	status     int
	retryAfter string
}

// teams is a local Teams Workflows webhook ("Post to a channel when a
// webhook request is received") on 127.0.0.1. It answers as the flow's
// trigger does: 202 Accepted with no body, 401 without the signature,
// 429 with Retry-After and 5xx when programmed, and errors as Azure's
// {"error":{"code","message"}} object.
//
// Stricter than the real one, on purpose: the real trigger accepts any
// POST with 202 and the flow run fails afterwards — a message that is
// not one Adaptive Card, a card Teams cannot read, a message over about
// 28 KB — so the card is lost with nothing but a failed run to show.
// Here each is refused at once with 400 (413 for the size), with the
// flow run's own words, so that a test sees it. Every card is checked
// against the official Adaptive Card schema of the version it declares.
type teams struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	requests []teamsRequest
	failures []teamsFailure
	conns    int
	protos   map[string]int
}

const teamsPath = "/workflows/0f1e2d3c4b5a69788796a5b4c3d2e1f0/triggers/manual/paths/invoke"

func newTeams(t testing.TB) *teams { return startTeams(t, false) }

// newTeamsTLS is newTeams over TLS with HTTP/2, as Teams' endpoints are;
// give RootCAs to the client.
func newTeamsTLS(t testing.TB) *teams { return startTeams(t, true) }

func startTeams(t testing.TB, tlsOn bool) *teams {
	s := &teams{t: t, protos: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	if tlsOn {
		s.srv.EnableHTTP2 = true
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the webhook's URL, shaped as Teams gives it, signature included.
func (s *teams) URL() string {
	return s.srv.URL + teamsPath + "?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + teamsSig
}

func (s *teams) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return pool
}

// FailNext makes the next n requests fail with status (and Retry-After
// when not empty) before any check, as a throttled or failing service
// does whatever the request. Calls queue up.
func (s *teams) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, teamsFailure{status, retryAfter})
	}
}

// Conns is how many TCP connections the server has accepted.
func (s *teams) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Protos counts the requests by protocol.
func (s *teams) Protos() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.protos)
}

// Requests are every request received so far, in order.
func (s *teams) Requests() []teamsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]teamsRequest(nil), s.requests...)
}

// Cards are the cards accepted so far, in order.
func (s *teams) Cards() []Card {
	var out []Card
	for _, r := range s.Requests() {
		if r.Status == http.StatusAccepted {
			out = append(out, r.Card)
		}
	}
	return out
}

// LastCard is the last card accepted; the test fails when there is none.
func (s *teams) LastCard() Card {
	s.t.Helper()
	cards := s.Cards()
	if len(cards) == 0 {
		s.t.Fatalf("no card was accepted; requests: %+v", s.Requests())
	}
	return cards[len(cards)-1]
}

func (s *teams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := teamsRequest{Raw: body, Header: r.Header.Clone()}
	s.mu.Lock()
	s.protos[r.Proto]++
	var fail *teamsFailure
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()

	answer := func(status int, code, message string) {
		rec.Status, rec.Problem = status, message
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		if status == http.StatusAccepted {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
	}
	switch {
	case fail != nil:
		if fail.retryAfter != "" {
			w.Header().Set("Retry-After", fail.retryAfter)
		}
		code := map[int]string{429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}[fail.status]
		answer(fail.status, code, fmt.Sprintf("programmed failure %d", fail.status))
	case r.URL.Path != teamsPath:
		answer(http.StatusNotFound, "WorkflowNotFound", "The workflow could not be found.")
	case r.URL.Query().Get("sig") != teamsSig:
		answer(http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.")
	case r.Method != http.MethodPost:
		answer(http.StatusMethodNotAllowed, "TriggerRequestMethodNotValid", "The HTTP method for this request is not valid: expected 'Post'.")
	case len(body) > teamsMaxMessage:
		answer(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("Request Entity too large: %d bytes", len(body)))
	default:
		card, problem := s.check(r, body)
		rec.Card = card
		if problem != "" {
			answer(http.StatusBadRequest, "InvalidRequestContent", problem)
			return
		}
		answer(http.StatusAccepted, "", "")
	}
}

// check reads the message as the flow does — a JSON body with
// attachments, each an Adaptive Card — and the card as Teams does,
// against the official schema of its version.
func (s *teams) check(r *http.Request, body []byte) (Card, string) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return Card{}, "the result of the evaluation of 'foreach' expression '@triggerOutputs()?['body']?['attachments']' is of type 'Null': Content-Type " + ct + " is not JSON"
	}
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			Content     json.RawMessage `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return Card{}, "the request body is not JSON: " + err.Error()
	}
	if msg.Type != "message" || len(msg.Attachments) == 0 {
		return Card{}, fmt.Sprintf("type %q with %d attachments: the result of the evaluation of 'foreach' expression '@triggerOutputs()?['body']?['attachments']' must be a valid array", msg.Type, len(msg.Attachments))
	}
	var card Card
	for i, a := range msg.Attachments {
		if a.ContentType != contentType {
			return Card{}, fmt.Sprintf("attachments[%d]: contentType %q: The specified Teams flowbot adaptive card request is missing or invalid", i, a.ContentType)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.Content))
		if err != nil {
			return Card{}, fmt.Sprintf("attachments[%d]: content: %v", i, err)
		}
		var head struct{ Type, Version string }
		json.Unmarshal(a.Content, &head)
		if head.Type != "AdaptiveCard" {
			return Card{}, fmt.Sprintf("attachments[%d]: Property 'type' must be 'AdaptiveCard'", i)
		}
		if _, ok := cardSchemas[head.Version]; !ok {
			return Card{}, fmt.Sprintf("attachments[%d]: version %q: no Adaptive Card schema of that version (Teams renders up to 1.5)", i, head.Version)
		}
		if err := schemaFor(s.t, head.Version).Validate(doc); err != nil {
			return Card{}, fmt.Sprintf("attachments[%d]: not a valid Adaptive Card %s: %v", i, head.Version, err)
		}
		if i == 0 {
			dec := json.NewDecoder(bytes.NewReader(a.Content))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&card); err != nil {
				return Card{}, fmt.Sprintf("attachments[%d]: %v", i, err)
			}
		}
	}
	return card, ""
}
