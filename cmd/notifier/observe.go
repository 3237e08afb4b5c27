package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/drop"
	"notifier/engine/event"
	"notifier/engine/metrics"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
	"notifier/engine/spool"
	"notifier/engine/state"
	"notifier/engine/watch"
	"notifier/internal/flock"
)

// observeBound bounds what a run or flush spends on its metrics and
// self-alerts after its own work (reading the state's outbox, telling a
// self-alert): within the caller's timeout, whatever is left of the
// policy's deadline.
const observeBound = 5 * time.Second

// observer is what a run or a flush tells about itself
// (settings.metrics.textfile, settings.self_alert): the events it
// decided, its deliveries, the policy it used. Both are off by default;
// then it reads and writes nothing. Its failures are said on stderr and
// never change the exit status: the event matters more.
type observer struct {
	a        *app
	spoolDir string
	set      *metrics.Set
	p        *engine.Policy
	path     string
	lastGood bool
	loadErr  string
	// seen is what the decisions and the flush showed of the state.
	seen watch.Seen
	// failing are the channels the decisions gave a delivery up on.
	failing map[string]state.Failure
}

// observe makes the command's observer (run and flush have one).
func (a *app) observe(spoolDir string) *observer {
	a.obs = &observer{a: a, spoolDir: spoolDir}
	return a.obs
}

// loaded is told the policy the command decides with: the one at path,
// or its last good copy (loadErr says why the files did not load).
func (o *observer) loaded(path string, p *engine.Policy, lastGood bool, loadErr error) {
	if o == nil || p == nil {
		return
	}
	o.p, o.path, o.lastGood = p, path, lastGood
	if o.set == nil && !o.off() {
		o.set = metrics.NewSet() // made only for a policy that has metrics
	}
	if loadErr != nil {
		o.loadErr = channels.OneLine(loadErr.Error())
	}
}

// decision is told each event decided (r) and each flush (ev nil).
func (o *observer) decision(ev *event.Event, r *pipeline.Report) {
	if o.off() || r == nil {
		return
	}
	metrics.ObserveEvent(o.set, ev, r)
	o.seen.Add(r)
	for _, d := range r.Deliveries {
		if d.Outcome != state.OutcomeFailed {
			continue
		}
		if o.failing == nil {
			o.failing = map[string]state.Failure{}
		}
		f := o.failing[d.Channel]
		f.Channel, f.Key, f.Action, f.Count = d.Channel, d.Key, d.Action, f.Count+1
		if d.Err != nil {
			f.Error = channels.OneLine(d.Err.Error())
		}
		o.failing[d.Channel] = f
	}
}

// off says there is nothing to observe for: no policy, or one with
// neither a textfile nor self-alerts (what every run of a policy
// without them pays is this test).
func (o *observer) off() bool {
	return o == nil || o.p == nil || o.p.Settings.Metrics.Textfile == "" && o.p.Settings.SelfAlert == nil
}

// rejected is told an input that could not be used.
func (o *observer) rejected(in *drop.Input) {
	if o.off() {
		return
	}
	src := ""
	if in != nil {
		src = in.Source
	}
	metrics.ObserveRejected(o.set, src)
}

// finish checks the self-alerts and adds to the textfile, when the
// policy asks for them. full (notifier flush) reads the state's and the
// spool's gauges and rewrites the textfile every time; a run reads them
// only when they are due (watch.Watcher.FullDue, metrics.RewriteEvery),
// and otherwise judges by what its own decision saw: what every event
// would pay is a lock, a stat and an appended line.
func (o *observer) finish(full bool) {
	if o.off() {
		return
	}
	s := o.p.Settings
	if abs, err := drop.PolicyPath(o.path); err == nil {
		o.path = abs // as the engine and every run name it, however it was given
	}
	a := o.a
	now := time.Now()
	deadline := a.start.Add(s.Deadline)
	if bound := now.Add(observeBound); deadline.After(bound) {
		deadline = bound
	}
	if floor := now.Add(time.Second); deadline.Before(floor) {
		deadline = floor // the run used its deadline up: a second still
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	note := func(format string, args ...any) { fmt.Fprintf(a.stderr, "notifier: "+format+"\n", args...) }

	after := policy.DefaultSelfAlertAfter
	if s.SelfAlert != nil {
		after = s.SelfAlert.After
	}
	// The state's and the spool's gauges, read once, when asked for.
	var gauges *metrics.StateGauges
	var sp *spool.Stats
	read := false
	readAll := func() {
		if read {
			return
		}
		read = true
		// Unreadable: no gauges (the textfile keeps the last read; the
		// self-alerts judge by what the decisions saw).
		if st, err := a.openStores(o.p); err == nil {
			g, err := metrics.ReadState(ctx, st, o.p, now.Add(-after))
			st.Close()
			if err == nil {
				gauges = &g
			}
		}
		if st, err := spool.ReadStats(o.spoolDir); err == nil {
			sp = &st
		}
	}
	if sa := s.SelfAlert; sa != nil {
		w := newWiring()
		watcher := &watch.Watcher{Path: filepath.Join(o.spoolDir, watch.FileName), Notify: sa.Notify, After: sa.After,
			Host: drop.Hostname(), Channel: func(name string) (channels.Channel, error) { return w.channel(o.p, name) },
			Note: func(line string) { note("%s", line) }, Metrics: o.set}
		obs := watch.Observation{Now: now, Policy: o.path, LastGood: o.lastGood, LastGoodErr: o.loadErr,
			Seen: o.seen}
		check := true
		if full || watcher.FullDue(o.path, now) {
			readAll()
			obs.State, obs.Spool = gauges, sp
			if gauges == nil {
				// The state could not be read: what this run gave up
				// is still known.
				obs.State = &metrics.StateGauges{Failing: o.failing, Partial: true}
			}
		} else {
			// What this run's decisions gave up: a partial view, which
			// raises a dead letter at once and clears nothing (marks
			// read before delivering may be older than another run's).
			obs.State = &metrics.StateGauges{Failing: o.failing, Partial: true}
			check = o.lastGood || o.seen.FailedOpen || len(o.failing) > 0 || !watcher.Quiet()
		}
		if check {
			err := watcher.Check(ctx, obs)
			if err != nil {
				note("self-alerts: %v", err)
			} else if read {
				watcher.Checked(o.path)
			}
		}
		w.close()
	}
	if s.Metrics.Textfile == "" {
		return
	}
	lg := 0.0
	if o.lastGood {
		lg = 1
	}
	o.set.Set(metrics.PolicyLastGood, lg, o.path)
	// The gauges only when the textfile is rewritten, and read before
	// its lock is taken: the other runs' appends wait for nothing slow.
	rewrite := full || metrics.TextfileDue(s.Metrics.Textfile, now)
	if rewrite {
		readAll()
		set := o.set
		metrics.Zero(set, slices.Sorted(maps.Keys(o.p.Channels)))
		if gauges != nil {
			gauges.Set(set, now)
		}
		if sp != nil {
			metrics.SetSpool(set, *sp, now)
		}
		metrics.SetRejected(set, drop.RejectedDir(a.statePath(o.p)))
		rev, _ := buildRevision()
		set.Reset(metrics.BuildInfo)
		set.Set(metrics.BuildInfo, 1, version, rev, runtime.Version())
	}
	if err := metrics.UpdateTextfile(s.Metrics.Textfile, o.set, flock.Within(ctx, metrics.TextfileWait), rewrite); err != nil {
		note("%v", err)
	}
}
