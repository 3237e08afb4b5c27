package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"notifier/channels"
	"notifier/engine/state"
	"notifier/engine/state/mem"
)

// BenchmarkFlushRound is one flush of n queued entries over the
// in-memory store (a fresh one each round, filled outside the timer):
//   - own: the run's own entries, leased to it when queued (a decision's
//     flush), claimed without the lock, delivered and settled;
//   - takeover: entries whose lease ran out, claimed under the lock,
//     delivered and settled;
//   - others: entries another live run holds (overlapping runs), looked
//     at and left.
func BenchmarkFlushRound(b *testing.B) {
	const me, other = "bench/1/me", "bench/2/other" // another host: alive
	m := channels.Message{Key: "cmon/cc/1/42", Action: channels.Trigger, Severity: "critical", Summary: "[critical] db1: MySQL down", Rule: "crit",
		Source: "cmon", Kind: "alarm", EventType: "alarm", Cluster: "prod", ClusterID: 7, Node: "db1", Controller: "cc1", Name: "MySqlDown",
		Text: "mysqld is not running", Count: 3, Time: time.Now(), Details: map[string]string{"alarm_id": "42", "host": "db1"}}
	for _, c := range []struct {
		name  string
		lease func(e *state.Entry, now, deadline time.Time)
		want  int // delivered
	}{
		{"own", func(e *state.Entry, _, deadline time.Time) { e.LeaseOwner, e.LeasedUntil = me, deadline }, 1},
		{"takeover", func(e *state.Entry, now, _ time.Time) { e.LeaseOwner, e.LeasedUntil = other, now.Add(-time.Second) }, 1},
		{"others", func(e *state.Entry, now, _ time.Time) { e.LeaseOwner, e.LeasedUntil = other, now.Add(time.Minute) }, 0},
	} {
		for _, n := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				r := newRig(b, testPolicy)
				r.pl.Owner = me
				now := r.clock
				ctx, cancel := context.WithDeadline(context.Background(), now.Add(time.Hour))
				defer cancel()
				deadline, _ := ctx.Deadline()
				fill := func() *state.Topology {
					r.store = mem.New(func() time.Time { return r.clock })
					r.chans["pager"] = &recorder{}
					err := r.store.Update(ctx, nil, func(recs map[string]*state.Record) error {
						for i := range n {
							e := state.Entry{ID: fmt.Sprintf("%s%020d-%04d", state.OutboxPrefix, now.UnixNano(), i), Key: fmt.Sprintf("k%d", i),
								Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "crit", Message: state.MessageOf(m), Created: now}
							c.lease(&e, now, deadline)
							rec, err := e.Record()
							if err != nil {
								return err
							}
							recs[e.ID] = rec
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					return state.NewTopology(r.store, nil)
				}
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					st := fill()
					b.StartTimer()
					d, _, _, _, err := r.pl.flushRound(ctx, &Report{}, st, me, false, map[string]bool{}, "")
					if err != nil || d != c.want*n {
						b.Fatalf("delivered %d, err %v; want %d", d, err, c.want*n)
					}
				}
			})
		}
	}
}
