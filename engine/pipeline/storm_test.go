package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"notifier/channels"
	"notifier/engine/event"
)

// stormPolicy groups criticals by cluster.
const stormPolicy = `
channels:
  pager: {type: pagerduty}
  log: {type: syslog}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager]
    group: {by: 'string(cluster_id)', wait: 30s, interval: 5m}
  - name: rest
    when: 'true'
    notify: [log]
`

// stormEvent is alarm i of a storm over clusters clusters.
func stormEvent(i, clusters int, action string) *event.Event {
	return &event.Event{Source: "cmon", Kind: "alarm", Action: action, Severity: "critical", EventType: "MySqlDisconnected",
		Key: fmt.Sprintf("cmon/ctl/%d/%d", i%clusters, i), ID: fmt.Sprint(i), Cluster: "prod", ClusterID: i % clusters,
		Node: fmt.Sprintf("db%d", i%30), Count: 1}
}

// A storm of 1000 alarms of 10 clusters over 10 s, decided as the engine
// decides (it keeps the timers): nothing during the storm; once the
// groups' wait has passed, one page per cluster listing its 100 alarms;
// nothing more until something changes; the clears of all but one alarm
// per cluster are one update per cluster (the last page was more than an
// interval ago); the last clears resolve the 10 pages.
func TestStormOfOneThousandIsTenPages(t *testing.T) {
	r := newRig(t, stormPolicy)
	r.pl.Engine, r.pl.KeyFlush = true, true
	start := r.clock
	const n, clusters = 1000, 10
	for i := range n {
		r.clock = start.Add(time.Duration(i) * 10 * time.Millisecond)
		rep := r.run(t, stormEvent(i, clusters, event.ActionNew))
		if len(rep.Plan.Send) != 0 {
			t.Fatalf("alarm %d sent %v during the group's wait", i, rep.Plan.Send)
		}
	}
	flush := func(at time.Duration) []channels.Message {
		t.Helper()
		before := len(r.chans["pager"].messages())
		r.clock = start.Add(at)
		if _, err := r.pl.Flush(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		return r.chans["pager"].messages()[before:]
	}
	first := flush(31 * time.Second)
	if len(first) != clusters {
		t.Fatalf("%d first notifications, want %d", len(first), clusters)
	}
	for _, m := range first {
		if m.Action != channels.Trigger || len(m.Members) != n/clusters {
			t.Errorf("%s %s: %d members, want a trigger of %d", m.Action, m.Key, len(m.Members), n/clusters)
		}
	}
	if again := flush(6 * time.Minute); len(again) != 0 {
		t.Errorf("%d notifications with nothing new", len(again))
	}
	for i := range n - clusters { // all but the last alarm of each cluster clear
		r.clock = start.Add(7*time.Minute + time.Duration(i)*time.Millisecond)
		r.run(t, stormEvent(i, clusters, event.ActionRemove))
	}
	// The last page was more than an interval ago: the update is due.
	updates := flush(8 * time.Minute)
	if len(updates) != clusters {
		t.Errorf("%d updates, want one per cluster", len(updates))
	}
	for i := n - clusters; i < n; i++ {
		r.clock = start.Add(14 * time.Minute)
		r.run(t, stormEvent(i, clusters, event.ActionRemove))
	}
	var resolves int
	for _, m := range r.chans["pager"].messages() {
		if m.Action == channels.Resolve {
			resolves++
		}
	}
	if total := len(r.chans["pager"].messages()); resolves != clusters || total != 3*clusters {
		t.Errorf("%d resolves, %d messages in all; want %d and %d", resolves, total, clusters, 3*clusters)
	}
}

// A run without an engine tells at most maxRunReleases of what is due
// besides its own event: the rest stays due, for the next run.
func TestRunReleasesABoundedShare(t *testing.T) {
	r := newRig(t, stormPolicy)
	r.pl.Engine = true // the groups wait; then runs find them due
	start := r.clock
	const clusters = maxRunReleases + 4
	for i := range clusters {
		r.run(t, stormEvent(i, clusters, event.ActionNew))
	}
	pages := func() int { return len(r.chans["pager"].messages()) }
	info := &event.Event{Source: "cmon", Kind: "alarm", Action: event.ActionNew, Severity: "info", Key: "cmon/ctl/9/9", ID: "9"}
	r.clock = start.Add(31 * time.Second)
	r.run(t, info)
	if got := pages(); got != maxRunReleases {
		t.Fatalf("the first run after the wait sent %d groups, want %d", got, maxRunReleases)
	}
	r.clock = start.Add(32 * time.Second)
	r.run(t, info)
	if got := pages(); got != clusters {
		t.Fatalf("the next run left %d of %d groups unsent", clusters-got, clusters)
	}
}
