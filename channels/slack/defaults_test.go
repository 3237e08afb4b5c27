package slack

import (
	"context"
	"strings"
	"testing"

	"notifier/channels/channeltest"
	"notifier/internal/apitest"
)

// pinnedSlack is what one pinned message looked like on the wire before
// templates existed: the top-level text and the attachments array as
// sent.
type pinnedSlack struct{ text, attachments string }

// TestDefaultsArePinned posts every pinned message through a webhook and
// through the Web API (a resolve updating its trigger in place) and
// compares what arrived.
func TestDefaultsArePinned(t *testing.T) {
	s := apitest.NewSlack()
	defer s.Close()
	hook, api := webhookNotifier(t, s), apiNotifier(t, s, s.Token(), apitest.SlackChannelID)
	cases := channeltest.Messages()
	want := pinnedPayloads()
	for i, c := range cases {
		if err := hook.Notify(context.Background(), c.M); err != nil {
			t.Fatalf("webhook %s: %v", c.Name, err)
		}
		checkPinned(t, "webhook "+c.Name, s, "webhook", want[i])
	}
	refs := map[string]string{}
	for i, c := range cases {
		m := *c.M
		m.Ref = refs[m.Key]
		ref, err := api.NotifyRef(context.Background(), &m)
		if err != nil {
			t.Fatalf("web api %s: %v", c.Name, err)
		}
		refs[m.Key] = ref
		method := "postMessage"
		if m.Ref != "" {
			method = "update"
		}
		checkPinned(t, "web api "+c.Name, s, method, want[i])
	}
}

func checkPinned(t *testing.T, name string, s *apitest.Slack, method string, want pinnedSlack) {
	t.Helper()
	msgs := s.Messages()
	got := msgs[len(msgs)-1]
	if got.Method != method {
		t.Errorf("%s: arrived as %s, want %s", name, got.Method, method)
	}
	if got.Text != want.text || string(got.Attachments) != want.attachments {
		t.Errorf("%s:\n got %q\n     %q\nwant %q\n     %q", name, got.Text, got.Attachments, want.text, want.attachments)
	}
}

// pinnedPayloads are what pinnedMessages looked like on the wire
// before templates existed; a webhook and the Web API get the same.
func pinnedPayloads() []pinnedSlack {
	cmonFields := `{"title":"Cluster","value":"prod-db (id 7)","short":true},{"title":"Node","value":"db1","short":true},` +
		`{"title":"Type","value":"MySqlDisconnected","short":true},{"title":"Count","value":"3","short":true},`
	cmonText := `"text":"Server db1:3306 reported as disconnected.\nLast error: \u0026lt;none\u0026gt; \u0026amp; retrying",`
	pmSummary := "Resource p_mysql failed to start on db2: " + strings.Repeat("error ", 159)
	pmText := `"text":"` + strings.Repeat("line of crm output; ", 399) + `line of crm outpu…",`
	pmFields := `{"title":"Cluster","value":"prod","short":true},{"title":"Node","value":"db2","short":true},{"title":"Type","value":"start","short":true}`
	pmFooter := `"footer":"key pacemaker/prod/resource/db2/p_mysql_p_mysql_p_mysql_p_mysql_p_m~d89996515ba4f13c2f05c101cf0a7232c0576a5f91b9d2d34ce4e56f02727968 · rule page-resources · pacemaker","ts":1772355965}]`
	return []pinnedSlack{
		{"[CRITICAL] MySQL server disconnected on db1",
			`[{"color":"#d00000","fallback":"[CRITICAL] MySQL server disconnected on db1 (cluster prod-db (id 7), node db1)",` + cmonText +
				`"fields":[` + cmonFields + `{"title":"Recommendation","value":"Check the MySQL error log.","short":false}],` +
				`"blocks":null,"footer":"key cmon/cc1/7/4242 · rule page-db · cmon","ts":1772355845}]`},
		{"[WARNING] Replication lag 120s on db2",
			`[{"color":"#daa038","fallback":"[WARNING] Replication lag 120s on db2 (cluster id 7, node db2)",` +
				`"fields":[{"title":"Cluster","value":"id 7","short":true},{"title":"Node","value":"db2","short":true},` +
				`{"title":"Type","value":"MySqlReplicationLag","short":true},{"title":"Count","value":"12","short":true},` +
				`{"title":"Suppressed since the last message","value":"5","short":true}],` +
				`"blocks":null,"footer":"key cmon/cc1/7/77 · rule notify-lag · cmon","ts":1772355905}]`},
		{"Resolved: [CRITICAL] MySQL server disconnected on db1",
			`[{"color":"#2eb886","fallback":"Resolved: [CRITICAL] MySQL server disconnected on db1 (cluster prod-db (id 7), node db1)",` + cmonText +
				`"fields":[` + cmonFields + `{"title":"Suppressed since the last message","value":"2","short":true},` +
				`{"title":"Recommendation","value":"Check the MySQL error log.","short":false}],` +
				`"blocks":null,"footer":"key cmon/cc1/7/4242 · rule page-db · cmon","ts":1772355845}]`},
		{"[CRITICAL] " + pmSummary + "error error err…",
			`[{"color":"#d00000","fallback":"[CRITICAL] ` + pmSummary + `error error err…",` + pmText +
				`"fields":[` + pmFields + `],"blocks":null,` + pmFooter},
		{"[INFO] node db3 is member",
			`[{"color":"#439FE0","fallback":"[INFO] node db3 is member (cluster prod, node db3)",` +
				`"fields":[{"title":"Cluster","value":"prod","short":true},{"title":"Node","value":"db3","short":true},{"title":"Type","value":"node","short":true}],` +
				`"blocks":null,"footer":"key pacemaker/prod/node/db3 · pacemaker"}]`},
		{"Resolved: [CRITICAL] " + pmSummary + "error…",
			`[{"color":"#2eb886","fallback":"Resolved: [CRITICAL] ` + pmSummary + `error…",` + pmText +
				`"fields":[` + pmFields + `,{"title":"Suppressed since the last message","value":"4","short":true}],"blocks":null,` + pmFooter},
	}
}
