package apitest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestWebhookAnswersAndRecords: 200 "ok" by default, programmed answers
// in order (status, Retry-After, Location, text, an echo of the
// request), and every request kept with what it was answered.
func TestWebhookAnswersAndRecords(t *testing.T) {
	w := NewWebhook()
	defer w.Close()
	w.FailNext(1, 429, "4")
	w.Program(WebhookAnswer{Status: 302, Location: "/elsewhere", Text: "moved"}, WebhookAnswer{Status: 400, Echo: true})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, w.URL()+path, strings.NewReader(body))
		req.Header.Set("X-Token", "t0k")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := post("/a", "1"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "4" || body != "HTTP 429 from apitest.Webhook" {
		t.Errorf("first: %d %q Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if resp, body := post("/b", "2"); resp.StatusCode != 302 || resp.Header.Get("Location") != "/elsewhere" || body != "moved" {
		t.Errorf("second: %d %q Location %q", resp.StatusCode, body, resp.Header.Get("Location"))
	}
	if resp, body := post("/hooks/c?q=1", "3"); resp.StatusCode != 400 || !strings.HasPrefix(body, "c /hooks/c?q=1\n") || !strings.Contains(body, "X-Token: t0k\n") || !strings.HasSuffix(body, "\n3") {
		t.Errorf("echo: %d %q", resp.StatusCode, body)
	}
	if resp, body := post("/d", "4"); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("default: %d %q", resp.StatusCode, body)
	}
	reqs := w.Requests()
	want := []struct {
		path   string
		status int
	}{{"/a", 429}, {"/b", 302}, {"/hooks/c", 400}, {"/d", 200}}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		if r.Seq != i+1 || r.Path != want[i].path || r.Status != want[i].status || r.Method != http.MethodPost || string(r.Body) != string(rune('1'+i)) || r.Header.Get("X-Token") != "t0k" {
			t.Errorf("request %d = %+v, want %s answered %d", i, r, want[i].path, want[i].status)
		}
	}
	if reqs[2].RawQuery != "q=1" || reqs[0].Proto != "HTTP/1.1" {
		t.Errorf("query %q proto %q", reqs[2].RawQuery, reqs[0].Proto)
	}
}

// TestWebhookStallIsReleasedByClose: a stalled request is answered by
// nothing, recorded with status 0, and Close does not wait for the
// client to give up.
func TestWebhookStallIsReleasedByClose(t *testing.T) {
	w := NewWebhook()
	w.StallNext(1)
	stalled := make(chan struct{})
	w.OnStall(func() { close(stalled) })
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, w.URL(), strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = errors.New("answered " + resp.Status)
		}
		done <- err
	}()
	<-stalled
	w.Close()
	if err := <-done; err == nil || strings.HasPrefix(err.Error(), "answered") {
		t.Errorf("stalled request: %v, want no answer", err)
	}
	if reqs := w.Requests(); len(reqs) != 1 || reqs[0].Status != 0 {
		t.Errorf("requests %+v, want one, unanswered", reqs)
	}
}
