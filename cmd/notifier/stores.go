package main

import (
	"context"
	"fmt"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/drop"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
	"notifier/engine/pipeline"
	"notifier/engine/state"
	"notifier/engine/state/stores"
)

// statePath is the embedded store's file for policy p.
func (a *app) statePath(p *engine.Policy) string {
	if p != nil && p.Settings.StatePath != "" {
		return p.Settings.StatePath
	}
	if d := a.env["NOTIFIER_STATE_PATH"]; d != "" {
		return d
	}
	return state.DefaultBoltPath
}

// openStores opens policy p's stores: the state file, and Redis when the
// policy names it.
func (a *app) openStores(p *engine.Policy) (*state.Topology, error) {
	return stores.Open(stores.Config{Path: a.statePath(p), RedisURL: p.Settings.RedisURL, RedisPasswordFile: p.Settings.RedisPasswordFile, Namespace: "notifier"})
}

// newPipeline is the pipeline of policy p for this command: its stores,
// its channels (w's: the command closes them), the wall clock, and
// stderr for what an operator must read.
func (a *app) newPipeline(p *engine.Policy, w *wiring) *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Policy:     p,
		Open:       func() (*state.Topology, error) { return a.openStores(p) },
		Channel:    func(name string) (channels.Channel, error) { return w.channel(p, name) },
		Host:       drop.Hostname(),
		StatePath:  a.statePath(p),
		Occurrence: func(ev *event.Event, _ time.Time) string { return pacemaker.OccurrenceOf(ev) },
		Templates:  w.w.Templates(),
		Note:       func(line string) { fmt.Fprintf(a.stderr, "notifier: %s\n", line) },
	}
}

// withState loads the policy and opens its pipeline for a state command:
// the state must stay usable while the policy is broken (flush the
// backlog, add a silence, read the history), so the last good policy
// stands in, loudly. The stores are opened by fn, through the pipeline.
func (a *app) withState(configFlag string, fn func(ctx context.Context, pl *pipeline.Pipeline) error) error {
	w := newWiring()
	defer w.close()
	path := a.configPath(configFlag)
	p, err := a.loadPolicy(path, w)
	if err != nil {
		if p = a.lastGood(path, err, w); p == nil {
			return err
		}
	}
	a.obs.loaded(path, p, err != nil, err)
	pl := a.newPipeline(p, w)
	ctx, cancel := context.WithDeadline(context.Background(), a.start.Add(p.Settings.Deadline))
	defer cancel()
	return fn(ctx, pl)
}

// withStores is withState for commands that use the stores directly
// (silence, history).
func (a *app) withStores(configFlag string, fn func(ctx context.Context, p *engine.Policy, st *state.Topology) error) error {
	return a.withState(configFlag, func(ctx context.Context, pl *pipeline.Pipeline) error {
		st, err := pl.Open()
		if err != nil {
			return problemErr(err)
		}
		defer st.Close()
		return fn(ctx, pl.Policy, st)
	})
}
