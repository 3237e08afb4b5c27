package pagerduty

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"notifier/channels"
)

func TestBuildEventMapping(t *testing.T) {
	base := func() *channels.Message {
		return &channels.Message{Key: "cmon/ctl1/7/42", Action: channels.Trigger, Severity: "critical", Summary: "MySQL disconnected"}
	}
	tests := []struct {
		name  string
		mod   func(m *channels.Message)
		check func(t *testing.T, p map[string]any)
	}{
		{"severity critical", func(m *channels.Message) { m.Severity = "critical" }, want("severity", "critical")},
		{"severity warning", func(m *channels.Message) { m.Severity = "warning" }, want("severity", "warning")},
		{"severity info", func(m *channels.Message) { m.Severity = "info" }, want("severity", "info")},
		{"unknown severity pages as error", func(m *channels.Message) { m.Severity = "major" }, want("severity", "error")},
		{"empty severity pages as error", func(m *channels.Message) { m.Severity = "" }, want("severity", "error")},
		{"source is the node", func(m *channels.Message) { m.Node, m.Controller = "db1", "cc1" }, want("source", "db1")},
		{"source falls back to the controller", func(m *channels.Message) { m.Controller = "cc1" }, want("source", "cc1")},
		{"source falls back to notifier", nil, want("source", "notifier")},
		{"group is the cluster", func(m *channels.Message) { m.Cluster, m.ClusterID = "prod-db", 7 }, want("group", "prod-db")},
		{"group falls back to the cluster id", func(m *channels.Message) { m.ClusterID = 7 }, want("group", "cluster-7")},
		{"no group without a cluster", nil, want("group", nil)},
		{"blank summary uses the key", func(m *channels.Message) { m.Summary = " " }, want("summary", "cmon/ctl1/7/42")},
		{"summary truncated", func(m *channels.Message) { m.Summary = strings.Repeat("é", 600) }, func(t *testing.T, p map[string]any) {
			s := p["summary"].(string)
			if len(s) > 1024 || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
				t.Errorf("summary of %d bytes (valid UTF-8: %v), want ≤1024 ending in …", len(s), utf8.ValidString(s))
			}
		}},
		{"short summary untouched", func(m *channels.Message) { m.Summary = strings.Repeat("x", 1024) }, want("summary", strings.Repeat("x", 1024))},
		{"timestamp is RFC 3339 UTC", func(m *channels.Message) {
			m.Time = time.Date(2025, 3, 1, 10, 4, 5, 120000000, time.FixedZone("CET", 3600))
		}, want("timestamp", "2025-03-01T09:04:05.12Z")},
		{"no timestamp without a time", nil, want("timestamp", nil)},
		{"raw details lose to normalised ones", func(m *channels.Message) {
			m.Details = map[string]string{"message": "raw", "alarmId": "18446744073709551615"}
			m.Text = "normalised"
		}, func(t *testing.T, p map[string]any) {
			d := p["custom_details"].(map[string]any)
			if d["message"] != "normalised" || d["alarmId"] != "18446744073709551615" {
				t.Errorf("custom_details = %v", d)
			}
		}},
		{"huge detail values are cut", func(m *channels.Message) { m.Details = map[string]string{"blob": strings.Repeat("x", 100000)} }, func(t *testing.T, p map[string]any) {
			if n := len(p["custom_details"].(map[string]any)["blob"].(string)); n > maxDetailLen {
				t.Errorf("detail of %d bytes, want ≤%d", n, maxDetailLen)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base()
			if tt.mod != nil {
				tt.mod(m)
			}
			ev := BuildEvent(testKey, Config{}, m)
			var wire map[string]any
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &wire); err != nil {
				t.Fatal(err)
			}
			tt.check(t, wire["payload"].(map[string]any))
		})
	}
}

// want checks one payload field as it appears in JSON; nil means absent.
func want(field string, v any) func(t *testing.T, p map[string]any) {
	return func(t *testing.T, p map[string]any) {
		t.Helper()
		got, ok := p[field]
		if v == nil {
			if ok {
				t.Errorf("payload.%s = %v, want it omitted", field, got)
			}
			return
		}
		if got != v {
			t.Errorf("payload.%s = %v, want %v", field, got, v)
		}
	}
}

func TestBuildEventResolveCarriesOnlyTheKey(t *testing.T) {
	m := &channels.Message{Key: "pacemaker/prod/node/db2", Action: channels.Resolve, Severity: "critical", Summary: "node db2 back", Node: "db2"}
	b, err := json.Marshal(BuildEvent(testKey, Config{Client: "cmon", ClientURL: "https://cc"}, m))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"routing_key":"` + testKey + `","event_action":"resolve","dedup_key":"pacemaker/prod/node/db2"}`
	if string(b) != want {
		t.Fatalf("resolve = %s\nwant     %s", b, want)
	}
}

// actionTests: what each action becomes at PagerDuty, which has no plain
// notification: an Inform pages exactly as a Trigger does; only Resolve
// differs, and carries no payload.
var actionTests = []struct {
	action      channels.Action
	wantAction  string
	wantPayload bool
}{
	{channels.Trigger, "trigger", true},
	{channels.Inform, "trigger", true},
	{channels.Resolve, "resolve", false},
}

// TestBuildEventActions: PagerDuty has no plain notification, so an
// Inform pages exactly as a Trigger does; only Resolve differs.
func TestBuildEventActions(t *testing.T) {
	trigger := fullMessage()
	wantPayload := BuildEvent(testKey, Config{}, trigger).Payload
	for _, tt := range actionTests {
		t.Run(string(tt.action), func(t *testing.T) {
			m := fullMessage()
			m.Action = tt.action
			ev := BuildEvent(testKey, Config{}, m)
			if ev.Action != tt.wantAction || ev.DedupKey != m.Key || ev.RoutingKey != testKey {
				t.Errorf("event_action %q dedup_key %q, want %q %q", ev.Action, ev.DedupKey, tt.wantAction, m.Key)
			}
			switch {
			case !tt.wantPayload && ev.Payload != nil:
				t.Errorf("payload %+v, want none", ev.Payload)
			case tt.wantPayload && !reflect.DeepEqual(ev.Payload, wantPayload):
				t.Errorf("payload %+v\nwant the trigger's %+v", ev.Payload, wantPayload)
			}
		})
	}
}

func TestDedupKey(t *testing.T) {
	long := strings.Repeat("pacemaker/prod/resource/db1/", 12) // 336 bytes
	tests := []struct {
		name, key string
	}{
		{"short", "cmon/ctl1/7/42"},
		{"exactly 255", strings.Repeat("k", 255)},
		{"256", strings.Repeat("k", 256)},
		{"long", long},
		{"long multibyte", strings.Repeat("å", 200)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DedupKey(tt.key)
			if len(tt.key) <= maxDedupKeyLen {
				if got != tt.key {
					t.Fatalf("DedupKey changed a short key: %q", got)
				}
				return
			}
			if len(got) > maxDedupKeyLen || !utf8.ValidString(got) {
				t.Fatalf("DedupKey gave %d bytes (valid UTF-8: %v)", len(got), utf8.ValidString(got))
			}
			prefix, sum, ok := strings.Cut(got, "~")
			if !ok || !strings.HasPrefix(tt.key, prefix) || len(prefix) < maxDedupKeyLen-1-64-3 || len(sum) != 64 {
				t.Fatalf("DedupKey = %q, want the key's first ~190 bytes, ~ and 64 hex digits", got)
			}
			if again := DedupKey(tt.key); again != got {
				t.Errorf("not stable: %q then %q", got, again)
			}
			if other := DedupKey(tt.key + "x"); other == got {
				t.Errorf("keys sharing a prefix collide: %q", got)
			}
		})
	}
	// The documented form, pinned: operators may compute it by hand.
	sum := sha256.Sum256([]byte(long))
	if got, want := DedupKey(long), long[:190]+"~"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("DedupKey(long) = %q\nwant %q", got, want)
	}
}

func TestBuildEventCarriesEveryField(t *testing.T) {
	m := fullMessage()
	ev := BuildEvent(testKey, Config{Client: "ClusterControl", ClientURL: "https://cc.example.com/clusters/7"}, m)
	if ev.RoutingKey != testKey || ev.Action != "trigger" || ev.DedupKey != m.Key || ev.Client != "ClusterControl" || ev.ClientURL != "https://cc.example.com/clusters/7" {
		t.Errorf("event = %+v", ev)
	}
	if !reflect.DeepEqual(ev.Payload.Details, wantDetails()) {
		t.Errorf("custom_details = %v\nwant %v", ev.Payload.Details, wantDetails())
	}
}

// fullMessage has every field set, as a CMON alarm produces it.
func fullMessage() *channels.Message {
	return &channels.Message{
		Key: "cmon/cc1/7/18446744073709551615", Action: channels.Trigger, Severity: "critical",
		Summary: "MySQL server disconnected on db1", Rule: "critical",
		Source: "cmon", Kind: "alarm", EventType: "MySqlDisconnected",
		Cluster: "prod-db", ClusterID: 7, Node: "db1", Controller: "cc1",
		Name: "Server disconnected", Text: "Server db1:3306 reported as disconnected.",
		Recommendation: "Check the MySQL error log.", Count: 3,
		Time:    time.Date(2025, 3, 1, 9, 4, 5, 0, time.UTC),
		Details: map[string]string{"alarmId": "18446744073709551615", "component": "Network"},
	}
}

func wantDetails() map[string]any {
	return map[string]any{
		"alarmId": "18446744073709551615", "component": "Network",
		"rule": "critical", "key": "cmon/cc1/7/18446744073709551615", "source": "cmon", "kind": "alarm",
		"event_type": "MySqlDisconnected", "cluster": "prod-db", "node": "db1", "controller": "cc1",
		"name": "Server disconnected", "message": "Server db1:3306 reported as disconnected.",
		"recommendation": "Check the MySQL error log.", "cluster_id": 7, "count": 3,
	}
}
