package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

const msgKey = "cmon/cc1/7/18446744073709551615"

func TestStatuses(t *testing.T) {
	tests := []struct {
		name      string
		answer    apitest.WebhookAnswer
		want      string // "" for success
		retryable bool
		after     time.Duration
	}{
		{name: "200", answer: apitest.WebhookAnswer{Status: 200, Text: "ok"}},
		{name: "202", answer: apitest.WebhookAnswer{Status: 202}},
		{name: "204", answer: apitest.WebhookAnswer{Status: 204}},
		{name: "400 is permanent, with the receiver's text on one line",
			answer: apitest.WebhookAnswer{Status: 400, Text: "invalid payload:\n  field \"severity\"\tunknown\n"},
			want:   `webhook: message "` + msgKey + `": HTTP 400: invalid payload: field "severity" unknown`},
		{name: "400 without a text",
			answer: apitest.WebhookAnswer{Status: 400},
			want:   `webhook: message "` + msgKey + `": HTTP 400 Bad Request`},
		{name: "404 is permanent", answer: apitest.WebhookAnswer{Status: 404, Text: "no such hook"},
			want: `webhook: message "` + msgKey + `": HTTP 404: no such hook`},
		{name: "a long text is cut", answer: apitest.WebhookAnswer{Status: 422, Text: strings.Repeat("why ", 1000)},
			want: `webhook: message "` + msgKey + `": HTTP 422: ` + strings.Repeat("why ", 127) + "w…"},
		{name: "429 honours Retry-After", answer: apitest.WebhookAnswer{Status: 429, RetryAfter: "3", Text: "slow down"},
			want: `webhook: message "` + msgKey + `": HTTP 429: slow down`, retryable: true, after: 3 * time.Second},
		{name: "503 is retryable", answer: apitest.WebhookAnswer{Status: 503, Text: "maintenance"},
			want: `webhook: message "` + msgKey + `": HTTP 503: maintenance`, retryable: true},
		{name: "503 with Retry-After", answer: apitest.WebhookAnswer{Status: 503, RetryAfter: "7"},
			want: `webhook: message "` + msgKey + `": HTTP 503 Service Unavailable`, retryable: true, after: 7 * time.Second},
		{name: "500 is retryable", answer: apitest.WebhookAnswer{Status: 500, Text: "boom"},
			want: `webhook: message "` + msgKey + `": HTTP 500: boom`, retryable: true},
		{name: "a redirect is not followed", answer: apitest.WebhookAnswer{Status: 302, Location: "/elsewhere?token=other", Text: "moved"},
			want: `webhook: message "` + msgKey + `": HTTP 302: redirected, and redirects are not followed: set the url to the address it leads to`},
		{name: "nor a 307", answer: apitest.WebhookAnswer{Status: 307, Location: "/elsewhere"},
			want: `webhook: message "` + msgKey + `": HTTP 307: redirected, and redirects are not followed: set the url to the address it leads to`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t, false)
			r.Program(tt.answer)
			err := notifier(t, r.URL()+"/hook", Config{}).Notify(context.Background(), fullMessage())
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Notify() = %q\nwant %q", got, tt.want)
			}
			retry, after := channels.IsRetryable(err)
			if retry != tt.retryable || after != tt.after {
				t.Errorf("retryable = %v after %v, want %v after %v", retry, after, tt.retryable, tt.after)
			}
			if reqs := r.Requests(); len(reqs) != 1 || reqs[0].Path != "/hook" {
				t.Errorf("requests %+v, want one to /hook (no redirect followed)", reqs)
			}
		})
	}
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	addr := apitest.ClosedAddr(t)
	const token = "zq9secrettoken77"
	n := notifier(t, "http://"+addr+"/hook/"+token+"?key="+token, Config{})
	err := n.Notify(context.Background(), fullMessage())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("Notify() = %v, want a retryable error", err)
	}
	want := `webhook: message "` + msgKey + `": Post "http://` + addr + `/<redacted>": dial tcp ` + addr + `: connect: connection refused`
	if err.Error() != want {
		t.Errorf("Notify() = %q\nwant %q", err, want)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("the network error is not in the chain: %v", err)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	r := newReceiver(t, false)
	r.Program(apitest.WebhookAnswer{Stall: true})
	const token = "t0k3n-in-the-path"
	n := notifier(t, r.URL()+"/"+token, Config{Timeout: 50 * time.Millisecond})
	// The run's deadline, far longer than the channel's timeout, tells
	// the two apart should the timeout be lost.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := n.Notify(ctx, fullMessage())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "Client.Timeout exceeded") {
		t.Fatalf("Notify() = %v, want the client's timeout", err)
	}
	if retry, _ := channels.IsRetryable(err); !retry {
		t.Errorf("a timeout must be retryable: %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the URL's path: %v", err)
	}
}

// TestNoSecretInErrors: the receiver echoes everything it got (URL,
// headers, body) in its answer, which the error quotes: no secret (the
// URL's path and query, a header file's token, the HMAC key) nor a
// piece of one, cut where the text is, may show.
func TestNoSecretInErrors(t *testing.T) {
	const (
		pathTok  = "pathsecret123456"
		queryTok = "querysecret98765"
		userPass = "userpass5555aaaa"
		headTok  = "headersecret4242abcd"
		hmacKey  = "hmacsecret31337xyz"
	)
	secrets := []string{pathTok, queryTok, userPass, headTok, hmacKey}
	for _, status := range []int{400, 503} {
		for pad := 0; pad < 510; pad += 5 { // moves each secret across the cut at 512 bytes
			r := newReceiver(t, false)
			r.Program(apitest.WebhookAnswer{Status: status, Echo: true})
			u := strings.Replace(r.URL(), "http://", "http://user:"+userPass+"@", 1) + "/" + strings.Repeat("p", pad) + "/hook/" + pathTok + "?token=" + queryTok
			n := notifier(t, "", Config{URLFile: secretFile(t, "url", u),
				HeaderFiles:    []HeaderFile{{Name: "Authorization", File: secretFile(t, "tok", "Bearer "+headTok)}},
				HMACSecretFile: secretFile(t, "hmac", hmacKey)})
			m := fullMessage()
			m.Text = "body mentions " + hmacKey + " and " + headTok
			err := n.Notify(context.Background(), m)
			if err == nil || !strings.HasPrefix(err.Error(), "webhook: message ") {
				t.Fatalf("status %d: Notify() = %v, want the echo", status, err)
			}
			for _, s := range secrets {
				for _, part := range []string{s, s[:6], s[len(s)-6:]} {
					if strings.Contains(err.Error(), part) {
						t.Errorf("status %d pad %d: error shows %q of a secret: %v", status, pad, part, err)
					}
				}
			}
		}
	}
}

func TestDeliverRetriesWithTheSameID(t *testing.T) {
	r := newReceiver(t, false)
	r.FailNext(2, http.StatusServiceUnavailable, "")
	n := notifier(t, r.URL(), Config{HMACSecretFile: secretFile(t, "hmac", "k")})
	attempts, err := channels.Deliver(context.Background(), n, fullMessage(), channels.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond})
	if err != nil || attempts != 3 {
		t.Fatalf("Deliver() = %d, %v; want success on attempt 3", attempts, err)
	}
	reqs := r.Requests()
	var ids []string
	for _, q := range reqs {
		ids = append(ids, q.Header.Get("Idempotency-Key"))
		if string(q.Body) != fullBody("message") {
			t.Errorf("a retry sent another body: %s", q.Body)
		}
	}
	if id := ID(fullMessage()); !reflect.DeepEqual(ids, []string{id, id, id}) {
		t.Errorf("Idempotency-Key per attempt %q, want %s each time", ids, id)
	}
}

func TestDeliverStopsAtARejection(t *testing.T) {
	r := newReceiver(t, false)
	r.Program(apitest.WebhookAnswer{Status: 400, Text: "bad"})
	attempts, err := channels.Deliver(context.Background(), notifier(t, r.URL(), Config{}), fullMessage(), channels.Backoff{Initial: time.Millisecond, Max: time.Millisecond})
	if err == nil || attempts != 1 || !strings.HasSuffix(err.Error(), "HTTP 400: bad") {
		t.Fatalf("Deliver() = %d, %v; want one attempt and the 400", attempts, err)
	}
}
