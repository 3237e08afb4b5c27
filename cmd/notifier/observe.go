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
	// decided: a decision or flush used the state; failedOpen: one could
	// not (stateErr says why).
	decided, failedOpen bool
	stateErr            string
}

// observe makes the command's observer (run and flush have one).
func (a *app) observe(spoolDir string) *observer {
	a.obs = &observer{a: a, spoolDir: spoolDir, set: metrics.NewSet()}
	return a.obs
}

// loaded is told the policy the command decides with: the one at path,
// or its last good copy (loadErr says why the files did not load).
func (o *observer) loaded(path string, p *engine.Policy, lastGood bool, loadErr error) {
	if o == nil || p == nil {
		return
	}
	if abs, err := drop.PolicyPath(path); err == nil {
		path = abs // as the engine and every run name it, however it was given
	}
	o.p, o.path, o.lastGood = p, path, lastGood
	if loadErr != nil {
		o.loadErr = channels.OneLine(loadErr.Error())
	}
}

// decision is told each event decided (r) and each flush (ev nil).
func (o *observer) decision(ev *event.Event, r *pipeline.Report) {
	if o == nil || r == nil {
		return
	}
	if ev != nil {
		metrics.ObserveEvent(o.set, ev, r)
	} else {
		metrics.ObserveDeliveries(o.set, r)
	}
	if r.FailedOpen {
		o.failedOpen = true
		if r.StateErr != nil {
			o.stateErr = channels.OneLine(r.StateErr.Error())
		}
	} else {
		o.decided = true
	}
}

// rejected is told an input that could not be used.
func (o *observer) rejected(in *drop.Input) {
	if o == nil {
		return
	}
	src := ""
	if in != nil {
		src = in.Source
	}
	metrics.ObserveRejected(o.set, src)
}

// finish checks the self-alerts and writes the textfile, when the
// policy asks for them.
func (o *observer) finish() {
	if o == nil || o.p == nil {
		return
	}
	s := o.p.Settings
	if s.Metrics.Textfile == "" && s.SelfAlert == nil {
		return
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
	var gauges *metrics.StateGauges
	var stateErr error
	if st, err := a.openStores(o.p); err != nil {
		stateErr = err
	} else {
		g, err := metrics.ReadState(ctx, st, o.p, now.Add(-after))
		st.Close()
		if err != nil {
			stateErr = err
		} else {
			gauges = &g
		}
	}
	var sp *spool.Stats
	if st, err := spool.ReadStats(o.spoolDir); err == nil {
		sp = &st
	}
	if sa := s.SelfAlert; sa != nil {
		w := newWiring()
		watcher := &watch.Watcher{Path: filepath.Join(o.spoolDir, watch.FileName), Notify: sa.Notify, After: sa.After,
			Host: drop.Hostname(), Channel: func(name string) (channels.Channel, error) { return w.channel(o.p, name) },
			Note: func(line string) { note("%s", line) }, Metrics: o.set}
		err := watcher.Check(ctx, watch.Observation{Now: now, Policy: o.path, LastGood: o.lastGood, LastGoodErr: o.loadErr,
			Decided: o.decided, FailedOpen: o.failedOpen, StateErr: o.stateErr, State: gauges, StateReadErr: stateErr, Spool: sp})
		w.close()
		if err != nil {
			note("self-alerts: %v", err)
		}
	}
	if s.Metrics.Textfile == "" {
		return
	}
	metrics.Zero(o.set, slices.Sorted(maps.Keys(o.p.Channels)))
	if gauges != nil {
		gauges.Set(o.set, now)
	}
	if sp != nil {
		metrics.SetSpool(o.set, *sp, now)
	}
	lg := 0.0
	if o.lastGood {
		lg = 1
	}
	o.set.Set(metrics.PolicyLastGood, lg, o.path)
	rev, _ := buildRevision()
	o.set.Reset(metrics.BuildInfo)
	o.set.Set(metrics.BuildInfo, 1, version, rev, runtime.Version())
	if err := metrics.UpdateTextfile(s.Metrics.Textfile, o.set, flock.Within(ctx, metrics.TextfileWait)); err != nil {
		note("%v", err)
	}
}
