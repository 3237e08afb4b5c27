package apitest

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// The one channel the fake Slack workspace has. The Web API accepts it by
// ID or by name (with or without "#"), as Slack does, and always answers
// with the ID.
const (
	SlackChannelID   = "C123"
	SlackChannelName = "alerts"
)

// Slack's own limits that the fake enforces, so that a client which
// forgets to truncate fails here rather than in production.
// https://api.slack.com/methods/chat.postMessage#truncating
const (
	slackMaxText        = 40000 // characters of top-level text
	slackMaxAttachments = 100
	slackMaxBody        = 4 << 20
)

// Block Kit limits, https://docs.slack.dev/reference/block-kit/blocks
// (formerly api.slack.com/reference/block-kit/blocks): at most 50 blocks
// in a message; a section's text at most 3000 characters and its fields
// at most 10 of 2000 each; a header's text at most 150. Slack answers
// invalid_blocks when one is broken.
const (
	slackMaxBlocks       = 50
	slackMaxSectionText  = 3000
	slackMaxFields       = 10
	slackMaxFieldText    = 2000
	slackMaxHeaderText   = 150
	slackErrInvalidBlock = "invalid_blocks"
)

// ReceivedMessage is one message the fake accepted, as it arrived on the
// wire. Rejected requests are not recorded.
type ReceivedMessage struct {
	Method      string          // "webhook", "postMessage" or "update"
	Endpoint    string          // request path: the webhook path or /api/chat.postMessage, /api/chat.update
	Channel     string          // Web API: the channel ID; webhook: the (ignored) channel override, usually ""
	Text        string          // top-level text, unescaped as sent
	TS          string          // Web API: the message's ts (new for postMessage, the target for update)
	Attachments json.RawMessage // the attachments array as sent; nil when absent
	Blocks      json.RawMessage // the blocks array as sent; nil when absent
}

type slackFailure struct {
	status     int
	retryAfter string
}

// Slack is an HTTP server on 127.0.0.1 that speaks the parts of Slack's
// contract a notifier relies on: incoming webhooks (200 "ok", 400
// invalid_payload / no_text, 404 no_service) and the Web API's
// chat.postMessage and chat.update (HTTP 200 with {"ok":false,"error":...}
// for invalid_auth, channel_not_found, ...). FailNext injects rate limits
// and outages. It is safe for concurrent use.
type Slack struct {
	ConnStats
	srv      *httptest.Server
	token    string
	hookPath string

	mu    sync.Mutex
	msgs  []ReceivedMessage
	fails []slackFailure
	seq   int
}

// NewSlack starts a fake Slack on a free port of 127.0.0.1. Close it when
// done.
func NewSlack() *Slack {
	return NewSlackListener(loopback("slack"))
}

// NewSlackListener starts a fake Slack serving on l, so that a demo
// program can run one in its own process on an address it chose. The
// server owns l from then on.
func NewSlackListener(l net.Listener) *Slack {
	return newSlack(l, false)
}

// NewSlackTLS is NewSlack over TLS, offering HTTP/2 as slack.com does;
// its certificate is its own: give RootCAs to the client.
func NewSlackTLS() *Slack {
	return newSlack(loopback("slack"), true)
}

func newSlack(l net.Listener, tlsOn bool) *Slack {
	s := &Slack{
		token:    "xoxb-apitest-" + rand.Text(),
		hookPath: "/services/T0APITEST/B0APITEST/" + rand.Text(),
	}
	s.srv = &httptest.Server{Config: &http.Server{Handler: http.HandlerFunc(s.handle)}}
	s.start(s.srv, l, tlsOn)
	return s
}

// RootCAs trusts the server's certificate (nil when it is not TLS).
func (s *Slack) RootCAs() *x509.CertPool { return rootCAs(s.srv) }

// URL is the server's base URL, http://127.0.0.1:port, without a path.
func (s *Slack) URL() string { return s.srv.URL }

// WebhookURL is the URL of the one incoming webhook the fake knows. Like a
// real one, its path is the secret: any other /services/... path is 404
// no_service.
func (s *Slack) WebhookURL() string { return s.srv.URL + s.hookPath }

// APIURL is the Web API base, ending in "/api/" as slack-go's
// OptionAPIURL expects (it appends the method name).
func (s *Slack) APIURL() string { return s.srv.URL + "/api/" }

// Token is the only bot token the Web API accepts.
func (s *Slack) Token() string { return s.token }

// FailNext makes the next n requests, to any endpoint, fail with status
// (429, 503, ...) and, when retryAfter is not "", a Retry-After header.
// The body is what Slack sends for that status: plain text for webhooks,
// {"ok":false,"error":...} for the Web API. Calls queue up.
func (s *Slack) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, slackFailure{status: status, retryAfter: retryAfter})
	}
}

// Messages returns the messages accepted so far, oldest first.
func (s *Slack) Messages() []ReceivedMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// Close shuts the server down, waiting for requests in flight.
func (s *Slack) Close() { s.srv.Close() }

func (s *Slack) handle(w http.ResponseWriter, r *http.Request) {
	api := strings.HasPrefix(r.URL.Path, "/api/")
	if f, ok := s.takeFailure(); ok {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		code := slackStatusCode(f.status, api)
		if api {
			slackJSON(w, f.status, map[string]any{"ok": false, "error": code})
		} else {
			slackText(w, f.status, code)
		}
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		slackText(w, http.StatusMethodNotAllowed, "method_not_allowed")
		return
	}
	switch r.URL.Path {
	case s.hookPath:
		s.webhook(w, r)
	case "/api/chat.postMessage":
		s.webAPI(w, r, "postMessage")
	case "/api/chat.update":
		s.webAPI(w, r, "update")
	default:
		if api {
			slackJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method"})
			return
		}
		slackText(w, http.StatusNotFound, "no_service")
	}
}

func (s *Slack) takeFailure() (slackFailure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) == 0 {
		return slackFailure{}, false
	}
	f := s.fails[0]
	s.fails = s.fails[1:]
	return f, true
}

// slackPayload is the subset of a message body the fake looks at.
type slackPayload struct {
	Channel     string          `json:"channel"`
	Text        string          `json:"text"`
	TS          string          `json:"ts"`
	Attachments json.RawMessage `json:"attachments"`
	Blocks      json.RawMessage `json:"blocks"`
}

// webhook follows https://api.slack.com/messaging/webhooks#handling_errors:
// errors are plain-text codes with a 4xx status.
func (s *Slack) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, slackMaxBody))
	if err != nil {
		slackText(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	// Webhooks also take the JSON as a form field named payload.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			slackText(w, http.StatusBadRequest, "invalid_payload")
			return
		}
		body = []byte(v.Get("payload"))
	}
	var p slackPayload
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &p) != nil {
		slackText(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	n, ok := slackArrayLen(p.Attachments)
	if !ok {
		slackText(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	if n > slackMaxAttachments {
		slackText(w, http.StatusBadRequest, "too_many_attachments")
		return
	}
	nb, ok := slackArrayLen(p.Blocks)
	if !ok {
		slackText(w, http.StatusBadRequest, "invalid_blocks")
		return
	}
	if p.Text == "" && n == 0 && nb == 0 {
		slackText(w, http.StatusBadRequest, "no_text")
		return
	}
	if code := slackCheckLimits(&p, nb); code != "" {
		slackText(w, http.StatusBadRequest, code)
		return
	}
	s.record(ReceivedMessage{
		Method: "webhook", Endpoint: r.URL.Path, Channel: p.Channel, Text: p.Text,
		Attachments: slackRaw(p.Attachments), Blocks: slackRaw(p.Blocks),
	})
	slackText(w, http.StatusOK, "ok")
}

// webAPI serves chat.postMessage and chat.update the way
// https://api.slack.com/web#responses describes: HTTP 200 whether or not
// the call worked, with "ok" and "error" in the JSON body.
func (s *Slack) webAPI(w http.ResponseWriter, r *http.Request, method string) {
	fail := func(code string) {
		slackJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, slackMaxBody))
	if err != nil {
		fail("invalid_form_data")
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var p slackPayload
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct {
	case "application/x-www-form-urlencoded": // what slack-go sends for chat.*
		v, err := url.ParseQuery(string(body))
		if err != nil {
			fail("invalid_form_data")
			return
		}
		if token == "" {
			token = v.Get("token") // Slack still accepts the token as a form field
		}
		p = slackPayload{Channel: v.Get("channel"), Text: v.Get("text"), TS: v.Get("ts")}
		if a := v.Get("attachments"); a != "" {
			p.Attachments = json.RawMessage(a)
		}
		if b := v.Get("blocks"); b != "" {
			p.Blocks = json.RawMessage(b)
		}
	case "application/json": // the token must then come in the header
		if json.Unmarshal(body, &p) != nil {
			fail("invalid_json")
			return
		}
	default:
		fail("invalid_form_data")
		return
	}
	switch {
	case token == "":
		fail("not_authed")
		return
	case token != s.token:
		fail("invalid_auth")
		return
	}
	channel, ok := slackResolveChannel(p.Channel)
	if !ok {
		fail("channel_not_found")
		return
	}
	n, ok := slackArrayLen(p.Attachments)
	if !ok {
		fail("invalid_attachments")
		return
	}
	if n > slackMaxAttachments {
		fail("too_many_attachments")
		return
	}
	nb, ok := slackArrayLen(p.Blocks)
	if !ok {
		fail("invalid_blocks")
		return
	}
	if p.Text == "" && n == 0 && nb == 0 {
		fail("no_text")
		return
	}
	if code := slackCheckLimits(&p, nb); code != "" {
		fail(code)
		return
	}
	msg := ReceivedMessage{
		Method: method, Endpoint: r.URL.Path, Channel: channel, Text: p.Text,
		Attachments: slackRaw(p.Attachments), Blocks: slackRaw(p.Blocks),
	}
	s.mu.Lock()
	if method == "update" {
		if !slices.ContainsFunc(s.msgs, func(m ReceivedMessage) bool {
			return m.Method == "postMessage" && m.Channel == channel && m.TS == p.TS
		}) {
			s.mu.Unlock()
			fail("message_not_found")
			return
		}
		msg.TS = p.TS
	} else {
		msg.TS = fmt.Sprintf("1700000000.%06d", 100+s.seq)
		s.seq++
	}
	s.msgs = append(s.msgs, msg)
	s.mu.Unlock()

	m := map[string]any{"type": "message", "text": msg.Text, "ts": msg.TS, "bot_id": "B0APITEST"}
	if msg.Attachments != nil {
		m["attachments"] = msg.Attachments
	}
	if msg.Blocks != nil {
		m["blocks"] = msg.Blocks
	}
	resp := map[string]any{"ok": true, "channel": channel, "ts": msg.TS, "message": m}
	if method == "update" {
		resp["text"] = msg.Text
	}
	slackJSON(w, http.StatusOK, resp)
}

func (s *Slack) record(m ReceivedMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
}

func slackResolveChannel(c string) (string, bool) {
	switch c {
	case SlackChannelID, SlackChannelName, "#" + SlackChannelName:
		return SlackChannelID, true
	}
	return "", false
}

// slackArrayLen reports the length of a JSON array; absent or null is 0,
// anything but an array is not ok.
func slackArrayLen(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, true
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return 0, false
	}
	return len(a), true
}

// slackCheckLimits returns the error code Slack gives a message over
// one of its limits, "" for one within them. Slack truncates text past
// 40 000 characters rather than refusing it; the fake refuses, so a
// client that relies on that fails here.
func slackCheckLimits(p *slackPayload, blocks int) string {
	if utf8.RuneCountInString(p.Text) > slackMaxText {
		return "msg_too_long"
	}
	if blocks > slackMaxBlocks {
		return slackErrInvalidBlock
	}
	if blocks == 0 {
		return ""
	}
	type text struct {
		Text string `json:"text"`
	}
	var bs []struct {
		Type   string `json:"type"`
		Text   *text  `json:"text"`
		Fields []text `json:"fields"`
	}
	if json.Unmarshal(p.Blocks, &bs) != nil {
		return slackErrInvalidBlock
	}
	for _, b := range bs {
		n := 0
		if b.Text != nil {
			n = utf8.RuneCountInString(b.Text.Text)
		}
		switch b.Type {
		case "header":
			if n > slackMaxHeaderText {
				return slackErrInvalidBlock
			}
		case "section":
			if n > slackMaxSectionText || len(b.Fields) > slackMaxFields {
				return slackErrInvalidBlock
			}
			for _, f := range b.Fields {
				if utf8.RuneCountInString(f.Text) > slackMaxFieldText {
					return slackErrInvalidBlock
				}
			}
		}
	}
	return ""
}

func slackRaw(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return slices.Clone(raw)
}

// slackStatusCode is the error code Slack sends with a failure status.
func slackStatusCode(status int, api bool) string {
	switch {
	case status == http.StatusTooManyRequests && api:
		return "ratelimited"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status == http.StatusInternalServerError:
		return "internal_error"
	}
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}

func slackText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func slackJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
