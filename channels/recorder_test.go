package channels

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// explainJSON reduces {"message": m, "errors": [...]} to "m: e1; e2", as a
// channel's Explain would.
func explainJSON(body []byte) []byte {
	var e struct {
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return body
	}
	return []byte(e.Message + ": " + strings.Join(e.Errors, "; "))
}

// send posts through rec in one of the two ways libraries use it, and
// reads the whole answer as a library would.
func send(t *testing.T, rec *Recorder, viaDo bool, url string) (body string, err error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	if viaDo {
		resp, err = rec.Do(req)
	} else {
		resp, err = rec.HTTPClient().Do(req)
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body the recorder handed on: %v", err)
	}
	return string(b), nil
}

func TestRecorderResponses(t *testing.T) {
	big := strings.Repeat("x", 3*maxErrorBody)
	tests := []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		wantErr     string // "" for none
		wantRetry   bool
		wantAfter   time.Duration
		maxErrorLen int // 0: no bound checked
	}{
		{"accepted", http.StatusAccepted, nil, `{"status":"success"}`, "", false, 0, 0},
		{"ok with a huge body", http.StatusOK, nil, big, "", false, 0, 0},
		{"rejected, body explained", http.StatusBadRequest, map[string]string{"Content-Type": "application/json"},
			`{"status":"invalid event","message":"Event object is invalid","errors":["'routing_key' is missing"]}`,
			"HTTP 400: Event object is invalid: 'routing_key' is missing", false, 0, 0},
		{"plain body on one line", http.StatusNotFound, nil, "  no_service\n\tfor this\r\nhook ", "HTTP 404: no_service for this hook", false, 0, 0},
		{"no body", http.StatusForbidden, nil, "", "HTTP 403 Forbidden", false, 0, 0},
		{"503 with Retry-After", http.StatusServiceUnavailable, map[string]string{"Retry-After": "7"}, "down", "HTTP 503: down", true, 7 * time.Second, 0},
		{"429 without Retry-After", http.StatusTooManyRequests, nil, "rate_limited", "HTTP 429: rate_limited", true, 0, 0},
		{"huge error body is cut in the error, whole for the library", http.StatusBadGateway, nil, big, "HTTP 502: xxx", true, 0, 600},
	}
	for _, viaDo := range []bool{false, true} {
		mode := "transport"
		if viaDo {
			mode = "do"
		}
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.body)
				}))
				defer srv.Close()
				rec := &Recorder{Client: &http.Client{Timeout: 5 * time.Second}, Explain: explainJSON}
				body, err := send(t, rec, viaDo, srv.URL)
				if err != nil {
					t.Fatalf("request failed: %v", err)
				}
				if body != tt.body {
					t.Errorf("the library got %d bytes of body, want the server's %d", len(body), len(tt.body))
				}
				if rec.Status() != tt.status {
					t.Errorf("Status() = %d, want %d", rec.Status(), tt.status)
				}
				got := rec.Err()
				if tt.wantErr == "" {
					if got != nil {
						t.Fatalf("Err() = %v, want nil", got)
					}
					return
				}
				if got == nil || !strings.HasPrefix(got.Error(), tt.wantErr) {
					t.Fatalf("Err() = %v, want %q", got, tt.wantErr)
				}
				if tt.maxErrorLen > 0 && len(got.Error()) > tt.maxErrorLen {
					t.Errorf("error of %d bytes, want at most %d", len(got.Error()), tt.maxErrorLen)
				}
				retry, after := IsRetryable(got)
				if retry != tt.wantRetry || after != tt.wantAfter {
					t.Errorf("retryable %v after %s, want %v after %s", retry, after, tt.wantRetry, tt.wantAfter)
				}
			})
		}
	}
}

func TestRecorderKeepsOnlyTheLastExchange(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	rec := &Recorder{}
	if _, err := send(t, rec, false, srv.URL); err != nil {
		t.Fatal(err)
	}
	if rec.Err() == nil {
		t.Fatal("503 not recorded")
	}
	fail.Store(false)
	if _, err := send(t, rec, false, srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := rec.Err(); err != nil || rec.Status() != http.StatusOK {
		t.Errorf("after a 200: Status %d Err %v, want 200 and nil", rec.Status(), err)
	}
}

func TestRecorderNothingSent(t *testing.T) {
	rec := &Recorder{}
	if rec.Status() != 0 || rec.Err() != nil {
		t.Errorf("fresh recorder: Status %d Err %v", rec.Status(), rec.Err())
	}
}

func TestRecorderNetworkErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/v2/enqueue"
	ln.Close() // nothing listens there now

	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)

	tests := []struct {
		name    string
		url     string
		viaDo   bool
		want    string // in the error text
		netErr  bool   // a net.Error is kept
		timeout bool   // and it says Timeout
	}{
		{"refused, transport", closed, false, "connection refused", true, false},
		{"refused, do names the URL", closed, true, `Post "` + closed + `": dial tcp`, true, false},
		// Below the client, net/http reports its own timeout as
		// "request canceled" or "context deadline exceeded", whichever
		// comes first: retryable either way.
		{"timeout, transport", hang.URL, false, "", false, false},
		{"timeout, do says which timeout", hang.URL, true, "Client.Timeout exceeded", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &Recorder{Client: &http.Client{Timeout: 50 * time.Millisecond}}
			if _, err := send(t, rec, tt.viaDo, tt.url); err == nil {
				t.Fatal("request succeeded")
			}
			err := rec.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Err() = %v, want it to contain %q", err, tt.want)
			}
			if rec.Status() != 0 {
				t.Errorf("Status() = %d without a response", rec.Status())
			}
			if retry, after := IsRetryable(err); !retry || after != 0 {
				t.Errorf("retryable %v after %s, want true after 0", retry, after)
			}
			var ne net.Error
			if !tt.netErr {
				return
			}
			if !errors.As(err, &ne) {
				t.Errorf("Err() = %v (%T) does not keep the net.Error", err, errors.Unwrap(err))
			} else if ne.Timeout() != tt.timeout {
				t.Errorf("Timeout() = %v, want %v", ne.Timeout(), tt.timeout)
			}
		})
	}
}

func TestRecorderUsesTheClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var seen int
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		seen++
		return http.DefaultTransport.RoundTrip(req)
	})
	rec := &Recorder{Client: &http.Client{Transport: base, Timeout: 3 * time.Second}}
	if c := rec.HTTPClient(); c.Timeout != 3*time.Second || c.Transport != rec {
		t.Errorf("HTTPClient() = %+v, want the client's timeout and the recorder as transport", c)
	}
	for _, viaDo := range []bool{false, true} {
		if _, err := send(t, rec, viaDo, srv.URL); err != nil {
			t.Fatal(err)
		}
	}
	if seen != 2 {
		t.Errorf("the client's transport carried %d of 2 requests", seen)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestRecorderRedactsBeforeTheCut: a secret a server echoes across the
// point where HTTPStatusError cuts its body does not survive in part.
func TestRecorderRedactsBeforeTheCut(t *testing.T) {
	secret := "SuperSecretSignature0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, strings.Repeat("x", 500)+secret+strings.Repeat("y", 100))
	}))
	defer srv.Close()
	rec := &Recorder{Client: srv.Client(), Secrets: []string{secret}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rec.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.Err()
	if rec.Status() != http.StatusBadRequest || got == nil {
		t.Fatalf("status %d, error %v; want the 400 recorded", rec.Status(), got)
	}
	for i := 6; i <= len(secret); i++ {
		if strings.Contains(got.Error(), secret[:i]) {
			t.Fatalf("%d bytes of the secret survive: %v", i, got)
		}
	}
}
