package state

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"notifier/channels"
)

// BenchmarkEntries decodes an outbox of 200 entries, as every flush
// does (Scan, then Claim under the lock).
func BenchmarkEntries(b *testing.B) {
	recs := map[string]*Record{}
	m := channels.Message{Key: "cmon/cc/1/42", Action: channels.Trigger, Severity: "critical", Summary: "[critical] db1: MySQL down", Rule: "crit",
		Source: "cmon", Kind: "alarm", EventType: "alarm", Cluster: "prod", ClusterID: 7, Node: "db1", Controller: "cc1", Name: "MySqlDown",
		Text: "mysqld is not running", Count: 3, Time: time.Now(), Details: map[string]string{"alarm_id": "42", "host": "db1"}}
	for i := range 200 {
		e := Entry{ID: fmt.Sprintf("o/%020d", i), Key: "k", Channel: "pager", Message: MessageOf(m), Created: time.Now()}
		r, _ := e.Record()
		recs[e.ID] = r
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(Entries(recs)) != 200 {
			b.Fatal("lost entries")
		}
	}
}

// BenchmarkEntriesRaw is the same outbox decoded as the version before
// state.Message did: the message kept as raw JSON.
func BenchmarkEntriesRaw(b *testing.B) {
	type rawEntry struct {
		Entry
		Message json.RawMessage `json:"message"`
	}
	recs := map[string]*Record{}
	m := channels.Message{Key: "cmon/cc/1/42", Action: channels.Trigger, Severity: "critical", Summary: "[critical] db1: MySQL down", Rule: "crit",
		Source: "cmon", Kind: "alarm", EventType: "alarm", Cluster: "prod", ClusterID: 7, Node: "db1", Controller: "cc1", Name: "MySqlDown",
		Text: "mysqld is not running", Count: 3, Time: time.Now(), Details: map[string]string{"alarm_id": "42", "host": "db1"}}
	for i := range 200 {
		e := Entry{ID: fmt.Sprintf("o/%020d", i), Key: "k", Channel: "pager", Message: MessageOf(m), Created: time.Now()}
		r, _ := e.Record()
		recs[e.ID] = r
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, r := range recs {
			var e rawEntry
			if json.Unmarshal(r.Data, &e) == nil {
				n++
			}
		}
		if n != 200 {
			b.Fatal("lost entries")
		}
	}
}
