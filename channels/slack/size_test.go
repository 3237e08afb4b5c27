package slack

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"notifier/channels"
	"notifier/internal/apitest"
)

// TestOversizedMessageIsAccepted posts an event with every text field
// far over Slack's limits, through a webhook and the Web API, to the
// local Slack that refuses what real Slack refuses or cuts: it must
// arrive, shortened with a visible mark.
func TestOversizedMessageIsAccepted(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	huge := strings.Repeat("<&>é", 50000)
	m := &channels.Message{
		Key: strings.Repeat("k", 100000), Action: channels.Trigger, Severity: "critical", Summary: huge,
		Rule: huge, Source: "cmon", Cluster: huge, ClusterID: 7, Node: huge, EventType: huge,
		Text: huge, Recommendation: huge, Count: 3, Suppressed: 2,
	}
	for name, n := range map[string]*Notifier{
		"webhook": webhookNotifier(t, s),
		"web API": apiNotifier(t, s, s.Token(), apitest.SlackChannelID),
	} {
		if err := n.Notify(context.Background(), m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, att := lastAttachment(t, s)
		if utf8.RuneCountInString(got.Text) > maxTextLen || !strings.HasSuffix(got.Text, "…") {
			t.Errorf("%s: text of %d bytes, want ≤ %d ending in …", name, len(got.Text), maxTextLen)
		}
		if !strings.HasSuffix(att.Text, "…") || !strings.HasSuffix(att.Footer, "…") {
			t.Errorf("%s: attachment text and footer must show they were cut", name)
		}
	}
}
