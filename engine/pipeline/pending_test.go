package pipeline

import (
	"os"
	"reflect"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/safedir"
)

// oldPending is a pending file as the version before engine/pipeline
// (commit 1cc0e68, cmd/notifier/pending.go) wrote it: the outbox entry,
// its message channels.Message's own JSON encoding (Go field names, no
// "v"). Written by hand: an upgrade finds such files where a run failed
// open before it.
const oldPending = `{"id":"o/00000001764892800000000000-0a1b2c3d","key":"cmon/ctl/7/42","channel":"pager","type":"pagerduty","action":"trigger",` +
	`"rule":"critical","reason":"kept while the state was unusable",` +
	`"message":{"Key":"cmon/ctl/7/42","Action":"trigger","Severity":"critical","Summary":"MySQL disconnected on db1",` +
	`"Rule":"critical","Source":"cmon","Kind":"alarm","EventType":"MySqlDisconnected","Cluster":"prod","ClusterID":7,` +
	`"Node":"db1","Controller":"cmon-ctl","Name":"MySQL server disconnected","Text":"db1:3306 does not answer",` +
	`"Recommendation":"check mysqld on db1","Count":3,"Time":"2026-12-04T23:00:00Z","Details":{"alarm_id":"42","host":"db1"},` +
	`"Suppressed":2,"Ref":"C123/1700000000.000100"},` +
	`"created":"2026-12-04T23:00:01Z"}`

// TestPendingFromPreviousVersion: a delivery the previous version kept
// while the state was unusable is imported after the upgrade and
// delivered with every field of its message.
func TestPendingFromPreviousVersion(t *testing.T) {
	r := newRig(t, testPolicy)
	dir, err := safedir.Open(PendingDir(r.pl.StatePath), true)
	if err != nil {
		t.Fatal(err)
	}
	err = dir.Create("00000001764892800000000000-0a1b2c3d.json", []byte(oldPending), 0o660, true)
	dir.Close()
	if err != nil {
		t.Fatal(err)
	}
	other := alarm("new", "info") // to the log: the pager hears only the kept one
	other.Key = "cmon/ctl/1/43"
	if rep := r.run(t, other); !rep.OK() || rep.FailedOpen {
		t.Fatalf("needs %v, failed open %v, notes %q", rep.NeedsPerson, rep.FailedOpen, r.notes)
	}
	want := channels.Message{Key: "cmon/ctl/7/42", Action: channels.Trigger, Severity: "critical", Summary: "MySQL disconnected on db1",
		Rule: "critical", Source: "cmon", Kind: "alarm", EventType: "MySqlDisconnected", Cluster: "prod", ClusterID: 7,
		Node: "db1", Controller: "cmon-ctl", Name: "MySQL server disconnected", Text: "db1:3306 does not answer",
		Recommendation: "check mysqld on db1", Count: 3, Time: time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC),
		Details: map[string]string{"alarm_id": "42", "host": "db1"}, Suppressed: 2, Ref: "C123/1700000000.000100"}
	got := r.chans["pager"].messages()
	if len(got) != 1 {
		t.Fatalf("pager got %d messages, want the kept one: %+v", len(got), got)
	}
	if !got[0].Time.Equal(want.Time) {
		t.Errorf("time %v, want %v", got[0].Time, want.Time)
	}
	got[0].Time = want.Time
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("delivered\n%+v\nwant\n%+v", got[0], want)
	}
	if kept, _ := os.ReadDir(PendingDir(r.pl.StatePath)); len(kept) != 0 {
		t.Errorf("pending directory still holds %d files", len(kept))
	}
}
