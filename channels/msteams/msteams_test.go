package msteams

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "teams.url")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// notifierFor is a Notifier posting to s through a webhook_url_file.
func notifierFor(t *testing.T, s *teams) *Notifier {
	return newNotifier(t, Config{WebhookURLFile: writeFile(t, s.URL()+"\n")})
}

func sampleMessage() *channels.Message {
	return &channels.Message{
		Key: "cmon/ctl1/7/4242", Action: channels.Trigger, Severity: channels.SeverityCritical,
		Summary: "MySQL server disconnected", Rule: "critical", Source: "cmon", Kind: "alarm",
		EventType: "MySqlDisconnected", Cluster: "prod-db", ClusterID: 7, Node: "db1",
		Text: "Server db1:3306 reported as disconnected.", Recommendation: "Check the mysqld log on db1.",
		Count: 3, Time: time.Date(2026, 12, 5, 6, 35, 37, 0, time.UTC),
	}
}

// factMap is a card's facts by title.
func factMap(c Card) map[string]string {
	out := map[string]string{}
	for _, e := range c.Body {
		for _, f := range e.Facts {
			out[f.Title] = f.Value
		}
	}
	return out
}

// texts are the card's TextBlocks, the header's included, in order.
func texts(c Card) []string {
	var out []string
	var walk func([]Element)
	walk = func(es []Element) {
		for _, e := range es {
			if e.Type == "TextBlock" {
				out = append(out, e.Text)
			}
			walk(e.Items)
		}
	}
	walk(c.Body)
	return out
}

// header is the card's coloured container.
func header(t *testing.T, c Card) Element {
	t.Helper()
	if len(c.Body) == 0 || c.Body[0].Type != "Container" || len(c.Body[0].Items) == 0 {
		t.Fatalf("card without a header container: %+v", c)
	}
	return c.Body[0]
}

func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q reveals secret %q", err, s)
		}
	}
}

func TestCardsOnTheWire(t *testing.T) {
	s := newTeams(t)
	n := notifierFor(t, s)
	cases := []struct {
		severity            string
		action              channels.Action
		style, color, state string
	}{
		{"critical", channels.Trigger, "attention", "attention", "CRITICAL"},
		{"warning", channels.Trigger, "warning", "warning", "WARNING"},
		{"info", channels.Trigger, "accent", "accent", "INFO"},
		{"warning", channels.Inform, "warning", "warning", "WARNING"},
		{"debug", channels.Inform, "emphasis", "default", "DEBUG"},
		{"critical", channels.Resolve, "good", "good", "RESOLVED (was CRITICAL)"},
	}
	for _, c := range cases {
		t.Run(c.severity+"/"+string(c.action), func(t *testing.T) {
			m := sampleMessage()
			m.Severity, m.Action = c.severity, c.action
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			card := s.LastCard()
			if card.Version != CardVersion || card.Type != "AdaptiveCard" {
				t.Errorf("card %s version %s", card.Type, card.Version)
			}
			h := header(t, card)
			if h.Style != c.style || h.Items[0].Color != c.color || h.Items[0].Text != c.state {
				t.Errorf("header style %q, status %q in %q; want %q, %q in %q", h.Style, h.Items[0].Text, h.Items[0].Color, c.style, c.state, c.color)
			}
			if len(h.Items) < 2 || h.Items[1].Text != m.Summary || h.Items[1].Style != "heading" {
				t.Errorf("title %+v, want the summary as a heading", h.Items)
			}
			want := map[string]string{
				"Cluster": "prod-db (id 7)", "Node": "db1", "Event type": "MySqlDisconnected", "Key": m.Key,
				"Rule": "critical", "Time": "2026-12-05 06:35:37 UTC", "Count": "3",
			}
			if got := factMap(card); !equalMaps(got, want) {
				t.Errorf("facts %v, want %v", got, want)
			}
			tx := strings.Join(texts(card), "\n")
			if !strings.Contains(tx, m.Text) || !strings.Contains(tx, "Recommendation\n"+m.Recommendation) {
				t.Errorf("texts %q lack the event's text or the recommendation", tx)
			}
			if card.FallbackText != c.state+": "+m.Summary {
				t.Errorf("fallbackText %q", card.FallbackText)
			}
		})
	}
	reqs := s.Requests()
	if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestSparseMessage: a message with nothing but what every message has
// is still a valid card, with no empty text or fact.
func TestSparseMessage(t *testing.T) {
	s := newTeams(t)
	m := &channels.Message{Key: "k", Action: channels.Trigger, Severity: "info", Summary: "  "}
	if err := notifierFor(t, s).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	card := s.LastCard()
	if got := factMap(card); !equalMaps(got, map[string]string{"Key": "k"}) {
		t.Errorf("facts %v", got)
	}
	for _, tx := range texts(card) {
		if strings.TrimSpace(tx) == "" && tx != "  " {
			t.Errorf("an empty TextBlock: %q", texts(card))
		}
	}
	m.Suppressed = 4
	if err := notifierFor(t, s).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := factMap(s.LastCard())["Suppressed"]; got != "4 since the last message" {
		t.Errorf("Suppressed = %q", got)
	}
}

func TestNotifyErrors(t *testing.T) {
	s := newTeams(t)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	wrongSig := strings.Replace(s.URL(), teamsSig, "wrongSignatureSecret0123456789", 1)
	tests := []struct {
		name      string
		url       string
		fail      func()
		wantText  string
		wantRetry bool
		wantAfter time.Duration // -1: any positive delay
	}{
		{"wrong signature", wrongSig, nil,
			`msteams: post "cmon/ctl1/7/4242": HTTP 401: DirectApiAuthorizationRequired: The request must be authenticated only by Shared Access scheme.`, false, 0},
		{"unknown workflow", strings.Replace(s.URL(), "/workflows/0f", "/workflows/ff", 1), nil,
			"HTTP 404: WorkflowNotFound: The workflow could not be found.", false, 0},
		{"429 seconds", s.URL(), func() { s.FailNext(1, 429, "3") },
			"HTTP 429: TooManyRequests: programmed failure 429", true, 3 * time.Second},
		{"429 date", s.URL(), func() { s.FailNext(1, 429, future) }, "HTTP 429", true, -1},
		{"503", s.URL(), func() { s.FailNext(1, 503, "") }, "HTTP 503: ServiceUnavailable", true, 0},
		{"500", s.URL(), func() { s.FailNext(1, 500, "") }, "HTTP 500: InternalServerError", true, 0},
		{"400", s.URL(), func() { s.FailNext(1, 400, "") }, "HTTP 400: programmed failure 400", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != nil {
				tt.fail()
			}
			err := newNotifier(t, Config{WebhookURLFile: writeFile(t, tt.url)}).Notify(context.Background(), sampleMessage())
			if err == nil {
				t.Fatal("Notify() = nil, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantText)
			}
			retry, after := channels.IsRetryable(err)
			if retry != tt.wantRetry {
				t.Errorf("retryable = %v, want %v (%v)", retry, tt.wantRetry, err)
			}
			if (tt.wantAfter >= 0 && after != tt.wantAfter) || (tt.wantAfter < 0 && after <= 0) {
				t.Errorf("after = %s, want %s", after, tt.wantAfter)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
			assertNoSecret(t, err, teamsSig, "wrongSignatureSecret0123456789")
		})
	}
}

// TestErrorEchoingTheURLIsRedacted: a service or proxy that quotes the
// request's URL in its refusal must not put the signature in the error.
func TestErrorEchoingTheURLIsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no route for POST "+r.URL.String()+" (sig="+r.URL.Query().Get("sig")+")\n"+strings.Repeat("x", 100<<10), http.StatusBadRequest)
	}))
	defer srv.Close()
	const sig = "eChOeDsIgNaTuRe+/=9876543210"
	u := srv.URL + teamsPath + "?api-version=1&sv=1.0&sig=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(sig)
	err := newNotifier(t, Config{WebhookURL: u}).Notify(context.Background(), sampleMessage())
	if err == nil || !strings.Contains(err.Error(), "HTTP 400: no route for POST") {
		t.Fatalf("Notify() = %v, want the server's text", err)
	}
	assertNoSecret(t, err, sig, "eChOeDsIgNaTuRe", "eChOeDsIgNaTuRe%2B%2F%3D9876543210")
	if len(err.Error()) > 1024 || strings.Contains(err.Error(), "\n") {
		t.Errorf("error of %d bytes, or not one line", len(err.Error()))
	}
}

func TestNotifyNetworkError(t *testing.T) {
	addr := apitest.ClosedAddr(t)
	u := "http://" + addr + teamsPath + "?api-version=1&sig=closedPortSignatureSecret"
	err := newNotifier(t, Config{WebhookURL: u}).Notify(context.Background(), sampleMessage())
	if err == nil {
		t.Fatal("Notify() = nil against a closed port")
	}
	want := `msteams: post "cmon/ctl1/7/4242": Post "http://` + addr + `/<redacted>": dial tcp`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	if retry, _ := channels.IsRetryable(err); !retry {
		t.Errorf("network error not retryable: %v", err)
	}
	assertNoSecret(t, err, "closedPortSignatureSecret", "/workflows/")
}

// TestTimeoutReachesTheClient: the timeout option bounds an attempt
// against a server that never answers.
func TestTimeoutReachesTheClient(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	n := newNotifier(t, Config{WebhookURL: srv.URL + teamsPath + "?sig=hangingSignatureSecret", Timeout: 50 * time.Millisecond})
	if n.http.Timeout != 50*time.Millisecond {
		t.Fatalf("client timeout %s", n.http.Timeout)
	}
	// The ctx deadline only guards the test against hanging: the
	// configured timeout must end the call long before it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := n.Notify(ctx, sampleMessage())
	if err == nil {
		t.Fatal("Notify() = nil against a server that never answers")
	}
	if ctx.Err() != nil {
		t.Fatalf("the guard's deadline ended the call, not the 50ms timeout: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %q is not a timeout", err)
	}
	if retry, _ := channels.IsRetryable(err); !retry {
		t.Errorf("timeout not retryable: %v", err)
	}
	assertNoSecret(t, err, "hangingSignatureSecret")
}

func TestNotifyCancelled(t *testing.T) {
	s := newTeams(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := notifierFor(t, s).Notify(ctx, sampleMessage())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("Notify(cancelled ctx) = %v, want a retryable error so the message stays queued", err)
	}
	assertNoSecret(t, err, teamsSig)
}

func TestDeliverAfterRateLimit(t *testing.T) {
	s := newTeams(t)
	s.FailNext(1, http.StatusTooManyRequests, "1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	attempts, err := channels.Deliver(ctx, notifierFor(t, s), sampleMessage(), channels.Backoff{Initial: time.Millisecond, Max: time.Millisecond})
	if err != nil || attempts != 2 {
		t.Fatalf("Deliver = %d attempts, %v; want 2, nil", attempts, err)
	}
	if got := len(s.Cards()); got != 1 {
		t.Errorf("%d cards arrived, want 1", got)
	}
}

// TestKeepAlive: the resident engine builds a channel once and sends many
// cards through it: one connection, also after a 429 and a 503; HTTP/2
// over TLS; Close drops what is kept.
func TestKeepAlive(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[overTLS], func(t *testing.T) {
			s := newTeams(t)
			if overTLS {
				s = newTeamsTLS(t)
			}
			n := notifierFor(t, s)
			if overTLS {
				n.http.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: s.RootCAs()}
			}
			send := func(i int) error {
				m := sampleMessage()
				m.Count = i + 1
				return n.Notify(context.Background(), m)
			}
			apitest.CheckKeepAlive(t, s, overTLS, send, func() { n.Close() })
		})
	}
}
