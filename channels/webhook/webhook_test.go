package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/channels"
)

// notifier builds a channel sending to url, the way the loader would.
func notifier(t *testing.T, url string, c Config) *Notifier {
	t.Helper()
	if c.URLFile == "" {
		c.URL = url
	}
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// secretFile writes content to a file of mode 0600 and returns its path.
func secretFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fullMessage has every field set, as a CMON alarm produces it.
func fullMessage() *channels.Message {
	return &channels.Message{
		Key: "cmon/cc1/7/18446744073709551615", Action: channels.Inform, Severity: "critical",
		Summary: "MySQL server disconnected on db1", Rule: "critical", Suppressed: 2,
		Source: "cmon", Kind: "alarm", EventType: "MySqlDisconnected",
		Cluster: "prod-db", ClusterID: 7, Node: "db1", Controller: "cc1",
		Name: "Server disconnected", Text: "Server db1:3306 reported as disconnected.",
		Recommendation: "Check the MySQL error log <see /var/log/mysql> & restart.", Count: 3,
		Time:    time.Date(2025, 3, 1, 10, 4, 5, 0, time.FixedZone("CET", 3600)),
		Details: map[string]string{"alarmId": "18446744073709551615", "component": "Network"},
	}
}

// wantID is the documented id: the hex SHA-256 of key, action, rule,
// event time (RFC 3339 in UTC), count and suppressed, each followed by
// a NUL byte.
func wantID(key, action, rule, tm string, count, suppressed int) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{key, action, rule, tm, strconv.Itoa(count), strconv.Itoa(suppressed)}, "\x00") + "\x00"))
	return hex.EncodeToString(sum[:])
}

// fullBody is fullMessage's default body with action, exactly.
func fullBody(action string) string {
	id := wantID("cmon/cc1/7/18446744073709551615", action, "critical", "2025-03-01T09:04:05Z", 3, 2)
	return `{"version":1,"id":"` + id + `","key":"cmon/cc1/7/18446744073709551615","action":"` + action + `",` +
		`"severity":"critical","summary":"MySQL server disconnected on db1","rule":"critical","suppressed":2,` +
		`"event":{"source":"cmon","kind":"alarm","event_type":"MySqlDisconnected","cluster":"prod-db","cluster_id":7,` +
		`"node":"db1","controller":"cc1","name":"Server disconnected","message":"Server db1:3306 reported as disconnected.",` +
		`"recommendation":"Check the MySQL error log <see /var/log/mysql> & restart.","count":3,"time":"2025-03-01T09:04:05Z",` +
		`"fields":{"alarmId":"18446744073709551615","component":"Network"}}}`
}

// TestDefaultBodyOnTheWire: a message and its resolve, with no option
// but the URL: POST, the default body exactly, the fixed headers, the
// URL's path and query; the resolve is the same request with action
// resolve and the same key.
func TestDefaultBodyOnTheWire(t *testing.T) {
	r := newReceiver(t, false)
	n := notifier(t, r.URL()+"/hooks/alerts?team=dba", Config{})
	m := fullMessage()
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	m.Action = channels.Resolve
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	reqs := r.Requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2", len(reqs))
	}
	for i, action := range []string{"message", "resolve"} {
		got := reqs[i]
		if string(got.Body) != fullBody(action) {
			t.Errorf("%s body:\n got %s\nwant %s", action, got.Body, fullBody(action))
		}
		if got.Method != "POST" || got.Path != "/hooks/alerts" || got.RawQuery != "team=dba" {
			t.Errorf("%s: %s %s?%s, want POST /hooks/alerts?team=dba", action, got.Method, got.Path, got.RawQuery)
		}
		id := wantID(m.Key, action, "critical", "2025-03-01T09:04:05Z", 3, 2)
		for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "notifier-webhook/1",
			"Idempotency-Key": id, "Content-Length": strconv.Itoa(len(got.Body))} {
			if v := got.Header.Get(k); v != want {
				t.Errorf("%s: %s = %q, want %q", action, k, v, want)
			}
		}
		for _, k := range []string{"X-Notifier-Signature", "X-Notifier-Timestamp"} {
			if v, ok := got.Header[k]; ok {
				t.Errorf("%s: %s = %q without hmac_secret_file", action, k, v)
			}
		}
	}
}

func TestTriggerAction(t *testing.T) {
	r := newReceiver(t, false)
	m := fullMessage()
	m.Action = channels.Trigger
	if err := notifier(t, r.URL(), Config{}).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := string(only(t, r).Body); got != fullBody("trigger") {
		t.Errorf("body:\n got %s\nwant %s", got, fullBody("trigger"))
	}
}

// TestDefaultBodyOfABareMessage: unknown fields are empty, zero, null
// (time) and {} (fields): the shape never changes.
func TestDefaultBodyOfABareMessage(t *testing.T) {
	m := &channels.Message{Key: "k", Action: channels.Resolve, Severity: "info", Summary: "s"}
	want := `{"version":1,"id":"` + wantID("k", "resolve", "", "", 0, 0) + `","key":"k","action":"resolve","severity":"info","summary":"s","rule":"","suppressed":0,` +
		`"event":{"source":"","kind":"","event_type":"","cluster":"","cluster_id":0,"node":"","controller":"","name":"","message":"","recommendation":"","count":0,"time":null,"fields":{}}}`
	if got := string(Body(m)); got != want {
		t.Errorf("body:\n got %s\nwant %s", got, want)
	}
}

func TestMethodPut(t *testing.T) {
	for _, method := range []string{"PUT", "put", "POST"} {
		t.Run(method, func(t *testing.T) {
			r := newReceiver(t, false)
			if err := notifier(t, r.URL(), Config{Method: method}).Notify(context.Background(), fullMessage()); err != nil {
				t.Fatal(err)
			}
			got := only(t, r)
			if got.Method != strings.ToUpper(method) || string(got.Body) != fullBody("message") {
				t.Errorf("%s with body %s, want %s with the default body", got.Method, got.Body, strings.ToUpper(method))
			}
		})
	}
}

func TestURLFileReachesTheWire(t *testing.T) {
	r := newReceiver(t, false)
	file := secretFile(t, "url", "  "+r.URL()+"/services/T0/B0/s3cr3tp4th?token=q5ecr3tvalue\n")
	if err := notifier(t, "", Config{URLFile: file}).Notify(context.Background(), fullMessage()); err != nil {
		t.Fatal(err)
	}
	got := only(t, r)
	if got.Path != "/services/T0/B0/s3cr3tp4th" || got.RawQuery != "token=q5ecr3tvalue" {
		t.Errorf("request to %s?%s, want the file's URL", got.Path, got.RawQuery)
	}
}

func TestHeadersReachTheWire(t *testing.T) {
	r := newReceiver(t, false)
	tok := secretFile(t, "token", "Bearer abcdefghijklmnop\n")
	key := secretFile(t, "apikey", "k-123456789\n")
	n := notifier(t, r.URL(), Config{
		Headers: []Header{{Name: "X-Team", Value: "dba"}, {Name: "content-type", Value: "application/vnd.alert+json"},
			{Name: "User-Agent", Value: "cc-alerts"}},
		HeaderFiles: []HeaderFile{{Name: "Authorization", File: tok}, {Name: "x-api-key", File: key}},
	})
	if err := n.Notify(context.Background(), fullMessage()); err != nil {
		t.Fatal(err)
	}
	got := only(t, r)
	for k, want := range map[string]string{"X-Team": "dba", "Content-Type": "application/vnd.alert+json", "User-Agent": "cc-alerts",
		"Authorization": "Bearer abcdefghijklmnop", "X-Api-Key": "k-123456789"} {
		if v := got.Header.Values(k); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q once", k, v, want)
		}
	}
}

// verify is what a receiver does with a signed request (README): the
// timestamp header, within five minutes of its clock, and the signature
// header, "sha256=" and the hex HMAC-SHA256 of the timestamp, "." and
// the body exactly as received, compared in constant time.
func verify(key []byte, header http.Header, sigHeader string, body []byte, now time.Time) bool {
	ts := header.Get("X-Notifier-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	got, ok := strings.CutPrefix(header.Get(sigHeader), "sha256=")
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

func TestSignatureVerifies(t *testing.T) {
	const secret = "hmac-secret-0123456789"
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct{ option, header string }{{"", "X-Notifier-Signature"}, {"X-Hub-Signature-256", "X-Hub-Signature-256"}} {
		t.Run(tt.header, func(t *testing.T) {
			r := newReceiver(t, false)
			n := notifier(t, r.URL(), Config{HMACSecretFile: secretFile(t, "hmac", secret+"\n"), SignatureHeader: tt.option})
			n.now = func() time.Time { return at }
			m := fullMessage()
			m.Parts = map[string]string{"body": `{"text": "templated, spaced as rendered"}`}
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := only(t, r)
			if ts := got.Header.Get("X-Notifier-Timestamp"); ts != "1767323045" {
				t.Errorf("timestamp %q, want the Unix time of the send", ts)
			}
			if !verify([]byte(secret), got.Header, tt.header, got.Body, at.Add(time.Minute)) {
				t.Fatalf("the receiver cannot verify %s: %q over %s", tt.header, got.Header.Get(tt.header), got.Body)
			}
			// What a receiver must refuse: another key, another body, another
			// time, a replay long after.
			tampered := got.Header.Clone()
			tampered.Set("X-Notifier-Timestamp", "1767323046")
			for name, ok := range map[string]bool{
				"wrong key":     verify([]byte(secret+"x"), got.Header, tt.header, got.Body, at),
				"changed body":  verify([]byte(secret), got.Header, tt.header, append(got.Body, ' '), at),
				"changed time":  verify([]byte(secret), tampered, tt.header, got.Body, at),
				"replayed late": verify([]byte(secret), got.Header, tt.header, got.Body, at.Add(time.Hour)),
			} {
				if ok {
					t.Errorf("%s: verified", name)
				}
			}
		})
	}
}

func TestBodyTemplatePart(t *testing.T) {
	tests := []struct {
		name, part string
		want       string
	}{
		{"sent as rendered", "{\n  \"text\": \"db1 down\", \"n\": [1, 2]\n}", "{\n  \"text\": \"db1 down\", \"n\": [1, 2]\n}"},
		{"any JSON value", `"just a string"`, `"just a string"`},
		{"not JSON: the default body", `{"text": "db1 down",}`, fullBody("message")},
		{"blank: the default body", "  ", fullBody("message")},
		{"not UTF-8: the default body", "{\"text\": \"db1 \xff down\"}", fullBody("message")},
		{"over the limit: the default body", `"` + strings.Repeat("x", MaxBody) + `"`, fullBody("message")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t, false)
			m := fullMessage()
			m.Parts = map[string]string{"body": tt.part, "other": "{}"}
			if err := notifier(t, r.URL(), Config{Body: "{{ json .summary }}"}).Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := only(t, r)
			if string(got.Body) != tt.want {
				t.Errorf("body:\n got %.300s\nwant %.300s", got.Body, tt.want)
			}
			if got.Header.Get("Idempotency-Key") != ID(m) {
				t.Errorf("Idempotency-Key %q, want the message's id", got.Header.Get("Idempotency-Key"))
			}
		})
	}
}

// TestNoTemplateNoPart: with no body template the channel sends the
// default body; Templates declares body as a required JSON template.
func TestTemplatesDeclareBody(t *testing.T) {
	c := &Config{Body: "{{ json .summary }}"}
	ts := c.Templates()
	if len(ts) != 1 || ts[0].Option != "body" || ts[0].Text != &c.Body || !ts[0].Required || !ts[0].JSON {
		t.Errorf("Templates() = %+v, want body, required, JSON, pointing at Body", ts)
	}
}
