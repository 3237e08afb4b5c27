package syslog

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"notifier/channels/channeltest"
	"notifier/internal/apitest"
)

// TestDefaultsArePinned sends every pinned message through the local
// daemon's socket and over TCP (where the line may take 4096 bytes on
// both) and compares the lines as the collector filed them; over UDP,
// where the room left for the line depends on the host name, the short
// ones.
func TestDefaultsArePinned(t *testing.T) {
	cases := channeltest.Messages()
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
				if err := n.Notify(context.Background(), pc.M); err != nil {
					t.Fatalf("%s: %v", pc.Name, err)
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
					t.Errorf("%s: no line\n%q\narrived; got %q", pc.Name, want[i], lines)
					continue
				}
				m := got[0]
				if m.Facility != 19 || m.Severity != severityCode(pc.M.Severity) || m.AppName != "notifier-test" || m.ProcID != strconv.Itoa(os.Getpid()) {
					t.Errorf("%s: facility %d severity %d app %q procid %q", pc.Name, m.Facility, m.Severity, m.AppName, m.ProcID)
				}
				if scheme == "unix" {
					continue
				}
				wantRaw := "<" + strconv.Itoa(19<<3|severityCode(pc.M.Severity)) + ">1 " + m.Time.Format("2006-01-02T15:04:05.000000Z07:00") +
					" " + host + " notifier-test " + strconv.Itoa(os.Getpid()) + " " + string(pc.M.Action) + " - " + want[i]
				if m.Raw != wantRaw {
					t.Errorf("%s:\n got %q\nwant %q", pc.Name, m.Raw, wantRaw)
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
