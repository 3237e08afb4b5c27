package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

const pdTestKey = "0123456789abcdef0123456789abcdef"

// pdPost sends body to the enqueue endpoint the way any client would and
// returns status, Retry-After and the decoded answer.
func pdPost(t *testing.T, p *PagerDuty, contentType, body string) (int, string, map[string]any) {
	t.Helper()
	resp, err := http.Post(p.URL()+PagerDutyEnqueuePath, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	var ans map[string]any
	if err := json.Unmarshal(raw, &ans); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), ans
}

func pdEvent(mod func(m map[string]any)) string {
	ev := map[string]any{
		"routing_key":  pdTestKey,
		"event_action": "trigger",
		"dedup_key":    "cmon/ctl/7/42",
		"payload": map[string]any{
			"summary":  "MySQL disconnected on db1",
			"source":   "db1",
			"severity": "critical",
		},
	}
	if mod != nil {
		mod(ev)
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func pdPayload(m map[string]any) map[string]any { return m["payload"].(map[string]any) }

func TestPagerDutyAcceptsValidEvents(t *testing.T) {
	p := NewPagerDuty()
	defer p.Close()

	status, _, ans := pdPost(t, p, "application/json", pdEvent(nil))
	want := map[string]any{"status": "success", "message": "Event processed", "dedup_key": "cmon/ctl/7/42"}
	if status != http.StatusAccepted || !reflect.DeepEqual(ans, want) {
		t.Fatalf("trigger: got %d %v, want 202 %v", status, ans, want)
	}

	// A trigger without dedup_key gets one assigned, as the real API does.
	status, _, ans = pdPost(t, p, "application/json; charset=utf-8", pdEvent(func(m map[string]any) { delete(m, "dedup_key") }))
	if key, _ := ans["dedup_key"].(string); status != http.StatusAccepted || len(key) != 32 {
		t.Fatalf("trigger without dedup_key: got %d %v, want 202 and a 32-digit key", status, ans)
	}

	// A resolve needs no payload.
	status, _, _ = pdPost(t, p, "application/json", pdEvent(func(m map[string]any) {
		m["event_action"] = "resolve"
		delete(m, "payload")
	}))
	if status != http.StatusAccepted {
		t.Fatalf("resolve: got %d, want 202", status)
	}

	evs := p.Events()
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3", len(evs))
	}
	for i, e := range evs {
		if e.Seq != i+1 || e.Status != http.StatusAccepted {
			t.Errorf("event %d: seq %d status %d, want seq %d status 202", i, e.Seq, e.Status, i+1)
		}
	}
	first := evs[0]
	if first.Event.RoutingKey != pdTestKey || first.Event.Payload == nil || first.Event.Payload.Summary != "MySQL disconnected on db1" {
		t.Errorf("decoded event = %+v", first.Event)
	}
	if string(first.Raw) != pdEvent(nil) {
		t.Errorf("raw body = %s, want %s", first.Raw, pdEvent(nil))
	}
	if evs[2].Event.EventAction != "resolve" || evs[2].Event.Payload != nil {
		t.Errorf("resolve decoded as %+v", evs[2].Event)
	}
}

func TestPagerDutyRejectsInvalidEvents(t *testing.T) {
	tests := []struct {
		name string
		mod  func(m map[string]any)
		want []string
	}{
		{"short routing key", func(m map[string]any) { m["routing_key"] = "abc" },
			[]string{"Length of 'routing_key' is incorrect (should be 32 characters)"}},
		{"missing action", func(m map[string]any) { delete(m, "event_action") },
			[]string{"'event_action' is missing or blank"}},
		{"unknown action", func(m map[string]any) { m["event_action"] = "close" },
			[]string{"'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"}},
		{"dedup key too long", func(m map[string]any) { m["dedup_key"] = strings.Repeat("k", 256) },
			[]string{"'dedup_key' is too long (must be at most 255 characters)"}},
		{"resolve without dedup key", func(m map[string]any) { m["event_action"] = "resolve"; delete(m, "dedup_key") },
			[]string{"'dedup_key' is missing or blank"}},
		{"trigger without payload", func(m map[string]any) { delete(m, "payload") },
			[]string{"'payload' is missing or is not a JSON object"}},
		{"blank summary and source", func(m map[string]any) { pdPayload(m)["summary"] = " "; delete(pdPayload(m), "source") },
			[]string{"'payload.summary' is missing or blank", "'payload.source' is missing or blank"}},
		{"summary too long", func(m map[string]any) { pdPayload(m)["summary"] = strings.Repeat("é", 1025) },
			[]string{"'payload.summary' is too long (must be at most 1024 characters)"}},
		{"missing severity", func(m map[string]any) { delete(pdPayload(m), "severity") },
			[]string{"'payload.severity' is missing or blank"}},
		{"unknown severity", func(m map[string]any) { pdPayload(m)["severity"] = "major" },
			[]string{"'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPagerDuty()
			defer p.Close()
			status, _, ans := pdPost(t, p, "application/json", pdEvent(tt.mod))
			want := map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": toAny(tt.want)}
			if status != http.StatusBadRequest || !reflect.DeepEqual(ans, want) {
				t.Fatalf("got %d %v\nwant 400 %v", status, ans, want)
			}
			if got := p.Events()[0]; got.Status != http.StatusBadRequest || !reflect.DeepEqual(got.Errors, tt.want) {
				t.Errorf("recorded status %d errors %q", got.Status, got.Errors)
			}
		})
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestPagerDutyRejectsWhatIsNotAnEvent(t *testing.T) {
	tests := []struct {
		name, contentType, body, want string
	}{
		{"not JSON", "application/json", "{routing_key:", "JSON parse error"},
		{"not a JSON content type", "text/plain", pdEvent(nil), "Content-Type must be application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPagerDuty()
			defer p.Close()
			status, _, ans := pdPost(t, p, tt.contentType, tt.body)
			want := map[string]any{"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": []any{tt.want}}
			if status != http.StatusBadRequest || !reflect.DeepEqual(ans, want) {
				t.Fatalf("got %d %v, want 400 %v", status, ans, want)
			}
		})
	}
}

func TestPagerDutyOnlyServesEnqueue(t *testing.T) {
	p := NewPagerDuty()
	defer p.Close()
	resp, err := http.Get(p.URL() + PagerDutyEnqueuePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET: got %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, err = http.Post(p.URL()+"/v2/enqueue/v2/enqueue", "application/json", strings.NewReader(pdEvent(nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("wrong path: got %d, want 404", resp.StatusCode)
	}
	if n := len(p.Events()); n != 0 {
		t.Errorf("recorded %d events, want none", n)
	}
}

func TestPagerDutyFailNext(t *testing.T) {
	p := NewPagerDuty()
	defer p.Close()
	p.FailNext(1, http.StatusTooManyRequests, "3")
	p.FailNext(2, http.StatusServiceUnavailable, "")

	type answer struct {
		status     int
		retryAfter string
		body       map[string]any
	}
	want := []answer{
		{429, "3", map[string]any{"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}},
		{503, "", map[string]any{"status": "service unavailable", "message": "HTTP 503 from apitest.PagerDuty.FailNext"}},
		{503, "", map[string]any{"status": "service unavailable", "message": "HTTP 503 from apitest.PagerDuty.FailNext"}},
		{202, "", map[string]any{"status": "success", "message": "Event processed", "dedup_key": "cmon/ctl/7/42"}},
	}
	for i, w := range want {
		status, ra, body := pdPost(t, p, "application/json", pdEvent(nil))
		if got := (answer{status, ra, body}); !reflect.DeepEqual(got, w) {
			t.Errorf("request %d: got %+v, want %+v", i+1, got, w)
		}
	}
	var statuses []int
	for _, e := range p.Events() {
		statuses = append(statuses, e.Status)
		if e.Event.DedupKey != "cmon/ctl/7/42" {
			t.Errorf("request %d: failed requests must still be recorded decoded, got %+v", e.Seq, e.Event)
		}
	}
	if !reflect.DeepEqual(statuses, []int{429, 503, 503, 202}) {
		t.Errorf("recorded statuses %v", statuses)
	}
}

func TestPagerDutyStallNextHoldsUntilClientGivesUp(t *testing.T) {
	p := NewPagerDuty()
	defer p.Close()
	p.StallNext(1)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+PagerDutyEnqueuePath, strings.NewReader(pdEvent(nil)))
	req.Header.Set("Content-Type", "application/json")
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled request: got %v, want the client's deadline", err)
	}
	// The next request is answered normally.
	if status, _, _ := pdPost(t, p, "application/json", pdEvent(nil)); status != http.StatusAccepted {
		t.Fatalf("after the stall: got %d, want 202", status)
	}
	evs := p.Events()
	if len(evs) != 2 || evs[0].Status != 0 || evs[1].Status != http.StatusAccepted {
		t.Fatalf("recorded %+v, want a stalled (0) then an accepted request", evs)
	}
}

func TestPagerDutyCloseReleasesStalledRequests(t *testing.T) {
	p := NewPagerDuty()
	p.StallNext(1)
	stalled := make(chan struct{})
	p.mu.Lock()
	p.onStall = func() { close(stalled) }
	p.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		resp, err := http.Post(p.URL()+PagerDutyEnqueuePath, "application/json", strings.NewReader(pdEvent(nil)))
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Once the request is held, Close must not hang on it.
	select {
	case <-stalled:
	case err := <-done:
		t.Fatalf("request returned before Close: %v", err)
	}
	p.Close()
	if err := <-done; err == nil {
		t.Fatal("stalled request got an answer, want a dropped connection")
	}
	p.Close() // a second Close is harmless
}

func TestPagerDutyConcurrentUse(t *testing.T) {
	p := NewPagerDuty()
	defer p.Close()
	const n = 20
	p.FailNext(5, http.StatusInternalServerError, "")
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := pdEvent(func(m map[string]any) { m["dedup_key"] = fmt.Sprint("k", i) })
			resp, err := http.Post(p.URL()+PagerDutyEnqueuePath, "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	evs := p.Events()
	if len(evs) != n {
		t.Fatalf("got %d events, want %d", len(evs), n)
	}
	failed := 0
	keys := map[string]bool{}
	for i, e := range evs {
		if e.Seq != i+1 {
			t.Errorf("event %d has seq %d", i, e.Seq)
		}
		if e.Status == http.StatusInternalServerError {
			failed++
		}
		keys[e.Event.DedupKey] = true
	}
	if failed != 5 || len(keys) != n {
		t.Errorf("got %d failures and %d distinct keys, want 5 and %d", failed, len(keys), n)
	}
}

func TestNewPagerDutyServerUsesTheGivenListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPagerDutyServer(ln)
	defer p.Close()
	if want := "http://" + ln.Addr().String(); p.URL() != want {
		t.Fatalf("URL() = %q, want %q", p.URL(), want)
	}
	if status, _, _ := pdPost(t, p, "application/json", pdEvent(nil)); status != http.StatusAccepted {
		t.Fatalf("got %d, want 202", status)
	}
}
