package pagerduty

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

// notifier builds a channel pointed at srv, the way the loader would.
func notifier(t *testing.T, eventsURL string, c Config) *Notifier {
	t.Helper()
	if c.RoutingKey == "" && c.RoutingKeyFile == "" {
		c.RoutingKey = testKey
	}
	c.EventsURL = eventsURL
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// noSecret fails when err shows the routing key.
func noSecret(t *testing.T, err error, key string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), key) {
		t.Errorf("error shows the routing key: %v", err)
	}
}

func TestTriggerAndResolveOnTheWire(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	n := notifier(t, srv.URL(), Config{Client: "ClusterControl", ClientURL: "https://cc.example.com/clusters/7"})
	ctx := context.Background()

	m := fullMessage()
	if err := n.Notify(ctx, m); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	m.Action = channels.Resolve
	if err := n.Notify(ctx, m); err != nil {
		t.Fatalf("resolve: %v", err)
	}

	evs := srv.Events()
	if len(evs) != 2 {
		t.Fatalf("server got %d requests, want 2", len(evs))
	}
	for _, e := range evs {
		if e.Status != http.StatusAccepted {
			t.Errorf("request %d answered %d (%q), want 202", e.Seq, e.Status, e.Errors)
		}
		if ua := e.Header.Get("User-Agent"); !strings.HasPrefix(ua, "go-pagerduty/") {
			t.Errorf("request %d: User-Agent %q, want go-pagerduty's", e.Seq, ua)
		}
	}
	trigger := evs[0].Event
	wantTrigger := apitest.PagerDutyEvent{
		RoutingKey: testKey, EventAction: "trigger", DedupKey: "cmon/cc1/7/18446744073709551615",
		Client: "ClusterControl", ClientURL: "https://cc.example.com/clusters/7",
		Payload: &apitest.PagerDutyPayload{
			Summary: "MySQL server disconnected on db1", Source: "db1", Severity: "critical",
			Timestamp: "2025-03-01T09:04:05Z", Component: "alarm", Group: "prod-db", Class: "MySqlDisconnected",
			CustomDetails: jsonNumbers(wantDetails()),
		},
	}
	if !reflect.DeepEqual(trigger, wantTrigger) {
		t.Errorf("trigger on the wire:\n got %+v\n     %+v\nwant %+v\n     %+v", trigger, trigger.Payload, wantTrigger, wantTrigger.Payload)
	}
	resolve := evs[1].Event
	wantResolve := apitest.PagerDutyEvent{RoutingKey: testKey, EventAction: "resolve", DedupKey: trigger.DedupKey}
	if !reflect.DeepEqual(resolve, wantResolve) {
		t.Errorf("resolve on the wire = %+v, want %+v", resolve, wantResolve)
	}
}

// TestActionsOnTheWire sends each action to the Events API stand-in,
// which accepts only trigger, acknowledge and resolve.
func TestActionsOnTheWire(t *testing.T) {
	for _, tt := range actionTests {
		t.Run(string(tt.action), func(t *testing.T) {
			srv := apitest.NewPagerDuty()
			defer srv.Close()
			m := fullMessage()
			m.Action = tt.action
			if err := notifier(t, srv.URL(), Config{}).Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			evs := srv.Events()
			if len(evs) != 1 || evs[0].Status != http.StatusAccepted {
				t.Fatalf("server got %+v, want one accepted event", evs)
			}
			got := evs[0].Event
			if got.EventAction != tt.wantAction || got.DedupKey != m.Key || (got.Payload != nil) != tt.wantPayload {
				t.Errorf("event_action %q dedup_key %q payload %v, want %q %q payload %v",
					got.EventAction, got.DedupKey, got.Payload != nil, tt.wantAction, m.Key, tt.wantPayload)
			}
		})
	}
}

// jsonNumbers turns ints into float64, as they come back from JSON.
func jsonNumbers(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if i, ok := v.(int); ok {
			v = float64(i)
		}
		out[k] = v
	}
	return out
}

func TestLongKeysAndSummariesAreAccepted(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	n := notifier(t, srv.URL(), Config{})
	m := &channels.Message{
		Key:      "pacemaker/prod/resource/db1/" + strings.Repeat("very-long-resource-name-", 20),
		Action:   channels.Trigger,
		Severity: "warning",
		Summary:  strings.Repeat("Resource failed to start. ", 100),
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	m.Action = channels.Resolve
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	evs := srv.Events()
	trig, res := evs[0].Event, evs[1].Event
	if trig.DedupKey != DedupKey(m.Key) || res.DedupKey != trig.DedupKey || len(trig.DedupKey) > maxDedupKeyLen {
		t.Errorf("dedup keys %q / %q, want the same hashed key of ≤255", trig.DedupKey, res.DedupKey)
	}
	if got := trig.Payload.CustomDetails["key"]; got != m.Key {
		t.Errorf("custom_details.key = %v, want the full key", got)
	}
	if len(trig.Payload.Summary) > maxSummaryLen || !strings.HasPrefix(m.Summary, strings.TrimSuffix(trig.Payload.Summary, "…")) {
		t.Errorf("summary of %d bytes: %q", len(trig.Payload.Summary), trig.Payload.Summary)
	}
}

func TestKeyFileReachesTheWire(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "pd.key")
	const fileKey = "fedcba9876543210fedcba9876543210"
	if err := os.WriteFile(file, []byte(fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The full endpoint URL, as PagerDuty's docs print it, works too.
	n := notifier(t, srv.URL()+"/v2/enqueue", Config{RoutingKeyFile: file})
	if err := n.Notify(context.Background(), fullMessage()); err != nil {
		t.Fatal(err)
	}
	if got := srv.Events()[0].Event.RoutingKey; got != fileKey {
		t.Errorf("routing_key on the wire = %q, want the file's", got)
	}
}

func TestErrors(t *testing.T) {
	const key = "cmon/cc1/7/18446744073709551615"
	tests := []struct {
		name       string
		fail       func(srv *apitest.PagerDuty)
		routingKey string // overrides the valid key, bypassing New's check
		want       string
		retryable  bool
		after      time.Duration
	}{
		{
			name:       "400 carries PagerDuty's explanation",
			routingKey: testKey[:31],
			want:       `pagerduty: trigger "` + key + `": HTTP 400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)`,
		},
		{
			name:      "503 is retryable",
			fail:      func(srv *apitest.PagerDuty) { srv.FailNext(1, http.StatusServiceUnavailable, "") },
			want:      `pagerduty: trigger "` + key + `": HTTP 503: HTTP 503 from apitest.PagerDuty.FailNext`,
			retryable: true,
		},
		{
			name:      "503 with Retry-After",
			fail:      func(srv *apitest.PagerDuty) { srv.FailNext(1, http.StatusServiceUnavailable, "7") },
			want:      `pagerduty: trigger "` + key + `": HTTP 503: HTTP 503 from apitest.PagerDuty.FailNext`,
			retryable: true, after: 7 * time.Second,
		},
		{
			name:      "429 honours Retry-After",
			fail:      func(srv *apitest.PagerDuty) { srv.FailNext(1, http.StatusTooManyRequests, "3") },
			want:      `pagerduty: trigger "` + key + `": HTTP 429: Requests for this service are arriving too quickly. Please retry later.`,
			retryable: true, after: 3 * time.Second,
		},
		{
			name: "403 is permanent",
			fail: func(srv *apitest.PagerDuty) { srv.FailNext(1, http.StatusForbidden, "") },
			want: `pagerduty: trigger "` + key + `": HTTP 403: HTTP 403 from apitest.PagerDuty.FailNext`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := apitest.NewPagerDuty()
			defer srv.Close()
			n := notifier(t, srv.URL(), Config{})
			if tt.routingKey != "" {
				n.routingKey = tt.routingKey
			}
			if tt.fail != nil {
				tt.fail(srv)
			}
			err := n.Notify(context.Background(), fullMessage())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Notify() = %v\nwant %s", err, tt.want)
			}
			retry, after := channels.IsRetryable(err)
			if retry != tt.retryable || after != tt.after {
				t.Errorf("retryable = %v after %v, want %v after %v", retry, after, tt.retryable, tt.after)
			}
			noSecret(t, err, n.routingKey)
		})
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	srv.StallNext(1)
	n := notifier(t, srv.URL(), Config{Timeout: 50 * time.Millisecond})

	// The server never answers. A run deadline far longer than the
	// channel's timeout tells the two apart should the timeout be lost.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err := n.Notify(ctx, fullMessage())
	elapsed := time.Since(start)

	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "Client.Timeout exceeded") {
		t.Fatalf("Notify() = %v, want the HTTP client's timeout", err)
	}
	if retry, _ := channels.IsRetryable(err); !retry {
		t.Errorf("a timeout must be retryable: %v", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %v with a 50ms timeout", elapsed)
	}
	if !strings.HasPrefix(err.Error(), `pagerduty: trigger "cmon/cc1/7/18446744073709551615": `) {
		t.Errorf("error lacks context: %v", err)
	}
	noSecret(t, err, testKey)
}

func TestNetworkErrorIsRetryableAndRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	n := notifier(t, "http://"+addr, Config{})
	err = n.Notify(context.Background(), fullMessage())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("Notify() = %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not say where it tried", err)
	}
	noSecret(t, err, testKey)

	// Were the key ever part of what the transport reports (here: the
	// URL's user info), it is redacted and the error stays retryable.
	n = notifier(t, "http://"+testKey+"@"+addr, Config{})
	err = n.Notify(context.Background(), fullMessage())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("Notify() = %v, want a retryable error", err)
	}
	noSecret(t, err, testKey)
}

func TestDeliverRetriesThroughOutages(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	srv.FailNext(2, http.StatusServiceUnavailable, "")
	n := notifier(t, srv.URL(), Config{})

	attempts, err := channels.Deliver(context.Background(), n, fullMessage(), channels.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond})
	if err != nil || attempts != 3 {
		t.Fatalf("Deliver() = %d, %v; want success on attempt 3", attempts, err)
	}
	var statuses []int
	for _, e := range srv.Events() {
		statuses = append(statuses, e.Status)
	}
	if !reflect.DeepEqual(statuses, []int{503, 503, 202}) {
		t.Errorf("server answered %v", statuses)
	}
}

func TestDeliverStopsAtARejection(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	srv.FailNext(1, http.StatusBadRequest, "")
	n := notifier(t, srv.URL(), Config{})

	attempts, err := channels.Deliver(context.Background(), n, fullMessage(), channels.Backoff{Initial: time.Millisecond, Max: time.Millisecond})
	if err == nil || attempts != 1 {
		t.Fatalf("Deliver() = %d, %v; want one attempt and the 400", attempts, err)
	}
	if !strings.Contains(err.Error(), "HTTP 400: Event object is invalid: rejected by apitest.PagerDuty.FailNext") {
		t.Errorf("error %q lacks PagerDuty's text", err)
	}
}
