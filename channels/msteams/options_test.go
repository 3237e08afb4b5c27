package msteams

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// Each option reaches the wire: a card posted through the local webhook
// shows it. The pipeline renders the templates into Message.Parts; the
// channel sends a part in place of its built-in text.

func TestOptionWebhookURLInline(t *testing.T) {
	s := newTeams(t)
	if err := newNotifier(t, Config{WebhookURL: s.URL()}).Notify(context.Background(), sampleMessage()); err != nil {
		t.Fatal(err)
	}
	if len(s.Cards()) != 1 {
		t.Fatalf("requests %+v", s.Requests())
	}
}

func TestOptionTitle(t *testing.T) {
	s := newTeams(t)
	n := notifierFor(t, s)
	m := sampleMessage()
	m.Parts = map[string]string{"title": "prod-db: MySqlDisconnected on db1 — see the runbook"}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	h := header(t, s.LastCard())
	if h.Items[1].Text != m.Parts["title"] || h.Items[0].Text != "CRITICAL" {
		t.Errorf("header %q, want the status line and the rendered title", texts(s.LastCard())[:2])
	}
	if fb := s.LastCard().FallbackText; fb != "CRITICAL: "+m.Parts["title"] {
		t.Errorf("fallbackText %q", fb)
	}
	// A resolve keeps its green status line above the same template's text.
	m.Action = "resolve"
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if h := header(t, s.LastCard()); h.Style != "good" || h.Items[0].Text != "RESOLVED (was CRITICAL)" || h.Items[1].Text != m.Parts["title"] {
		t.Errorf("resolve header %+v", h)
	}
}

func TestOptionText(t *testing.T) {
	s := newTeams(t)
	m := sampleMessage()
	m.Parts = map[string]string{"text": "Runbook: [MySQL down](https://wiki.example/runbooks/mysql)\n\nOwner: dba"}
	if err := notifierFor(t, s).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	tx := texts(s.LastCard())
	if !slices.Contains(tx, m.Parts["text"]) || slices.Contains(tx, m.Text) {
		t.Errorf("texts %q: want the rendered text in place of the event's", tx)
	}
}

func TestOptionFacts(t *testing.T) {
	s := newTeams(t)
	m := sampleMessage()
	m.Parts = map[string]string{
		"facts.Runbook":     "https://wiki.example/runbooks/MySqlDisconnected",
		"facts.Environment": "production",
		"facts.cluster":     "prod-db (Frankfurt)", // any case names the built-in fact
		"facts.Rule":        " ",                   // blank: leaves the built-in fact out
		"facts.Empty":       "",                    // blank: no fact
	}
	if err := notifierFor(t, s).Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range s.LastCard().Body {
		for _, f := range e.Facts {
			got = append(got, f.Title+"="+f.Value)
		}
	}
	want := []string{
		"cluster=prod-db (Frankfurt)", "Node=db1", "Event type=MySqlDisconnected", "Key=cmon/ctl1/7/4242",
		"Time=2026-12-05 06:35:37 UTC", "Count=3",
		"Environment=production", "Runbook=https://wiki.example/runbooks/MySqlDisconnected",
	}
	if !slices.Equal(got, want) {
		t.Errorf("facts\n got %q\nwant %q", got, want)
	}
}

// TestNoPartsNoChange: parts for other channels' options, or none, leave
// the built-in card as it is.
func TestNoPartsNoChange(t *testing.T) {
	m := sampleMessage()
	want := string(Encode(BuildPayload(m)))
	m.Parts = map[string]string{"summary": "x", "custom_details.runbook": "y", "factsX": "z"}
	if got := string(Encode(BuildPayload(m))); got != want {
		t.Errorf("unrelated parts changed the card:\n%s\n%s", got, want)
	}
	if !strings.Contains(want, `"text":"MySQL server disconnected"`) {
		t.Errorf("built-in title missing: %s", want)
	}
}

// TestBlankTitlePart: title is Required, so the pipeline drops a blank
// rendering; should one arrive all the same, the built-in title is sent
// rather than a card without a heading.
func TestBlankTitlePart(t *testing.T) {
	m := sampleMessage()
	m.Parts = map[string]string{"title": " \n "}
	h := BuildPayload(m).Attachments[0].Content.Body[0]
	if len(h.Items) != 2 || h.Items[1].Text != m.Summary {
		t.Errorf("header %+v, want the summary", h.Items)
	}
}
