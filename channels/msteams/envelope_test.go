package msteams

import (
	"bytes"
	"encoding/json"
	"testing"

	"notifier/channels"
)

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
