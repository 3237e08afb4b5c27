package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"notifier/channels/syslog"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/lastgood"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
)

// runCmd handles one event: decode, decide, deliver to every chosen
// channel concurrently within the policy's deadline. Nothing goes to
// stdout; each failed channel gets one stderr line.
func (a *app) runCmd(args []string) error {
	fs := a.newFlags("run")
	configFlag := fs.String("config", "", configUsage)
	source := fs.String("source", sourceAuto, "event source: auto, cmon, pacemaker or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w := newWiring()
	defer w.close()
	path := a.configPath(*configFlag)
	p, loadErr := a.loadPolicy(path, w)
	lastGood := false
	if loadErr != nil {
		// Loudly: every run says it, until someone fixes the policy.
		if lg := a.lastGood(path, loadErr, w); lg != nil {
			p, loadErr, lastGood = lg, nil, true
		}
	}
	deadline := policy.DefaultDeadline
	var cluster event.ClusterDefaults
	if p != nil {
		deadline, cluster = p.Settings.Deadline, p.Settings.Cluster
	}
	ctx, cancel := context.WithDeadline(context.Background(), a.start.Add(deadline))
	defer cancel()

	in, err := a.readInput(ctx, *source, "")
	if err != nil {
		if in != nil {
			err = a.rejected(p, in, err)
		}
		return errors.Join(loadErr, err)
	}
	ev, err := in.decode(a.start, cluster)
	if errors.Is(err, errIgnored) {
		fmt.Fprintf(a.stderr, "notifier: %v\n", err)
		return loadErr
	}
	if err != nil {
		return errors.Join(loadErr, a.rejected(p, in, err))
	}
	if loadErr != nil {
		return a.fallback(ctx, ev, loadErr)
	}
	pl := a.newPipeline(p, w)
	err = reportExit(pl.Run(ctx, ev))
	if err == nil && lastGood {
		return problemsFound() // delivered, but the policy on disk is broken
	}
	return err
}

// rejected keeps input that could not be used — nothing an alarm source
// sent is dropped silently — and says where in the error.
func (a *app) rejected(p *engine.Policy, in *input, err error) error {
	ext, data := "input", in.data
	if in.source == sourcePacemaker {
		ext, data = "env", nil
		for _, k := range slices.Sorted(maps.Keys(in.env)) {
			// Only what Pacemaker and the alert gave: the rest of the
			// environment is not ours to write to disk.
			if strings.HasPrefix(k, "CRM_") || strings.HasPrefix(k, "NOTIFIER_") {
				data = fmt.Appendf(data, "%s=%s\n", k, in.env[k])
			}
		}
	}
	if path, kerr := pipeline.KeepRejected(pipeline.RejectedDir(a.statePath(p)), ext, data); kerr == nil {
		return fmt.Errorf("%w (input kept in %s)", err, path)
	} else {
		return fmt.Errorf("%w (and it could not be kept: %v)", err, kerr)
	}
}

// loadPolicy loads and checks the policy as a run needs it (lint's
// checks are lint's), keeping it as the last good one when it loads;
// its errors are all printed.
func (a *app) loadPolicy(path string, w *wiring) (*engine.Policy, error) {
	p, ps, err := lastgood.Load(path, a.cacheDir(), w.loadOptions())
	return policyOrError(path, p, ps, err)
}

// lastGood is the last policy from path that loaded, when path does not
// (loadErr), said on stderr; or nil.
func (a *app) lastGood(path string, loadErr error, w *wiring) *engine.Policy {
	lg, notes := lastgood.Fallback(path, a.cacheDir(), loadErr, w.loadOptions())
	for _, n := range notes {
		fmt.Fprintf(a.stderr, "notifier: %s\n", n)
	}
	return lg
}

func policyOrError(path string, p *engine.Policy, ps policy.Problems, err error) (*engine.Policy, error) {
	if err != nil {
		return nil, configErr(policyMissing(path, err))
	}
	if p == nil {
		return nil, configErr(fmt.Errorf("policy %s does not load:\n%w", path, ps))
	}
	return p, nil
}

// fallback: with no usable policy the event must still reach someone, so
// it goes to the local syslog, and the run fails loudly. One attempt: a
// host without a syslog socket will not grow one in the next seconds.
func (a *app) fallback(ctx context.Context, ev *event.Event, loadErr error) error {
	ch, err := syslog.New(syslog.Config{})
	if err == nil {
		m := pipeline.Message(ev, engine.Delivery{Rule: "policy-failed-to-load", Action: engine.DeliverMessage}, 0, "")
		err = ch.Notify(ctx, m)
		ch.Close()
	}
	if err != nil {
		return errors.Join(loadErr, fmt.Errorf("fallback to local syslog failed too: %w", err))
	}
	return errors.Join(loadErr, errors.New("the event was sent to the local syslog instead"))
}
