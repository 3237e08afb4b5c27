package apitest

import (
	"bytes"
	"crypto/x509"
	_ "embed" // the Adaptive Card schema
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TeamsMaxMessage is Teams' message size limit, "approximately 28 KB",
// read strictly: a larger body is refused with 413.
const TeamsMaxMessage = 28 * 1000

// TeamsSignature is the sig= parameter of the local webhook's URL: the
// secret a Workflows URL carries. Tests look for it in error texts.
const TeamsSignature = "Zx9sEcReTsIgNaTuRe0123456789abcdefGHIJKL"

// TeamsPath is the path of the local webhook's URL, shaped as the
// Workflows webhooks Teams hands out.
const TeamsPath = "/workflows/0f1e2d3c4b5a69788796a5b4c3d2e1f0/triggers/manual/paths/invoke"

// teamsCardType is the content type of an Adaptive Card attachment.
const teamsCardType = "application/vnd.microsoft.card.adaptive"

// adaptiveCard15 is the official Adaptive Card 1.5 schema, MIT
// (testdata/README.md says where it comes from).
//
//go:embed testdata/adaptive-card-1.5.json
var adaptiveCard15 []byte

// cardSchemas are the official schemas by the version a card declares.
var cardSchemas = map[string][]byte{"1.5": adaptiveCard15}

var cardSchema struct {
	once     sync.Once
	compiled map[string]*jsonschema.Schema
	err      error
}

// compiledCardSchemas compiles the embedded schemas once per process.
func compiledCardSchemas() (map[string]*jsonschema.Schema, error) {
	cardSchema.once.Do(func() {
		cardSchema.compiled = map[string]*jsonschema.Schema{}
		for v, b := range cardSchemas {
			name := "adaptive-card-" + v + ".json"
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				cardSchema.err = fmt.Errorf("%s: %w", name, err)
				return
			}
			c := jsonschema.NewCompiler()
			c.AssertFormat()
			if err := c.AddResource(name, doc); err != nil {
				cardSchema.err = fmt.Errorf("%s: %w", name, err)
				return
			}
			if cardSchema.compiled[v], err = c.Compile(name); err != nil {
				cardSchema.err = fmt.Errorf("%s: %w", name, err)
				return
			}
		}
	})
	return cardSchema.compiled, cardSchema.err
}

// TeamsRequest is one POST the local webhook received and its answer.
type TeamsRequest struct {
	Seq     int         // arrival order, from 1
	Status  int         // status answered
	Raw     []byte      // the body exactly as received
	Header  http.Header // request headers
	Problem string      // why it was refused, "" when accepted
	// Card is the first attachment's card as sent (JSON), when the
	// message got as far as the schema check.
	Card json.RawMessage
}

type teamsFailure struct {
	status     int
	retryAfter string
}

// Teams is a local Teams Workflows webhook ("Post to a channel when a
// webhook request is received") on 127.0.0.1. It answers as the flow's
// trigger does: 202 Accepted with no body, 401 without the signature,
// 404 for another workflow, 429 with Retry-After and 5xx when programmed,
// errors as Azure's {"error":{"code","message"}} object.
//
// Stricter than the real one, on purpose: the real trigger accepts any
// POST with 202 and the flow run fails afterwards — a message that is
// not one Adaptive Card, a card Teams cannot read, a message over about
// 28 KB — so the card is lost with nothing but a failed run to show.
// Here each is refused at once with 400 (413 for the size), with the
// flow run's own words, so that a test sees it. Every card is checked
// against the official Adaptive Card schema of the version it declares
// (1.5, the one Teams renders).
//
// The zero value is not usable; call NewTeams, NewTeamsTLS or
// NewTeamsServer.
type Teams struct {
	ConnStats
	srv     *httptest.Server
	schemas map[string]*jsonschema.Schema

	mu       sync.Mutex
	requests []TeamsRequest
	failures []teamsFailure
}

// NewTeams starts a Teams Workflows webhook on a free port of 127.0.0.1.
// It panics when no port can be had or the embedded schema does not
// compile: a test cannot go on without it. Close it when done.
func NewTeams() *Teams { return newTeams(loopback("teams"), false) }

// NewTeamsTLS is NewTeams over TLS with HTTP/2, as Teams' endpoints are;
// give RootCAs to the client.
func NewTeamsTLS() *Teams { return newTeams(loopback("teams"), true) }

// NewTeamsServer serves the webhook on ln, which it takes over (Close
// closes it).
func NewTeamsServer(ln net.Listener) *Teams { return newTeams(ln, false) }

func newTeams(ln net.Listener, tlsOn bool) *Teams {
	schemas, err := compiledCardSchemas()
	if err != nil {
		ln.Close()
		panic(fmt.Sprintf("apitest: teams: compile the Adaptive Card schema: %v", err))
	}
	s := &Teams{schemas: schemas}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.Listener.Close()
	s.start(s.srv, ln, tlsOn)
	return s
}

// URL is the webhook's URL, shaped as Teams gives it, signature included.
func (s *Teams) URL() string {
	return s.srv.URL + TeamsPath + "?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + TeamsSignature
}

// RootCAs trusts the server's certificate (nil when it is not TLS).
func (s *Teams) RootCAs() *x509.CertPool { return rootCAs(s.srv) }

// Close stops the server. It is safe to call more than once.
func (s *Teams) Close() { s.srv.Close() }

// FailNext makes the next n requests fail with status (and Retry-After
// when not empty) before any check, as a throttled or failing service
// does whatever the request. Calls queue up.
func (s *Teams) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, teamsFailure{status, retryAfter})
	}
}

// Requests returns a copy of every request received so far, in arrival
// order.
func (s *Teams) Requests() []TeamsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Cards are the cards accepted so far (202), in order, as sent.
func (s *Teams) Cards() []json.RawMessage {
	var out []json.RawMessage
	for _, r := range s.Requests() {
		if r.Status == http.StatusAccepted {
			out = append(out, r.Card)
		}
	}
	return out
}

// ServeHTTP answers as a Workflows trigger whose flow posts the card
// (see Teams).
func (s *Teams) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := TeamsRequest{Raw: body, Header: r.Header.Clone()}
	s.mu.Lock()
	var fail *teamsFailure
	if len(s.failures) > 0 {
		fail = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()

	answer := func(status int, code, message string) {
		rec.Status, rec.Problem = status, message
		s.mu.Lock()
		rec.Seq = len(s.requests) + 1
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		if status == http.StatusAccepted {
			// No body, its end sent after the headers rather than with
			// them (both are HTTP): a client that reads the answer to its
			// end then knows the exchange is over when it returns, and a
			// Close right after finds the connection idle. Ended with the
			// headers, Go's HTTP/2 client returns before it forgets the
			// stream, and Close may keep the connection (a test's race,
			// nothing a user sees).
			w.WriteHeader(status)
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
	}
	switch {
	case fail != nil:
		if fail.retryAfter != "" {
			w.Header().Set("Retry-After", fail.retryAfter)
		}
		code := map[int]string{429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}[fail.status]
		answer(fail.status, code, fmt.Sprintf("programmed failure %d", fail.status))
	case r.URL.Path != TeamsPath:
		answer(http.StatusNotFound, "WorkflowNotFound", "The workflow could not be found.")
	case r.URL.Query().Get("sig") != TeamsSignature:
		answer(http.StatusUnauthorized, "DirectApiAuthorizationRequired", "The request must be authenticated only by Shared Access scheme.")
	case r.Method != http.MethodPost:
		answer(http.StatusMethodNotAllowed, "TriggerRequestMethodNotValid", "The HTTP method for this request is not valid: expected 'Post'.")
	case len(body) > TeamsMaxMessage:
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
// against the official schema of its version. It returns the first
// card, and why the message is refused ("" when it is not).
func (s *Teams) check(r *http.Request, body []byte) (json.RawMessage, string) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, "the result of the evaluation of 'foreach' expression '@triggerOutputs()?['body']?['attachments']' is of type 'Null': Content-Type " + ct + " is not JSON"
	}
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			Content     json.RawMessage `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, "the request body is not JSON: " + err.Error()
	}
	if msg.Type != "message" || len(msg.Attachments) == 0 {
		return nil, fmt.Sprintf("type %q with %d attachments: the result of the evaluation of 'foreach' expression '@triggerOutputs()?['body']?['attachments']' must be a valid array", msg.Type, len(msg.Attachments))
	}
	for i, a := range msg.Attachments {
		if a.ContentType != teamsCardType {
			return nil, fmt.Sprintf("attachments[%d]: contentType %q: The specified Teams flowbot adaptive card request is missing or invalid", i, a.ContentType)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.Content))
		if err != nil {
			return nil, fmt.Sprintf("attachments[%d]: content: %v", i, err)
		}
		var head struct{ Type, Version string }
		_ = json.Unmarshal(a.Content, &head)
		if head.Type != "AdaptiveCard" {
			return nil, fmt.Sprintf("attachments[%d]: Property 'type' must be 'AdaptiveCard'", i)
		}
		schema, ok := s.schemas[head.Version]
		if !ok {
			return nil, fmt.Sprintf("attachments[%d]: version %q: no Adaptive Card schema of that version (Teams renders up to 1.5)", i, head.Version)
		}
		if err := schema.Validate(doc); err != nil {
			return nil, fmt.Sprintf("attachments[%d]: not a valid Adaptive Card %s: %v", i, head.Version, err)
		}
	}
	return msg.Attachments[0].Content, ""
}
