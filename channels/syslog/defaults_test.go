package syslog

import (
	"context"
	"os"
	"strconv"
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

// TestDefaultsArePinned sends every pinned message through the local
// daemon's socket and over TCP (where the line may take 4096 bytes on
// both) and compares the lines as the collector filed them; over UDP,
// where the room left for the line depends on the host name, the short
// ones.
func TestDefaultsArePinned(t *testing.T) {
	cases := pinnedMessages()
	want := pinnedLines()
	host, _ := os.Hostname()
	for _, scheme := range []string{"unix", "tcp", "udp"} {
		t.Run(scheme, func(t *testing.T) {
			s, c := server(t, scheme)
			n := newNotifier(t, c)
			var sent []int
			for i, pc := range cases {
				if scheme == "udp" && len(want[i]) > 1024 {
					continue
				}
				if err := n.Notify(context.Background(), pc.m); err != nil {
					t.Fatalf("%s: %v", pc.name, err)
				}
				sent = append(sent, i)
			}
			msgs, err := s.Wait(len(sent), wait)
			if err != nil {
				t.Fatal(err)
			}
			byLine := map[string][]apitest.SyslogMessage{}
			var lines []string
			for _, m := range msgs {
				byLine[m.Msg] = append(byLine[m.Msg], m)
				lines = append(lines, m.Msg)
			}
			for _, i := range sent {
				pc := cases[i]
				got, ok := byLine[want[i]]
				if !ok {
					t.Errorf("%s: no line\n%q\narrived; got %q", pc.name, want[i], lines)
					continue
				}
				m := got[0]
				if m.Facility != 19 || m.Severity != severityCode(pc.m.Severity) || m.AppName != "notifier-test" || m.ProcID != strconv.Itoa(os.Getpid()) {
					t.Errorf("%s: facility %d severity %d app %q procid %q", pc.name, m.Facility, m.Severity, m.AppName, m.ProcID)
				}
				if scheme == "unix" {
					continue
				}
				wantRaw := "<" + strconv.Itoa(19<<3|severityCode(pc.m.Severity)) + ">1 " + m.Time.Format("2006-01-02T15:04:05.000000Z07:00") +
					" " + host + " notifier-test " + strconv.Itoa(os.Getpid()) + " " + string(pc.m.Action) + " - " + want[i]
				if m.Raw != wantRaw {
					t.Errorf("%s:\n got %q\nwant %q", pc.name, m.Raw, wantRaw)
				}
			}
		})
	}
}

// pinnedLines are the lines pinnedMessages were sent as before
// templates existed: the Pacemaker ones over the 4096-byte bound, with
// the key in its hashed form and the summary cut.
func pinnedLines() []string {
	pmKey := "key=pacemaker/prod/resource/db2/p_mysql_p_mysql_p_mysql_p_mysql_p_m~d89996515ba4f13c2f05c101cf0a7232c0576a5f91b9d2d34ce4e56f02727968"
	pmSummary := `summary="Resource p_mysql failed to start on db2: `
	return []string{
		`severity=critical action=trigger key=cmon/cc1/7/4242 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=page-db summary="MySQL server disconnected on db1"`,
		`severity=warning action=message key=cmon/cc1/7/77 source=cmon cluster_id=7 node=db2 type=MySqlReplicationLag count=12 suppressed=5 rule=notify-lag summary="Replication lag 120s on db2"`,
		`severity=critical action=resolve key=cmon/cc1/7/4242 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 suppressed=2 rule=page-db summary="MySQL server disconnected on db1"`,
		`severity=critical action=trigger ` + pmKey + ` source=pacemaker cluster=prod node=db2 type=start rule=page-resources ` +
			pmSummary + strings.Repeat("error ", 631) + `error…" truncated=true`,
		`severity=info action=message key=pacemaker/prod/node/db3 source=pacemaker cluster=prod node=db3 summary="node db3 is member"`,
		`severity=critical action=resolve ` + pmKey + ` source=pacemaker cluster=prod node=db2 type=start suppressed=4 rule=page-resources ` +
			pmSummary + strings.Repeat("error ", 629) + `erro…" truncated=true`,
	}
}
