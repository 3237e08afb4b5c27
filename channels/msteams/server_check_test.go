package msteams

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"notifier/channels"
)

// TestLocalTeamsRefusesWhatTeamsCannotShow checks the checker: the local
// webhook takes a card BuildPayload made, and refuses, with the reason,
// each way a message can fail to become a card in Teams — so that the
// other tests passing means the cards are valid Adaptive Cards.
func TestLocalTeamsRefusesWhatTeamsCannotShow(t *testing.T) {
	s := newTeams(t)
	good := func() map[string]any {
		var v map[string]any
		if err := json.Unmarshal(Encode(BuildPayload(sampleMessage())), &v); err != nil {
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
		{"over 28 KB", func(v map[string]any) { card(v)["fallbackText"] = strings.Repeat("x", teamsMaxMessage) }, "", 413, "Request Entity too large"},
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
			resp, err := http.Post(s.URL(), ct, bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantText) {
				t.Errorf("answered %d %s, want %d with %q", resp.StatusCode, body, tt.wantStatus, tt.wantText)
			}
		})
	}
}

// TestEnvelope: the message is exactly what a Workflows webhook's
// template reads: type message, one attachment of the Adaptive Card
// content type with contentUrl null, the card's schema and version.
func TestEnvelope(t *testing.T) {
	var v struct {
		Type        string `json:"type"`
		Attachments []map[string]json.RawMessage
	}
	raw := Encode(BuildPayload(sampleMessage()))
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.Type != "message" || len(v.Attachments) != 1 {
		t.Fatalf("type %q with %d attachments", v.Type, len(v.Attachments))
	}
	a := v.Attachments[0]
	if string(a["contentType"]) != `"application/vnd.microsoft.card.adaptive"` || string(a["contentUrl"]) != "null" {
		t.Errorf("contentType %s contentUrl %s", a["contentType"], a["contentUrl"])
	}
	var head map[string]any
	json.Unmarshal(a["content"], &head)
	if head["$schema"] != "http://adaptivecards.io/schemas/adaptive-card.json" || head["version"] != "1.5" || head["type"] != "AdaptiveCard" {
		t.Errorf("card head %v", head)
	}
	// Teams shows text, not HTML: <, > and & travel as they are.
	m := sampleMessage()
	m.Text = "a <b> & c"
	if !bytes.Contains(Encode(BuildPayload(m)), []byte(`"a <b> & c"`)) {
		t.Error("the text was HTML-escaped")
	}
	// Inform reads as a trigger does: Teams keeps no incident.
	m.Action = channels.Inform
	inform := BuildPayload(m)
	m.Action = channels.Trigger
	if string(Encode(inform)) != string(Encode(BuildPayload(m))) {
		t.Error("an Inform card differs from a Trigger card")
	}
}
