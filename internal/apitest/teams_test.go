package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// teamsCard is a message as a Workflows webhook takes it: one Adaptive
// Card 1.5 with a coloured header, a text and facts (msteams' shape).
const teamsCard = `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,
"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.5",
"fallbackText":"CRITICAL: MySQL server disconnected",
"body":[{"type":"Container","style":"attention","bleed":true,"items":[{"type":"TextBlock","text":"CRITICAL","weight":"Bolder","wrap":true},
{"type":"TextBlock","text":"MySQL server disconnected","size":"Large","wrap":true}]},
{"type":"TextBlock","text":"Server db1:3306 reported as disconnected.","wrap":true},
{"type":"FactSet","facts":[{"title":"Cluster","value":"prod-db"},{"title":"Node","value":"db1"}]}]}}]}`

func teamsPost(t *testing.T, u, contentType string, body []byte) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(u, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestTeamsRefusesWhatTeamsCannotShow checks the checker: the local
// webhook takes a valid card, and refuses, with the reason, each way a
// message can fail to become a card in Teams — so that a channel's
// tests passing means its cards are valid Adaptive Cards.
func TestTeamsRefusesWhatTeamsCannotShow(t *testing.T) {
	s := NewTeams()
	defer s.Close()
	good := func() map[string]any {
		var v map[string]any
		if err := json.Unmarshal([]byte(teamsCard), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	card := func(v map[string]any) map[string]any {
		return v["attachments"].([]any)[0].(map[string]any)["content"].(map[string]any)
	}
	tests := []struct {
		name        string
		edit        func(v map[string]any)
		contentType string
		wantStatus  int
		wantText    string
	}{
		{"as built", func(map[string]any) {}, "", 202, ""},
		{"a TextBlock without text", func(v map[string]any) {
			card(v)["body"] = []any{map[string]any{"type": "TextBlock", "wrap": true}}
		}, "", 400, "not a valid Adaptive Card 1.5"},
		{"a property the schema does not know", func(v map[string]any) {
			card(v)["msteams"] = map[string]any{"width": "Full"}
		}, "", 400, "not a valid Adaptive Card 1.5"},
		{"a fact without a value", func(v map[string]any) {
			card(v)["body"] = []any{map[string]any{"type": "FactSet", "facts": []any{map[string]any{"title": "Node"}}}}
		}, "", 400, "not a valid Adaptive Card 1.5"},
		{"a text where a boolean goes", func(v map[string]any) {
			card(v)["body"] = []any{map[string]any{"type": "TextBlock", "text": "x", "wrap": "yes"}}
		}, "", 400, "not a valid Adaptive Card 1.5"},
		{"a card without a body's list", func(v map[string]any) { card(v)["body"] = map[string]any{} }, "", 400, "not a valid Adaptive Card 1.5"},
		{"an element type that does not exist", func(v map[string]any) {
			card(v)["body"] = []any{map[string]any{"type": "Headline", "text": "x"}}
		}, "", 400, "not a valid Adaptive Card 1.5"},
		{"a version Teams does not render", func(v map[string]any) { card(v)["version"] = "1.6" }, "", 400, "no Adaptive Card schema of that version"},
		{"not an AdaptiveCard", func(v map[string]any) { card(v)["type"] = "MessageCard" }, "", 400, "Property 'type' must be 'AdaptiveCard'"},
		{"no attachments", func(v map[string]any) { delete(v, "attachments") }, "", 400, "must be a valid array"},
		{"another content type", func(v map[string]any) {
			v["attachments"].([]any)[0].(map[string]any)["contentType"] = "application/vnd.microsoft.teams.card.o365connector"
		}, "", 400, "adaptive card request is missing or invalid"},
		{"not sent as JSON", func(map[string]any) {}, "text/plain", 400, "is not JSON"},
		{"over 28 KB", func(v map[string]any) { card(v)["fallbackText"] = strings.Repeat("x", TeamsMaxMessage) }, "", 413, "Request Entity too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := good()
			tt.edit(v)
			b, _ := json.Marshal(v)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			status, body, _ := teamsPost(t, s.URL(), ct, b)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantText) {
				t.Errorf("answered %d %s, want %d with %q", status, body, tt.wantStatus, tt.wantText)
			}
		})
	}
}

// TestTeamsRecordsAndFails: the URL carries the signature, a request
// without it or to another workflow is refused as Teams does,
// programmed failures come first with Retry-After, and every request is
// kept in order with its answer; Cards has the accepted cards only.
func TestTeamsRecordsAndFails(t *testing.T) {
	s := NewTeams()
	defer s.Close()
	if !strings.Contains(s.URL(), TeamsPath+"?") || !strings.HasSuffix(s.URL(), "&sig="+TeamsSignature) || !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
	s.FailNext(1, 429, "3")
	s.FailNext(1, 503, "")
	status, body, h := teamsPost(t, s.URL(), "application/json", []byte(teamsCard))
	if status != 429 || h.Get("Retry-After") != "3" || !strings.Contains(body, `"code":"TooManyRequests"`) {
		t.Errorf("first: %d %s Retry-After %q, want the 429", status, body, h.Get("Retry-After"))
	}
	if status, body, _ = teamsPost(t, s.URL(), "application/json", []byte(teamsCard)); status != 503 || !strings.Contains(body, "ServiceUnavailable") {
		t.Errorf("second: %d %s, want the 503", status, body)
	}
	if status, _, _ = teamsPost(t, strings.Replace(s.URL(), TeamsSignature, "wrong", 1), "application/json", []byte(teamsCard)); status != 401 {
		t.Errorf("wrong signature: %d, want 401", status)
	}
	if status, _, _ = teamsPost(t, strings.Replace(s.URL(), "/workflows/0f", "/workflows/ff", 1), "application/json", []byte(teamsCard)); status != 404 {
		t.Errorf("other workflow: %d, want 404", status)
	}
	if status, _, _ = teamsPost(t, s.URL(), "application/json", []byte(teamsCard)); status != 202 {
		t.Errorf("then: %d, want 202", status)
	}
	reqs := s.Requests()
	var got []int
	for i, r := range reqs {
		if r.Seq != i+1 {
			t.Errorf("request %d has Seq %d", i, r.Seq)
		}
		got = append(got, r.Status)
	}
	if want := []int{429, 503, 401, 404, 202}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if last := reqs[len(reqs)-1]; string(last.Raw) != teamsCard || last.Header.Get("Content-Type") != "application/json" {
		t.Errorf("last request %q %v", last.Raw, last.Header)
	}
	cards := s.Cards()
	var head struct{ Type, Version string }
	if len(cards) != 1 || json.Unmarshal(cards[0], &head) != nil || head.Type != "AdaptiveCard" || head.Version != "1.5" {
		t.Errorf("cards %s, want the one accepted", cards)
	}
}
