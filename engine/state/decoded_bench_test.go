package state

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"notifier/channels"
)

// BenchmarkDecodedClaim is a flush's outbox work on n entries without
// delivering: through one Decoded, the preview Claim on a copy of the
// records and, when it changed them, the Claim under the lock; then a
// Settle of each claimed entry as delivered. own: entries leased to the
// flush when queued; others: entries another live run holds.
func BenchmarkDecodedClaim(b *testing.B) {
	m := channels.Message{Key: "cmon/cc/1/42", Action: channels.Trigger, Severity: "critical", Summary: "[critical] db1: MySQL down", Rule: "crit",
		Source: "cmon", Kind: "alarm", EventType: "alarm", Cluster: "prod", ClusterID: 7, Node: "db1", Controller: "cc1", Name: "MySqlDown",
		Text: "mysqld is not running", Count: 3, Time: time.Now(), Details: map[string]string{"alarm_id": "42", "host": "db1"}}
	now, until := at(0), at(60)
	for _, owner := range []string{"me", "other"} {
		for _, n := range []int{1, 16, 64} {
			recs := map[string]*Record{}
			for i := range n {
				e := Entry{ID: fmt.Sprintf("o/%020d", i), Key: fmt.Sprintf("k%d", i), Channel: "pager", Action: "trigger",
					Message: MessageOf(m), Created: now, LeaseOwner: owner, LeasedUntil: until}
				r, _ := e.Record()
				recs[e.ID] = r
			}
			b.Run(fmt.Sprintf("%s/%d", owner, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					d := NewDecoded()
					chains, changed, err := d.Claim(maps.Clone(recs), "me", now, until, false, live)
					if err == nil && changed {
						chains, _, err = d.Claim(maps.Clone(recs), "me", now, until, false, live)
					}
					if err != nil {
						b.Fatal(err)
					}
					settled := maps.Clone(recs)
					for _, c := range chains {
						for _, e := range c {
							if _, err := d.Settle(settled, e, Attempt{Status: AttemptDelivered}, now, "me"); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
			})
		}
	}
}
