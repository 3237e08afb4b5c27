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
		answer    answer
		want      string // "" for success
		retryable bool
		after     time.Duration
	}{
		{name: "200", answer: answer{status: 200, text: "ok"}},
		{name: "202", answer: answer{status: 202}},
		{name: "204", answer: answer{status: 204}},
		{name: "400 is permanent, with the receiver's text on one line",
			answer: answer{status: 400, text: "invalid payload:\n  field \"severity\"\tunknown\n"},
			want:   `webhook: message "` + msgKey + `": HTTP 400: invalid payload: field "severity" unknown`},
		{name: "400 without a text",
			answer: answer{status: 400},
			want:   `webhook: message "` + msgKey + `": HTTP 400 Bad Request`},
		{name: "404 is permanent", answer: answer{status: 404, text: "no such hook"},
			want: `webhook: message "` + msgKey + `": HTTP 404: no such hook`},
		{name: "a long text is cut", answer: answer{status: 422, text: strings.Repeat("why ", 1000)},
			want: `webhook: message "` + msgKey + `": HTTP 422: ` + strings.Repeat("why ", 127) + "w…"},
		{name: "429 honours Retry-After", answer: answer{status: 429, retryAfter: "3", text: "slow down"},
			want: `webhook: message "` + msgKey + `": HTTP 429: slow down`, retryable: true, after: 3 * time.Second},
		{name: "503 is retryable", answer: answer{status: 503, text: "maintenance"},
			want: `webhook: message "` + msgKey + `": HTTP 503: maintenance`, retryable: true},
		{name: "503 with Retry-After", answer: answer{status: 503, retryAfter: "7"},
			want: `webhook: message "` + msgKey + `": HTTP 503 Service Unavailable`, retryable: true, after: 7 * time.Second},
		{name: "500 is retryable", answer: answer{status: 500, text: "boom"},
			want: `webhook: message "` + msgKey + `": HTTP 500: boom`, retryable: true},
		{name: "a redirect is not followed", answer: answer{status: 302, location: "/elsewhere?token=other", text: "moved"},
			want: `webhook: message "` + msgKey + `": HTTP 302: redirected, and redirects are not followed: set the url to the address it leads to`},
		{name: "nor a 307", answer: answer{status: 307, location: "/elsewhere"},
			want: `webhook: message "` + msgKey + `": HTTP 307: redirected, and redirects are not followed: set the url to the address it leads to`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t, false)
			r.program(tt.answer)
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
			if reqs := r.requests(); len(reqs) != 1 || reqs[0].Path != "/hook" {
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
	r.program(answer{stall: true})
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
			r.program(answer{status: status, echo: true})
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
	reqs := r.requests()
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
	r.program(answer{status: 400, text: "bad"})
	attempts, err := channels.Deliver(context.Background(), notifier(t, r.URL(), Config{}), fullMessage(), channels.Backoff{Initial: time.Millisecond, Max: time.Millisecond})
	if err == nil || attempts != 1 || !strings.HasSuffix(err.Error(), "HTTP 400: bad") {
		t.Fatalf("Deliver() = %d, %v; want one attempt and the 400", attempts, err)
	}
}
