// Package channeltest holds what the channels' tests share: the
// messages whose delivery with no templates set each channel pins byte
// for byte (the built-in texts are the documented defaults, and templates
// must not change them).
package channeltest

import (
	"strings"
	"time"

	"notifier/channels"
)

// Pinned is one message whose delivery with no templates set is pinned
// byte for byte: the defaults are the documented built-in texts, and
// templates must not change them.
type Pinned struct {
	Name string
	M    *channels.Message
}

// Messages are CMON and Pacemaker messages of every action, with
// suppressed counts, raw details, markup, line breaks and texts over
// every limit.
func Messages() []Pinned {
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
	return []Pinned{
		{"cmon trigger", cmonTrigger}, {"cmon message", cmonInform}, {"cmon resolve", &cmonResolve},
		{"pacemaker trigger", pmTrigger}, {"pacemaker message", pmInform}, {"pacemaker resolve", &pmResolve},
	}
}
