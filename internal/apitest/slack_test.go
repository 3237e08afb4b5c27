package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
)

type slackReply struct {
	status      int
	contentType string
	retryAfter  string
	body        string
}

func slackPost(t *testing.T, u, contentType, body string, header ...string) slackReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return slackReply{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), strings.TrimSpace(string(b))}
}

func TestSlackWebhook(t *testing.T) {
	s := NewSlack()
	defer s.Close()
	form := url.Values{"payload": {`{"text":"from a form"}`}}.Encode()
	tests := []struct {
		name, path, contentType, body string
		wantStatus                    int
		wantBody                      string
	}{
		{"text", "", "application/json", `{"text":"hello"}`, 200, "ok"},
		{"attachments only", "", "application/json", `{"attachments":[{"color":"danger","text":"x"}]}`, 200, "ok"},
		{"form payload", "", "application/x-www-form-urlencoded", form, 200, "ok"},
		{"empty body", "", "application/json", "", 400, "invalid_payload"},
		{"not json", "", "application/json", "{text", 400, "invalid_payload"},
		{"attachments not an array", "", "application/json", `{"text":"x","attachments":{"a":1}}`, 400, "invalid_payload"},
		{"nothing to show", "", "application/json", `{"channel":"#x"}`, 400, "no_text"},
		{"empty attachments", "", "application/json", `{"attachments":[]}`, 400, "no_text"},
		{"unknown hook", "/services/T0/B0/wrong", "application/json", `{"text":"x"}`, 404, "no_service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := s.WebhookURL()
			if tt.path != "" {
				u = s.URL() + tt.path
			}
			got := slackPost(t, u, tt.contentType, tt.body)
			if got.status != tt.wantStatus || got.body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", got.status, got.body, tt.wantStatus, tt.wantBody)
			}
			if !strings.HasPrefix(got.contentType, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", got.contentType)
			}
		})
	}
	msgs := s.Messages()
	if len(msgs) != 3 {
		t.Fatalf("recorded %d messages, want the 3 accepted: %+v", len(msgs), msgs)
	}
	if m := msgs[0]; m.Method != "webhook" || m.Text != "hello" || m.Attachments != nil {
		t.Errorf("first message %+v", m)
	}
	if got := string(msgs[1].Attachments); got != `[{"color":"danger","text":"x"}]` {
		t.Errorf("attachments recorded as %s", got)
	}
	if msgs[2].Text != "from a form" {
		t.Errorf("form payload recorded as %q", msgs[2].Text)
	}
}

func TestSlackWebAPI(t *testing.T) {
	s := NewSlack()
	defer s.Close()
	const formCT, jsonCT = "application/x-www-form-urlencoded", "application/json; charset=utf-8"
	bearer := []string{"Authorization", "Bearer " + s.Token()}
	form := func(v url.Values) string { return v.Encode() }
	tests := []struct {
		name, method, contentType, body string
		header                          []string
		wantErr                         string // "" means ok
	}{
		{"form with token field", "chat.postMessage", formCT, form(url.Values{"token": {s.Token()}, "channel": {"C123"}, "text": {"hi"}}), nil, ""},
		{"form with bearer", "chat.postMessage", formCT, form(url.Values{"channel": {"#alerts"}, "attachments": {`[{"text":"a"}]`}}), bearer, ""},
		{"json with bearer", "chat.postMessage", jsonCT, `{"channel":"alerts","text":"hi"}`, bearer, ""},
		{"no token", "chat.postMessage", jsonCT, `{"channel":"C123","text":"hi"}`, nil, "not_authed"},
		{"wrong token", "chat.postMessage", formCT, form(url.Values{"token": {"xoxb-nope"}, "channel": {"C123"}, "text": {"hi"}}), nil, "invalid_auth"},
		{"wrong bearer", "chat.postMessage", jsonCT, `{"channel":"C123","text":"hi"}`, []string{"Authorization", "Bearer xoxb-nope"}, "invalid_auth"},
		{"unknown channel", "chat.postMessage", jsonCT, `{"channel":"C999","text":"hi"}`, bearer, "channel_not_found"},
		{"no channel", "chat.postMessage", jsonCT, `{"text":"hi"}`, bearer, "channel_not_found"},
		{"no text", "chat.postMessage", jsonCT, `{"channel":"C123"}`, bearer, "no_text"},
		{"bad attachments", "chat.postMessage", formCT, form(url.Values{"channel": {"C123"}, "attachments": {"{"}}), bearer, "invalid_attachments"},
		{"too long", "chat.postMessage", jsonCT, `{"channel":"C123","text":"` + strings.Repeat("x", slackMaxText+1) + `"}`, bearer, "msg_too_long"},
		{"bad json", "chat.postMessage", jsonCT, `{`, bearer, "invalid_json"},
		{"update unknown ts", "chat.update", jsonCT, `{"channel":"C123","ts":"1.2","text":"hi"}`, bearer, "message_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slackPost(t, s.APIURL()+tt.method, tt.contentType, tt.body, tt.header...)
			if got.status != http.StatusOK {
				t.Fatalf("HTTP %d, want 200 (Slack reports API errors in the body)", got.status)
			}
			var r struct {
				OK      bool   `json:"ok"`
				Error   string `json:"error"`
				Channel string `json:"channel"`
				TS      string `json:"ts"`
			}
			if err := json.Unmarshal([]byte(got.body), &r); err != nil {
				t.Fatalf("body %q: %v", got.body, err)
			}
			if tt.wantErr == "" && (!r.OK || r.Channel != SlackChannelID || r.TS == "") {
				t.Errorf("got %s, want ok with channel C123 and a ts", got.body)
			}
			if tt.wantErr != "" && (r.OK || r.Error != tt.wantErr) {
				t.Errorf("got %s, want error %q", got.body, tt.wantErr)
			}
		})
	}
	if n := len(s.Messages()); n != 3 {
		t.Errorf("recorded %d messages, want 3", n)
	}
}

func TestSlackFailNext(t *testing.T) {
	s := NewSlack()
	defer s.Close()
	s.FailNext(2, http.StatusTooManyRequests, "3")
	s.FailNext(1, http.StatusServiceUnavailable, "")

	hook := `{"text":"x"}`
	tests := []struct {
		name, u                         string
		wantStatus                      int
		wantRetryAfter, wantBodyContain string
	}{
		{"webhook rate limited", s.WebhookURL(), 429, "3", "rate_limited"},
		{"api rate limited", s.APIURL() + "chat.postMessage", 429, "3", `"error":"ratelimited"`},
		{"outage", s.WebhookURL(), 503, "", "service_unavailable"},
		{"then fine", s.WebhookURL(), 200, "", "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slackPost(t, tt.u, "application/json", hook)
			if got.status != tt.wantStatus || got.retryAfter != tt.wantRetryAfter || !strings.Contains(got.body, tt.wantBodyContain) {
				t.Errorf("got %d Retry-After %q %q, want %d %q containing %q",
					got.status, got.retryAfter, got.body, tt.wantStatus, tt.wantRetryAfter, tt.wantBodyContain)
			}
		})
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("recorded %d messages, want only the one that succeeded", n)
	}
}

// TestSlackWithSlackGo checks the fake against the real client: what
// slack-go sends is what the fake parses, and what the fake answers is
// what slack-go understands.
func TestSlackWithSlackGo(t *testing.T) {
	s := NewSlack()
	defer s.Close()
	ctx := context.Background()
	api := slack.New(s.Token(), slack.OptionAPIURL(s.APIURL()))
	att := slack.Attachment{Color: "danger", Text: "body"}
	ch, ts, err := api.PostMessageContext(ctx, "#alerts", slack.MsgOptionText("first", false), slack.MsgOptionAttachments(att))
	if err != nil || ch != SlackChannelID || ts != "1700000000.000100" {
		t.Fatalf("PostMessage = %q, %q, %v", ch, ts, err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("edited", false)); err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	if err := slack.PostWebhookContext(ctx, s.WebhookURL(), &slack.WebhookMessage{Text: "hook"}); err != nil {
		t.Fatalf("PostWebhook: %v", err)
	}
	msgs := s.Messages()
	if len(msgs) != 3 {
		t.Fatalf("got %d messages: %+v", len(msgs), msgs)
	}
	var atts []slack.Attachment
	if err := json.Unmarshal(msgs[0].Attachments, &atts); err != nil || len(atts) != 1 || atts[0].Color != "danger" {
		t.Errorf("attachments %s (%v)", msgs[0].Attachments, err)
	}
	if m := msgs[1]; m.Method != "update" || m.TS != ts || m.Text != "edited" || m.Endpoint != "/api/chat.update" {
		t.Errorf("update recorded as %+v", m)
	}

	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(s.APIURL()))
	_, _, err = bad.PostMessageContext(ctx, "C123", slack.MsgOptionText("x", false))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "invalid_auth" {
		t.Errorf("wrong token: %v, want invalid_auth", err)
	}

	s.FailNext(1, http.StatusTooManyRequests, "7")
	_, _, err = api.PostMessageContext(ctx, "C123", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter.Seconds() != 7 {
		t.Errorf("429: %v, want RateLimitedError after 7s", err)
	}
}

func TestSlackConcurrent(t *testing.T) {
	s := NewSlack()
	defer s.Close()
	api := slack.New(s.Token(), slack.OptionAPIURL(s.APIURL()))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, _, err := api.PostMessageContext(context.Background(), "C123", slack.MsgOptionText("x", false))
			errs <- err
			_ = s.Messages()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	seen := map[string]bool{}
	for _, m := range s.Messages() {
		seen[m.TS] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct ts for %d messages", len(seen), n)
	}
}

func TestNewSlackListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSlackListener(l)
	defer s.Close()
	if want := "http://" + l.Addr().String(); s.URL() != want {
		t.Errorf("URL %q, want %q", s.URL(), want)
	}
	if got := slackPost(t, s.WebhookURL(), "application/json", `{"text":"x"}`); got.status != 200 {
		t.Errorf("webhook on the given listener: %d %q", got.status, got.body)
	}
}

// TestSlackLimits: the fake refuses what real Slack refuses or cuts, on
// both the webhook and the Web API, so a client that forgets a limit
// fails in a test.
func TestSlackLimits(t *testing.T) {
	s := NewSlack()
	defer s.Close()
	section := func(text string, fields ...string) string {
		b, _ := json.Marshal(map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": text}})
		if len(fields) > 0 {
			fs := make([]map[string]string, len(fields))
			for i, f := range fields {
				fs[i] = map[string]string{"type": "mrkdwn", "text": f}
			}
			b, _ = json.Marshal(map[string]any{"type": "section", "fields": fs})
		}
		return string(b)
	}
	blocks := func(bs ...string) string { return `{"text":"x","blocks":[` + strings.Join(bs, ",") + `]}` }
	many := func(n int, b string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = b
		}
		return out
	}
	tests := []struct {
		name, body, want string
	}{
		{"text at the limit", `{"text":"` + strings.Repeat("é", slackMaxText) + `"}`, ""},
		{"text over the limit", `{"text":"` + strings.Repeat("x", slackMaxText+1) + `"}`, "msg_too_long"},
		{"50 blocks", blocks(many(50, section("x"))...), ""},
		{"51 blocks", blocks(many(51, section("x"))...), "invalid_blocks"},
		{"section text over 3000", blocks(section(strings.Repeat("x", 3001))), "invalid_blocks"},
		{"11 fields", blocks(section("", many(11, "f")...)), "invalid_blocks"},
		{"field over 2000", blocks(section("", strings.Repeat("x", 2001))), "invalid_blocks"},
		{"header over 150", blocks(`{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("x", 151) + `"}}`), "invalid_blocks"},
		{"header at 150", blocks(`{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("x", 150) + `"}}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slackPost(t, s.WebhookURL(), "application/json", tt.body)
			want := slackReply{status: 200, body: "ok"}
			if tt.want != "" {
				want = slackReply{status: 400, body: tt.want}
			}
			if got.status != want.status || got.body != want.body {
				t.Errorf("webhook: got %d %q, want %d %q", got.status, got.body, want.status, want.body)
			}
			var p map[string]any
			if err := json.Unmarshal([]byte(tt.body), &p); err != nil {
				t.Fatal(err)
			}
			p["channel"] = SlackChannelID
			b, _ := json.Marshal(p)
			api := slackPost(t, s.APIURL()+"chat.postMessage", "application/json", string(b), "Authorization", "Bearer "+s.Token())
			var r struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(api.body), &r); err != nil {
				t.Fatalf("web API answer %q: %v", api.body, err)
			}
			if r.OK != (tt.want == "") || r.Error != tt.want {
				t.Errorf("web API: got ok=%v error %q, want error %q", r.OK, r.Error, tt.want)
			}
		})
	}
}
