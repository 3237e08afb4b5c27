package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"notifier/channels/syslog"
	"notifier/engine"
	"notifier/engine/drop"
	"notifier/engine/event"
	"notifier/engine/lastgood"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
	"notifier/engine/spool"
	"notifier/engine/state"
)

// runCmd handles one event. It is the drop first (engine/drop): read and
// validate the input, spool it durably, offer it to the engine; if the
// engine took it, that is all (exit 0, nothing printed). Else it decides
// and delivers the event itself, to every chosen channel concurrently
// within the policy's deadline, and deletes the entry once the decision
// committed. Nothing goes to stdout; each failed channel gets one
// stderr line. --spooled ID decides an entry another process dropped
// (notifier-drop, when no engine claimed it).
func (a *app) runCmd(args []string) error {
	fs := a.newFlags("run")
	configFlag := fs.String("config", "", configUsage)
	source := fs.String("source", sourceAuto, "event source: auto, cmon, pacemaker or json")
	spoolFlag := fs.String("spool", "", spoolUsage)
	spooled := fs.String("spooled", "", "decide the spooled entry `ID` (notifier-drop runs this when no engine claimed it)")
	owner := fs.String("owner", "", "with --spooled: the claim `OWNER` this process already holds (notifier-drop's, made before it ran notifier)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := a.configPath(*configFlag)
	dir := drop.SpoolDir(*spoolFlag, a.env)
	defer a.observe(dir).finish(false)
	if *spooled != "" {
		return a.runSpooled(path, dir, *spooled, *owner)
	}
	wait, err := drop.ClaimWait(a.env)
	if err != nil {
		return exitErrorOf(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), a.start.Add(drop.ReadBound))
	defer cancel()
	e, err := drop.Take(ctx, drop.Options{Policy: path, Env: a.env, Stdin: a.stdin, Source: *source, Hint: a.stderr, Received: a.start})
	if errors.Is(err, errIgnored) {
		fmt.Fprintf(a.stderr, "notifier: %v\n", err)
		return nil
	}
	if err != nil {
		return a.rejectInput(path, err)
	}
	s, err := spool.Open(dir)
	if err != nil {
		// The event must still be decided: as before there was a spool.
		fmt.Fprintf(a.stderr, "notifier: %v: deciding in-process without it\n", err)
		return a.decideEntry(a.load(path), e, nil, nil, a.start)
	}
	defer s.Close()
	c, _, err := drop.Put(s, e, state.NewOwner, wait)
	if errors.Is(err, spool.ErrNotDurable) {
		// The engine has it: not decided again here, but not on disk.
		return problemErr(fmt.Errorf("%w (the engine has the event)", err))
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "notifier: %v: deciding in-process\n", err)
		return a.decideEntry(a.load(path), e, nil, nil, a.start)
	}
	if c == nil {
		return nil // the engine (or a flush) has it
	}
	return a.decideEntry(a.load(path), &c.Entry, s, c, a.start)
}

// spoolUsage is how every command's --spool flag is described.
const spoolUsage = "spool directory (default $NOTIFIER_SPOOL, else spool/ beside $NOTIFIER_STATE_PATH, else " + spool.Default + ")"

// runSpooled decides entry id of the spool at dir: claimed here, unless
// the engine or a flush was first (then there is nothing to do). The
// deadline counts from the entry's receipt, not from this process.
func (a *app) runSpooled(path, dir, id, owner string) error {
	if owner != "" && !drop.OwnedHere(owner) {
		return usageErr("run: --owner %q is not this process's", owner)
	}
	s, err := spool.Open(dir)
	if err != nil {
		return problemErr(err)
	}
	defer s.Close()
	var c *spool.Claimed
	if owner != "" {
		// notifier-drop's claim, adopted: nobody else could take it.
		c, err = s.Adopt(id, owner)
		if errors.Is(err, spool.ErrTaken) {
			return problemErr(fmt.Errorf("spool entry %s: no claim of %s to adopt in %s", id, owner, dir))
		}
	} else if c, err = s.Claim(id, state.NewOwner()); errors.Is(err, spool.ErrTaken) {
		return nil
	}
	if err != nil {
		return problemErr(err)
	}
	if !a.ours(path, &c.Entry) {
		rerr := s.Release(c)
		return problemErr(errors.Join(fmt.Errorf("spool entry %s is for policy %s (state %q), not %s: left in the spool", id, c.Entry.Policy, c.Entry.StatePath, path), rerr))
	}
	return a.decideEntry(a.load(path), &c.Entry, s, c, c.Entry.Received)
}

// ours reports whether entry e is for this command's policy path and
// $NOTIFIER_STATE_PATH, the only entries it may decide.
func (a *app) ours(path string, e *spool.Entry) bool {
	p, err := drop.PolicyPath(path)
	if err != nil {
		return false
	}
	sp, err := drop.EnvStatePath(a.env)
	return err == nil && p == e.Policy && sp == e.StatePath
}

// rejectInput is the end of a run whose input cannot be used: one clear
// line, exit 2, the input kept in rejected/ beside the policy's state
// (the policy is loaded for it, and its problems said, as before the
// drop existed).
func (a *app) rejectInput(path string, err error) error {
	in := inputOf(err)
	err = exitErrorOf(err)
	l := a.load(path)
	defer l.w.close()
	a.obs.rejected(in)
	if in != nil {
		err = a.rejected(l.p, in, err)
	}
	return errors.Join(l.err, err)
}

// rejected keeps input that could not be used — nothing an alarm source
// sent is dropped silently — and says where in the error.
func (a *app) rejected(p *engine.Policy, in *drop.Input, err error) error {
	return drop.Reject(drop.RejectedDir(a.statePath(p)), in, err)
}

// loaded is a run's policy: the one at path, else the last good one
// (lastGood), else none (err says why; the run falls back to syslog).
type loaded struct {
	path     string
	p        *engine.Policy
	err      error
	lastGood bool
	w        *wiring
	// report is the last decideEntry's (flush adds up their counts).
	report *pipeline.Report
}

// load loads the policy at path as a run uses it; the caller closes
// l.w.
func (a *app) load(path string) *loaded {
	l := &loaded{path: path, w: newWiring()}
	l.p, l.err = a.loadPolicy(path, l.w)
	loadErr := l.err
	if l.err != nil {
		// Loudly: every run says it, until someone fixes the policy.
		if lg := a.lastGood(path, l.err, l.w); lg != nil {
			l.p, l.err, l.lastGood = lg, nil, true
		}
	}
	a.obs.loaded(path, l.p, l.lastGood, loadErr)
	return l
}

// decideEntry decides and delivers entry e with policy l, its deadline
// counting from from. c, when the entry is spooled and claimed here, is
// deleted once the decision is durable (the pipeline's Decided, else
// EntryDone); else it stays claimed, and the next notifier flush takes
// it over.
func (a *app) decideEntry(l *loaded, e *spool.Entry, s *spool.Spool, c *spool.Claimed, from time.Time) error {
	defer l.w.close()
	deadline := policy.DefaultDeadline
	var cluster event.ClusterDefaults
	if l.p != nil {
		deadline, cluster = l.p.Settings.Deadline, l.p.Settings.Cluster
	}
	ctx, cancel := context.WithDeadline(context.Background(), from.Add(deadline))
	defer cancel()
	ev, err := drop.EventOf(e, cluster)
	if err != nil {
		a.obs.rejected(&e.Input)
		if c != nil {
			err = errors.Join(err, s.Bad(c, err))
		}
		return errors.Join(l.err, exitErrorOf(err))
	}
	if l.err != nil {
		sent, err := a.fallback(ctx, ev, l.err)
		if c != nil {
			if sent {
				a.done(s, c)
			} else {
				err = errors.Join(err, fmt.Errorf("the event stays in the spool %s: notifier flush decides it once a policy loads", s.Path))
			}
		}
		return err
	}
	pl := a.newPipeline(l.p, l.w)
	var r *pipeline.Report
	counted := ev
	if c == nil { // no spool: decided as before there was one
		r = pl.RunEntry(ctx, ev, e.ID)
	} else {
		var gone bool
		if r, gone = pl.RunClaimed(ctx, ev, e.ID, func() { a.done(s, c) }); !gone {
			fmt.Fprintf(a.stderr, "notifier: the event stays in the spool %s: notifier flush decides it\n", s.Path)
			counted = nil // counted when it is decided again
		}
	}
	l.report = r
	a.obs.decision(counted, r)
	err = reportExit(r)
	if err == nil && l.lastGood {
		return problemsFound() // delivered, but the policy on disk is broken
	}
	return err
}

// done deletes a decided entry; if that fails it is said, and a later
// claimer finds the decision recorded (RunEntry) and decides nothing.
func (a *app) done(s *spool.Spool, c *spool.Claimed) {
	if err := s.Done(c); err != nil {
		fmt.Fprintf(a.stderr, "notifier: decided, but %v (the next flush recognises it)\n", err)
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
// sent says the syslog took it.
func (a *app) fallback(ctx context.Context, ev *event.Event, loadErr error) (sent bool, err error) {
	ch, err := syslog.New(syslog.Config{})
	if err == nil {
		m := pipeline.Message(ev, engine.Delivery{Rule: "policy-failed-to-load", Action: engine.DeliverMessage}, 0, "")
		err = ch.Notify(ctx, m)
		ch.Close()
	}
	if err != nil {
		return false, errors.Join(loadErr, fmt.Errorf("fallback to local syslog failed too: %w", err))
	}
	return true, errors.Join(loadErr, errors.New("the event was sent to the local syslog instead"))
}
