package pagerduty

import (
	"context"
	"strings"
	"testing"

	"notifier/channels/channeltest"
	"notifier/internal/apitest"
)

// TestDefaultsArePinned sends every pinned message to the local Events
// API and compares the request bodies as they arrived.
func TestDefaultsArePinned(t *testing.T) {
	srv := apitest.NewPagerDuty()
	defer srv.Close()
	n := notifier(t, srv.URL(), Config{})
	cases := channeltest.Messages()
	for _, c := range cases {
		if err := n.Notify(context.Background(), c.M); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
	evs := srv.Events()
	if len(evs) != len(cases) {
		t.Fatalf("%d requests, want %d", len(evs), len(cases))
	}
	want := pinnedEvents()
	for i, c := range cases {
		if got := string(evs[i].Raw); got != want[i] {
			t.Errorf("%s:\n got %q\nwant %q", c.Name, got, want[i])
		}
	}
}

// pinnedEvents are the request bodies of pinnedMessages, as sent before
// templates existed.
func pinnedEvents() []string {
	const head = `{"routing_key":"0123456789abcdef0123456789abcdef",`
	longKey := `pacemaker/prod/resource/db2/` + strings.Repeat("p_mysql_", 40)
	dedup := `pacemaker/prod/resource/db2/` + strings.Repeat("p_mysql_", 20) + `p_~d89996515ba4f13c2f05c101cf0a7232c0576a5f91b9d2d34ce4e56f02727968`
	return []string{
		head + `"event_action":"trigger","dedup_key":"cmon/cc1/7/4242","client":"notifier","payload":{` +
			`"summary":"MySQL server disconnected on db1","source":"db1","severity":"critical","timestamp":"2026-03-01T09:04:05Z",` +
			`"component":"alarm","group":"prod-db","class":"MySqlDisconnected","custom_details":{"alarmId":"4242","cluster":"prod-db",` +
			`"cluster_id":7,"component":"Network","controller":"cc1","count":3,"event_type":"MySqlDisconnected","key":"cmon/cc1/7/4242",` +
			`"kind":"alarm","message":"Server db1:3306 reported as disconnected.\nLast error: \u003cnone\u003e \u0026 retrying",` +
			`"name":"Server disconnected","node":"db1","recommendation":"Check the MySQL error log.","rule":"page-db","source":"cmon"}}}`,

		head + `"event_action":"trigger","dedup_key":"cmon/cc1/7/77","client":"notifier","payload":{` +
			`"summary":"Replication lag 120s on db2","source":"db2","severity":"warning","timestamp":"2026-03-01T09:05:05Z",` +
			`"component":"alarm","group":"cluster-7","class":"MySqlReplicationLag","custom_details":{"alarmId":"77","cluster_id":7,` +
			`"controller":"cc1","count":12,"event_type":"MySqlReplicationLag","key":"cmon/cc1/7/77","kind":"alarm","node":"db2",` +
			`"rule":"notify-lag","source":"cmon","suppressed_since_last":5}}}`,

		head + `"event_action":"resolve","dedup_key":"cmon/cc1/7/4242"}`,

		head + `"event_action":"trigger","dedup_key":"` + dedup + `","client":"notifier","payload":{` +
			`"summary":"Resource p_mysql failed to start on db2: ` + strings.Repeat("error ", 163) + `er…",` +
			`"source":"db2","severity":"critical","timestamp":"2026-03-01T09:06:05Z","component":"resource","group":"prod","class":"start",` +
			`"custom_details":{"CRM_alert_desc":"error","CRM_alert_rc":"1","CRM_alert_task":"start","cluster":"prod","controller":"db2",` +
			`"event_type":"start","key":"` + longKey + `","kind":"resource",` +
			`"message":"` + strings.Repeat("line of crm output; ", 204) + `line of crm o…",` +
			`"name":"p_mysql","node":"db2","rule":"page-resources","source":"pacemaker"}}}`,

		head + `"event_action":"trigger","dedup_key":"pacemaker/prod/node/db3","client":"notifier","payload":{` +
			`"summary":"node db3 is member","source":"db3","severity":"info","component":"node","group":"prod",` +
			`"custom_details":{"cluster":"prod","controller":"db1","key":"pacemaker/prod/node/db3","kind":"node","node":"db3","source":"pacemaker"}}}`,

		head + `"event_action":"resolve","dedup_key":"` + dedup + `"}`,
	}
}
