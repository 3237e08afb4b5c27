package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"notifier/channels"
	"notifier/internal/apitest"
)

func newNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func webhookNotifier(t *testing.T, s *apitest.Slack) *Notifier {
	return newNotifier(t, Config{WebhookURLFile: writeFile(t, s.WebhookURL())})
}

func apiNotifier(t *testing.T, s *apitest.Slack, token, channel string) *Notifier {
	return newNotifier(t, Config{TokenFile: writeFile(t, token), Channel: channel, APIURL: s.APIURL()})
}

// lastAttachment decodes what arrived on the wire with slack-go's own
// type, as Slack would read it.
func lastAttachment(t *testing.T, s *apitest.Slack) (apitest.ReceivedMessage, goslack.Attachment) {
	t.Helper()
	msgs := s.Messages()
	if len(msgs) == 0 {
		t.Fatal("nothing arrived")
	}
	m := msgs[len(msgs)-1]
	var atts []goslack.Attachment
	if err := json.Unmarshal(m.Attachments, &atts); err != nil || len(atts) != 1 {
		t.Fatalf("attachments %s: %v", m.Attachments, err)
	}
	return m, atts[0]
}

// assertNoSecret fails when err's text holds any part of a secret.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q reveals secret %q", err, s)
		}
	}
}

// hookSecret is the part of a webhook URL that is the secret.
func hookSecret(u string) string { return u[strings.Index(u, "/services/"):] }

func TestNotifyOnTheWire(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	modes := []struct {
		name       string
		n          *Notifier
		wantMethod string
		wantChan   string
	}{
		{"webhook", webhookNotifier(t, s), "webhook", ""},
		{"web api", apiNotifier(t, s, s.Token(), "#"+apitest.SlackChannelName), "postMessage", apitest.SlackChannelID},
	}
	cases := []struct {
		severity  string
		action    channels.Action
		wantColor string
		wantText  string
	}{
		{"critical", channels.Trigger, colorCritical, "[CRITICAL] MySQL server disconnected"},
		{"warning", channels.Trigger, colorWarning, "[WARNING] MySQL server disconnected"},
		{"info", channels.Trigger, colorInfo, "[INFO] MySQL server disconnected"},
		{"warning", channels.Inform, colorWarning, "[WARNING] MySQL server disconnected"},
		{"critical", channels.Resolve, colorResolved, "Resolved: [CRITICAL] MySQL server disconnected"},
	}
	for _, mode := range modes {
		for _, c := range cases {
			t.Run(mode.name+"/"+c.severity+"/"+string(c.action), func(t *testing.T) {
				m := sampleMessage()
				m.Severity, m.Action = c.severity, c.action
				if err := mode.n.Notify(context.Background(), m); err != nil {
					t.Fatal(err)
				}
				got, a := lastAttachment(t, s)
				if got.Method != mode.wantMethod || got.Channel != mode.wantChan {
					t.Errorf("arrived as %s to %q, want %s to %q", got.Method, got.Channel, mode.wantMethod, mode.wantChan)
				}
				if got.Text != c.wantText || a.Color != c.wantColor {
					t.Errorf("text %q colour %q, want %q %q", got.Text, a.Color, c.wantText, c.wantColor)
				}
				f := fieldMap(a)
				if f["Cluster"] != "prod-db (id 7)" || f["Node"] != "db1" || f["Type"] != "MySqlDisconnected" || f["Count"] != "3" {
					t.Errorf("fields %v", f)
				}
				if a.Text != m.Text || !strings.Contains(a.Footer, m.Key) || !strings.Contains(a.Footer, "rule critical") {
					t.Errorf("text %q footer %q", a.Text, a.Footer)
				}
			})
		}
	}
}

func TestNotifyErrors(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		n         *Notifier
		fail      func() // programs the server before the call
		wantText  string
		wantRetry bool
		wantAfter time.Duration // -1: any positive delay
	}{
		{"invalid_auth", apiNotifier(t, s, "xoxb-wrong-token", "C123"), nil,
			`slack: post "cmon/ctl1/7/4242": chat.postMessage: invalid_auth`, false, 0},
		{"channel_not_found", apiNotifier(t, s, s.Token(), "#nope"), nil,
			`slack: post "cmon/ctl1/7/4242": chat.postMessage: channel_not_found`, false, 0},
		{"webhook unknown", newNotifier(t, Config{WebhookURL: s.URL() + "/services/T0/B0/wrongSecretPath"}), nil,
			`slack: post "cmon/ctl1/7/4242": webhook: HTTP 404: no_service`, false, 0},
		{"webhook 429", webhookNotifier(t, s), func() { s.FailNext(1, 429, "2") },
			"webhook: HTTP 429: rate_limited", true, 2 * time.Second},
		{"api 429", apiNotifier(t, s, s.Token(), "C123"), func() { s.FailNext(1, 429, "2") },
			"chat.postMessage: HTTP 429: ratelimited", true, 2 * time.Second},
		{"api 429 with a date", apiNotifier(t, s, s.Token(), "C123"), func() { s.FailNext(1, 429, future) },
			"chat.postMessage: HTTP 429", true, -1},
		{"webhook 503", webhookNotifier(t, s), func() { s.FailNext(1, 503, "") },
			"webhook: HTTP 503: service_unavailable", true, 0},
		{"api 503", apiNotifier(t, s, s.Token(), "C123"), func() { s.FailNext(1, 503, "") },
			"chat.postMessage: HTTP 503: service_unavailable", true, 0},
		{"webhook 500", webhookNotifier(t, s), func() { s.FailNext(1, 500, "") },
			"webhook: HTTP 500: internal_error", true, 0},
		{"api 400", apiNotifier(t, s, s.Token(), "C123"), func() { s.FailNext(1, 400, "") },
			"chat.postMessage: HTTP 400: bad_request", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fail != nil {
				tt.fail()
			}
			err := tt.n.Notify(context.Background(), sampleMessage())
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
			assertNoSecret(t, err, hookSecret(s.WebhookURL()), "wrongSecretPath", s.Token(), "xoxb-wrong-token")
		})
	}
}

// hangingServer accepts requests and never answers until the test ends.
func hangingServer(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv
}

func TestNotifyTimeout(t *testing.T) {
	srv := hangingServer(t)
	hook := srv.URL + "/services/T0/B0/hangingSecret"
	tests := []struct {
		name string
		c    Config
	}{
		{"webhook", Config{WebhookURL: hook, Timeout: 50 * time.Millisecond}},
		{"web api", Config{Token: "xoxb-hanging-secret", Channel: "C123", APIURL: srv.URL + "/api/", Timeout: 50 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNotifier(t, tt.c)
			start := time.Now()
			// The ctx deadline is only a guard against hanging the test:
			// the configured timeout must end the call well before it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := n.Notify(ctx, sampleMessage())
			if err == nil {
				t.Fatal("Notify() = nil against a server that never answers")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s; the 50ms timeout did not reach the client", d)
			}
			if retry, _ := channels.IsRetryable(err); !retry {
				t.Errorf("timeout not retryable: %v", err)
			}
			// net/http words it three ways depending on timing; all are
			// net.Errors that say Timeout.
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("error %q is not a timeout", err)
			}
			assertNoSecret(t, err, "hangingSecret", "xoxb-hanging-secret")
		})
	}
}

func TestNotifyNetworkError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	hook := "http://" + addr + "/services/T0CLOSED/B0CLOSED/closedPortSecret"
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"webhook", Config{WebhookURL: hook}, `slack: post "cmon/ctl1/7/4242": webhook: Post "http://` + addr + `/<redacted>": dial tcp`},
		{"web api", Config{Token: "xoxb-closed-port-secret", Channel: "C123", APIURL: "http://" + addr + "/api/"}, `chat.postMessage: Post "http://` + addr + `/api/chat.postMessage": dial tcp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newNotifier(t, tt.c).Notify(context.Background(), sampleMessage())
			if err == nil {
				t.Fatal("Notify() = nil against a closed port")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if retry, _ := channels.IsRetryable(err); !retry {
				t.Errorf("network error not retryable: %v", err)
			}
			assertNoSecret(t, err, "/services/T0CLOSED", "closedPortSecret", "xoxb-closed-port-secret")
		})
	}
}

func TestNotifyCancelled(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := webhookNotifier(t, s).Notify(ctx, sampleMessage())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("Notify(cancelled ctx) = %v, want a retryable error so the message stays queued", err)
	}
	assertNoSecret(t, err, hookSecret(s.WebhookURL()))
}

func TestDeliverAfterRateLimit(t *testing.T) {
	for _, mode := range []string{"webhook", "web api"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel() // each waits out a 1 s Retry-After
			s := apitest.NewSlack()
			defer s.Close()
			n := webhookNotifier(t, s)
			if mode == "web api" {
				n = apiNotifier(t, s, s.Token(), "C123")
			}
			s.FailNext(1, http.StatusTooManyRequests, "1")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			attempts, err := channels.Deliver(ctx, n, sampleMessage(), channels.Backoff{Initial: time.Millisecond, Max: time.Millisecond})
			if err != nil || attempts != 2 {
				t.Fatalf("Deliver = %d attempts, %v; want 2, nil", attempts, err)
			}
			if got := len(s.Messages()); got != 1 {
				t.Errorf("%d messages arrived, want 1", got)
			}
		})
	}
}

// TestResolveUpdatesTheMessage: with the Web API, the trigger's reference
// brings the resolve back to the same message (chat.update); when Slack
// no longer has it, the resolve is posted anew.
func TestResolveUpdatesTheMessage(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	n := apiNotifier(t, s, s.Token(), "#"+apitest.SlackChannelName)
	m := sampleMessage()
	m.Action = channels.Trigger
	ref, err := n.NotifyRef(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	posted := s.Messages()[0]
	if ref != apitest.SlackChannelID+"/"+posted.TS {
		t.Fatalf("ref = %q, want %s/%s", ref, apitest.SlackChannelID, posted.TS)
	}
	m.Action, m.Ref = channels.Resolve, ref
	if _, err := n.NotifyRef(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	upd := s.Messages()[1]
	if upd.Method != "update" || upd.TS != posted.TS || !strings.Contains(upd.Text, "Resolved:") {
		t.Fatalf("resolve arrived as %+v, want chat.update of ts %s", upd, posted.TS)
	}
	m.Ref = apitest.SlackChannelID + "/1.000000"
	if _, err := n.NotifyRef(context.Background(), m); err != nil {
		t.Fatalf("a resolve of a message Slack no longer has must be posted: %v", err)
	}
	if last := s.Messages()[len(s.Messages())-1]; last.Method != "postMessage" {
		t.Fatalf("fallback arrived as %s, want postMessage", last.Method)
	}
	// A webhook has no reference: the resolve is a new message.
	hook := webhookNotifier(t, s)
	if ref, err := hook.NotifyRef(context.Background(), m); err != nil || ref != "" {
		t.Fatalf("webhook: ref %q, err %v", ref, err)
	}
}

// TestDigestUpdatesTheMessage: a group's update (a message with members)
// whose reference names the group's first message updates it in place,
// as a resolve does, listing the members in the text.
func TestDigestUpdatesTheMessage(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	n := apiNotifier(t, s, s.Token(), "#"+apitest.SlackChannelName)
	m := sampleMessage()
	m.Action, m.Key, m.Text = channels.Inform, "group/critical/cc1/1", "CRITICAL db1 down\nCRITICAL db2 down"
	m.Members = []channels.Member{{Key: "cmon/cc1/1/1", Severity: "critical", Summary: "db1 down", Open: true}, {Key: "cmon/cc1/1/2", Severity: "critical", Summary: "db2 down", Open: true}}
	ref, err := n.NotifyRef(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	m.Ref, m.Text = ref, "CRITICAL db2 down\ncleared: CRITICAL db1 down"
	if _, err := n.NotifyRef(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].Method != "postMessage" || msgs[1].Method != "update" || msgs[1].TS != msgs[0].TS ||
		!strings.Contains(string(msgs[1].Attachments), "cleared: CRITICAL db1 down") {
		t.Fatalf("got %+v; want a post, then an update of it listing the members", msgs)
	}
}
