package serve

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"notifier/engine/event"
	"notifier/engine/spool"
)

// BenchmarkWokenEntry: one event as a drop hands it to a running engine
// (Put: write, fsync, rename, fsync; Wake; the engine's claim) and the
// engine's decision (bolt state with group commit, a recording
// channel), one at a time. Distinct keys: every decision is a page.
func BenchmarkWokenEntry(b *testing.B) {
	r := newBenchRig(b)
	b.ResetTimer()
	for i := range b.N {
		id := r.put(fmt.Sprintf("cmon/ctl/1/%d", i), "critical")
		if got := r.wake(id); got != spool.WakeClaimed {
			b.Fatalf("wake: %v", got)
		}
		<-r.done
	}
}

// BenchmarkWokenEntryParallel is BenchmarkWokenEntry with drops handing
// events over concurrently (GOMAXPROCS × -cpu drops; 16 workers).
func BenchmarkWokenEntryParallel(b *testing.B) {
	r := newBenchRig(b)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := r.put(fmt.Sprintf("cmon/ctl/1/%d", n.Add(1)), "critical")
			if got := r.wake(id); got != spool.WakeClaimed {
				b.Errorf("wake: %v", got)
				return
			}
		}
	})
	for range n.Load() {
		<-r.done
	}
}

func newBenchRig(b *testing.B) *rig {
	r := newRig(b, func(c *Config) { c.Workers = 16 })
	r.done = make(chan string, 1<<20)
	r.start()
	return r
}

// BenchmarkEngineBacklog: the engine alone, without the drops' cost: b.N
// events spooled beforehand (distinct keys: every decision is a page),
// then handed over by 16 waking drops at once; it ends when the engine
// has decided them all. ns/op is the engine's time per decision under a
// storm.
func BenchmarkEngineBacklog(b *testing.B) {
	r := newBenchRig(b)
	ids := make(chan string, b.N)
	for i := range b.N {
		ids <- r.put(fmt.Sprintf("cmon/ctl/1/%d", i), "critical")
	}
	close(ids)
	b.ResetTimer()
	r.handOver(b, ids)
}

// handOver hands the spooled entries ids to the engine by 16 waking
// drops at once, and returns when it has decided them all.
func (r *rig) handOver(b *testing.B, ids chan string) {
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for id := range ids {
				if got := r.wake(id); got != spool.WakeClaimed {
					b.Errorf("wake: %v", got)
				}
			}
		})
	}
	for range b.N {
		<-r.done
	}
	wg.Wait()
}

// stormPolicy is BenchmarkEngineStorm's policy; %s is the critical
// rule's grouping, or nothing.
const stormPolicy = `
channels:
  pager: {type: pagerduty}
  log: {type: syslog}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
%s  - name: the-rest
    when: 'true'
    notify: [log]
`

// BenchmarkEngineStorm: a storm of critical alarms of 10 clusters
// (distinct keys), spooled beforehand and handed over by 16 waking drops
// at once, decided by the engine; ns/op is its time per decision.
// ungrouped: every decision pages. grouped: the rule groups by cluster
// (wait 30 s: the storm's decisions join their cluster's group; the 10
// digests go out after it, and are not timed). The bound: grouped
// within 1.2x of ungrouped.
func BenchmarkEngineStorm(b *testing.B) {
	for _, c := range []struct{ name, group string }{
		{"ungrouped", ""},
		{"grouped", "    group: {by: 'string(cluster_id)', wait: 30s, interval: 5m}\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := newRig(b, func(cfg *Config) { cfg.Workers = 16 })
			r.done = make(chan string, 1<<20)
			if err := os.WriteFile(r.policy, []byte(fmt.Sprintf(stormPolicy, c.group)), 0o644); err != nil {
				b.Fatal(err)
			}
			r.start()
			ids := make(chan string, b.N)
			for i := range b.N {
				ids <- r.putEvent(event.Event{Source: "cmon", Kind: "alarm", Action: event.ActionNew, Severity: "critical",
					EventType: "MySqlDisconnected", Key: fmt.Sprintf("cmon/ctl/%d/%d", i%10, i), ID: fmt.Sprint(i),
					Cluster: "prod", ClusterID: i % 10, Node: fmt.Sprintf("db%d", i%30), Count: 1})
			}
			close(ids)
			b.ResetTimer()
			r.handOver(b, ids)
		})
	}
}
