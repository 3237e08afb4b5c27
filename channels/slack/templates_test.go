package slack

import (
	"context"
	"reflect"
	"strings"
	"testing"

	goslack "github.com/slack-go/slack"

	"notifier/channels"
	"notifier/internal/apitest"
)

// arrived is a message as Slack received it: the top-level text and the
// attachment, decoded with slack-go's own type.
type arrived struct {
	Text string
	Att  goslack.Attachment
}

// postParts sends sampleMessage with action and parts, as the pipeline
// renders them, through a webhook and through the Web API, and returns
// what arrived, the same both ways.
func postParts(t *testing.T, action channels.Action, parts map[string]string) arrived {
	t.Helper()
	s := apitest.NewSlack()
	defer s.Close()
	var out []arrived
	for _, n := range []*Notifier{webhookNotifier(t, s), apiNotifier(t, s, s.Token(), apitest.SlackChannelID)} {
		m := sampleMessage()
		m.Action, m.Parts = action, parts
		if err := n.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got, a := lastAttachment(t, s)
		out = append(out, arrived{got.Text, a})
	}
	if !reflect.DeepEqual(out[0], out[1]) {
		t.Errorf("webhook and Web API differ:\n%+v\n%+v", out[0], out[1])
	}
	return out[0]
}

// TestTemplatedPartsOnTheWire: every template option replaces its
// built-in text in what Slack receives, escaped and bounded as the text
// it replaces, and leaves the rest as it was.
func TestTemplatedPartsOnTheWire(t *testing.T) {
	const where = " (cluster prod-db (id 7), node db1)"
	tests := []struct {
		name   string
		action channels.Action
		parts  map[string]string
		want   func(a *arrived)
	}{
		{"title", channels.Trigger, map[string]string{"title": "CRITICAL prod-db: MySqlDisconnected on db1"}, func(a *arrived) {
			a.Text = "CRITICAL prod-db: MySqlDisconnected on db1"
			a.Att.Fallback = a.Text + where
		}},
		{"title on a resolve replaces all of the header", channels.Resolve, map[string]string{"title": "cleared: db1"}, func(a *arrived) {
			a.Text = "cleared: db1"
			a.Att.Fallback = a.Text + where
		}},
		{"title is escaped and cut", channels.Trigger, map[string]string{"title": "<!channel> " + strings.Repeat("t", 2000)}, func(a *arrived) {
			a.Text = "&lt;!channel&gt; " + strings.Repeat("t", maxHeaderLen-len("&lt;!channel&gt; ")-3) + "…"
			a.Att.Fallback = a.Text
		}},
		{"a blank title is never sent", channels.Trigger, map[string]string{"title": " \n"}, func(*arrived) {}},
		{"text", channels.Trigger, map[string]string{"text": "Runbook: https://wiki.example.com/MySqlDisconnected & more"}, func(a *arrived) {
			a.Att.Text = "Runbook: https://wiki.example.com/MySqlDisconnected &amp; more"
		}},
		{"text is cut", channels.Trigger, map[string]string{"text": strings.Repeat("x", 9000)}, func(a *arrived) {
			a.Att.Text = strings.Repeat("x", maxAttachmentTextLen-3) + "…"
		}},
		{"blank text leaves it out", channels.Trigger, map[string]string{"text": ""}, func(a *arrived) { a.Att.Text = "" }},
		{"footer", channels.Trigger, map[string]string{"footer": "prod-db · on call: dba"}, func(a *arrived) {
			a.Att.Footer = "prod-db · on call: dba"
		}},
		{"footer is cut", channels.Trigger, map[string]string{"footer": strings.Repeat("f", 500)}, func(a *arrived) {
			a.Att.Footer = strings.Repeat("f", maxFooterLen-3) + "…"
		}},
		{"fields replaced, removed and added", channels.Trigger, map[string]string{
			"fields.cluster":        "prod-db (eu-west)",
			"fields.Count":          "",
			"fields.Recommendation": "See the runbook",
			"fields.Owner":          "dba <team>",
			"fields.Runbook":        "https://wiki.example.com/runbooks/MySqlDisconnected",
			"fields.Nothing":        " ",
		}, func(a *arrived) {
			a.Att.Fields = []goslack.AttachmentField{
				{Title: "cluster", Value: "prod-db (eu-west)", Short: true},
				{Title: "Node", Value: "db1", Short: true},
				{Title: "Type", Value: "MySqlDisconnected", Short: true},
				{Title: "Recommendation", Value: "See the runbook", Short: false},
				{Title: "Owner", Value: "dba &lt;team&gt;", Short: true},
				{Title: "Runbook", Value: "https://wiki.example.com/runbooks/MySqlDisconnected", Short: false},
			}
		}},
		{"a field of several lines is long, values are cut", channels.Trigger, map[string]string{
			"fields.Notes": "one\ntwo", "fields.Blob": strings.Repeat("b", 3000),
		}, func(a *arrived) {
			a.Att.Fields = append(a.Att.Fields,
				goslack.AttachmentField{Title: "Blob", Value: strings.Repeat("b", maxFieldValueLen-3) + "…"},
				goslack.AttachmentField{Title: "Notes", Value: "one\ntwo"})
		}},
		{"a resolve sends its parts too", channels.Resolve, map[string]string{"text": "back", "fields.Owner": "dba"}, func(a *arrived) {
			a.Att.Text = "back"
			a.Att.Fields = append(a.Att.Fields, goslack.AttachmentField{Title: "Owner", Value: "dba", Short: true})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := postParts(t, tt.action, nil)
			want.Att.Fields = append([]goslack.AttachmentField(nil), want.Att.Fields...)
			tt.want(&want)
			if got := postParts(t, tt.action, tt.parts); !reflect.DeepEqual(got, want) {
				t.Errorf("arrived\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestTemplatedResolveUpdatesInPlace: a resolve updating its trigger
// through chat.update carries the resolve's rendered parts.
func TestTemplatedResolveUpdatesInPlace(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	n := apiNotifier(t, s, s.Token(), apitest.SlackChannelID)
	m := sampleMessage()
	m.Parts = map[string]string{"title": "open: db1"}
	ref, err := n.NotifyRef(context.Background(), m)
	if err != nil || ref == "" {
		t.Fatalf("NotifyRef() = %q, %v", ref, err)
	}
	m.Action, m.Ref, m.Parts = channels.Resolve, ref, map[string]string{"title": "closed: db1"}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got, a := lastAttachment(t, s)
	if got.Method != "update" || got.Text != "closed: db1" || a.Color != colorResolved {
		t.Errorf("arrived as %s: %q colour %s", got.Method, got.Text, a.Color)
	}
}

func TestConfigTemplates(t *testing.T) {
	c := Config{Title: "t", Footer: "f", Fields: map[string]string{"Runbook": "r", "Owner": "o"}}
	type tmpl struct {
		Option         string
		Text           string
		Required, JSON bool
	}
	var got []tmpl
	for _, x := range c.Templates() {
		got = append(got, tmpl{x.Option, *x.Text, x.Required, x.JSON})
	}
	want := []tmpl{
		{"title", "t", true, false}, {"text", "", false, false}, {"footer", "f", false, false},
		{"fields.Owner", "o", false, false}, {"fields.Runbook", "r", false, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Templates() =\n%v\nwant\n%v", got, want)
	}
	*c.Templates()[1].Text = "changed"
	if c.Text != "changed" {
		t.Error("Text does not point at the field")
	}
}

func TestConfigValidateFields(t *testing.T) {
	c := Config{WebhookURLFile: "f", Fields: map[string]string{"Owner": "o", "v1.2": "x", "": "y", "owner": "o2"}}
	want := "fields: a title is blank\nfields.owner: the same title as fields.Owner (titles match in any case)\nfields.v1.2: a title must not contain '.'"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}
