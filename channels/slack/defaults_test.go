package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

// pinCase is one message whose delivery with no templates set is pinned
// byte for byte: the defaults are the documented built-in texts, and
// templates must not change them.
type pinCase struct {
	name string
	m    *channels.Message
}

// pinnedMessages are CMON and Pacemaker messages of every action, with
// suppressed counts, raw details, markup, line breaks and texts over
// every limit.
func pinnedMessages() []pinCase {
	t0 := time.Date(2026, 3, 1, 9, 4, 5, 0, time.UTC)
	cmonTrigger := &channels.Message{
		Key: "cmon/cc1/7/4242", Action: channels.Trigger, Severity: channels.SeverityCritical,
		Summary: "MySQL server disconnected on db1", Rule: "page-db",
		Source: "cmon", Kind: "alarm", EventType: "MySqlDisconnected",
		Cluster: "prod-db", ClusterID: 7, Node: "db1", Controller: "cc1", Name: "Server disconnected",
		Text:           "Server db1:3306 reported as disconnected.\nLast error: <none> & retrying",
		Recommendation: "Check the MySQL error log.", Count: 3, Time: t0,
		Details: map[string]string{"alarmId": "4242", "component": "Network", "message": "raw text"},
	}
	cmonInform := &channels.Message{
		Key: "cmon/cc1/7/77", Action: channels.Inform, Severity: channels.SeverityWarning,
		Summary: "Replication lag 120s on db2", Rule: "notify-lag",
		Source: "cmon", Kind: "alarm", EventType: "MySqlReplicationLag", ClusterID: 7, Node: "db2", Controller: "cc1",
		Count: 12, Suppressed: 5, Time: t0.Add(time.Minute),
		Details: map[string]string{"alarmId": "77"},
	}
	cmonResolve := *cmonTrigger
	cmonResolve.Action, cmonResolve.Suppressed = channels.Resolve, 2

	longKey := "pacemaker/prod/resource/db2/" + strings.Repeat("p_mysql_", 40)
	pmTrigger := &channels.Message{
		Key: longKey, Action: channels.Trigger, Severity: channels.SeverityCritical,
		Summary: "Resource p_mysql failed to start on db2: " + strings.Repeat("error ", 800), Rule: "page-resources",
		Source: "pacemaker", Kind: "resource", EventType: "start", Cluster: "prod", Node: "db2", Controller: "db2",
		Name: "p_mysql", Text: strings.Repeat("line of crm output; ", 600), Time: t0.Add(2 * time.Minute),
		Details: map[string]string{"CRM_alert_rc": "1", "CRM_alert_task": "start", "CRM_alert_desc": "error"},
	}
	pmInform := &channels.Message{
		Key: "pacemaker/prod/node/db3", Action: channels.Inform, Severity: channels.SeverityInfo,
		Summary: "node db3 is member", Source: "pacemaker", Kind: "node", Cluster: "prod", Node: "db3", Controller: "db1",
	}
	pmResolve := *pmTrigger
	pmResolve.Action, pmResolve.Suppressed = channels.Resolve, 4
	return []pinCase{
		{"cmon trigger", cmonTrigger}, {"cmon message", cmonInform}, {"cmon resolve", &cmonResolve},
		{"pacemaker trigger", pmTrigger}, {"pacemaker message", pmInform}, {"pacemaker resolve", &pmResolve},
	}
}

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
	cases := pinnedMessages()
	want := pinnedPayloads()
	for i, c := range cases {
		if err := hook.Notify(context.Background(), c.m); err != nil {
			t.Fatalf("webhook %s: %v", c.name, err)
		}
		checkPinned(t, "webhook "+c.name, s, "webhook", want[i])
	}
	refs := map[string]string{}
	for i, c := range cases {
		m := *c.m
		m.Ref = refs[m.Key]
		ref, err := api.NotifyRef(context.Background(), &m)
		if err != nil {
			t.Fatalf("web api %s: %v", c.name, err)
		}
		refs[m.Key] = ref
		method := "postMessage"
		if m.Ref != "" {
			method = "update"
		}
		checkPinned(t, "web api "+c.name, s, method, want[i])
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
