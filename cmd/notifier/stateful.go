package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
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

func (a *app) openStores(p *engine.Policy) (*state.Topology, error) {
	return stores.Open(stores.Config{Path: a.statePath(p), RedisURL: p.Settings.RedisURL, RedisPasswordFile: p.Settings.RedisPasswordFile, Namespace: "notifier"})
}

// decide runs the stateful decision for ev and queues what must be sent,
// in one short transaction of the shared store: a kill at any point
// leaves either nothing decided or the deliveries queued. The history
// lines go to the local store (the same transaction without Redis). The
// queued entries are leased to owner until the run's deadline.
func (a *app) decide(ctx context.Context, p *engine.Policy, st *state.Topology, ev *event.Event, d *engine.Decision, owner string) (state.Result, error) {
	now := time.Now()
	sil, err := a.activeSilence(ctx, p, st, ev, now)
	if err != nil {
		return state.Result{}, err
	}
	in := state.Input{Event: ev, Decision: d, Silence: sil, Now: now, Occurrence: pacemaker.OccurrenceOf(ev), Policy: policyID(p, st)}
	deadline, _ := ctx.Deadline()
	var res state.Result
	var queue, hist map[string]*state.Record
	err = st.Shared().Update(ctx, state.IDs(in), func(recs map[string]*state.Record) error {
		// The clock is read under the lock: outbox ids sort by it, and a
		// resolve decided after its trigger must sort after it even when
		// its run started first and waited for the lock.
		in.Now = time.Now()
		var err error
		if res, err = state.Apply(in, recs); err != nil {
			return err
		}
		if queue, hist, err = outboxRecords(ev, d, res, in.Now, owner, deadline); err != nil {
			return err
		}
		maps.Copy(recs, queue)
		hist = st.AddHistory(recs, hist)
		return nil
	})
	if err != nil {
		return res, err
	}
	a.addHistory(ctx, st, hist)
	return res, nil
}

// policyID is the policy's identity in the records it writes: this host
// and where the policy lives (its file, or its directory). Only for a
// state file: Redis is shared by nodes on purpose, and nodes that run on
// one host (tests, containers) would look like two policies there.
func policyID(p *engine.Policy, st *state.Topology) string {
	if len(p.Files) == 0 || st.Separate() {
		return ""
	}
	path := p.Files[0]
	if len(p.Files) > 1 {
		path = filepath.Dir(path)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real // one policy, however it is reached
	}
	return state.PolicyID(hostname(), path)
}

// reportShared says, on every run it happens, that another policy's
// records were read: two policies share the state file.
func (a *app) reportShared(p *engine.Policy, ev *event.Event, res state.Result) {
	for _, other := range res.SharedWith {
		path := state.PolicyPath(other)
		fmt.Fprintf(a.stderr, "notifier: %s: the state %s is also used by the policy %s, which decided this key before: they suppress and resolve each other's alerts; give each policy its own settings.state.path\n",
			ev.Key, a.statePath(p), path)
		a.attention.Store(true)
	}
}

// addHistory writes history lines to the local store; failing to is
// reported, not fatal (what was decided is already safe in the outbox).
func (a *app) addHistory(ctx context.Context, st *state.Topology, hist map[string]*state.Record) {
	if len(hist) == 0 {
		return
	}
	dctx, cancel := state.Detached(ctx)
	defer cancel()
	err := st.History().Update(dctx, nil, func(recs map[string]*state.Record) error {
		maps.Copy(recs, hist)
		return nil
	})
	if err != nil {
		fmt.Fprintf(a.stderr, "notifier: history: %v\n", err)
	}
}

func (a *app) activeSilence(ctx context.Context, p *engine.Policy, st *state.Topology, ev *event.Event, now time.Time) (*state.Silence, error) {
	recs, err := st.Shared().Scan(ctx, state.SilencePrefix)
	if err != nil {
		return nil, err
	}
	return state.MatchSilence(p, state.Silences(recs), ev, now, func(s state.Silence, err error) {
		fmt.Fprintf(a.stderr, "notifier: silence %s no longer compiles, ignored: %v\n", s.ID, err)
	}), nil
}

// outboxRecords turns the deliveries to make into outbox entries, plus a
// history line per decision (sent or not).
func outboxRecords(ev *event.Event, d *engine.Decision, res state.Result, now time.Time, owner string, until time.Time) (queue, hist map[string]*state.Record, err error) {
	out, hist := map[string]*state.Record{}, map[string]*state.Record{}
	for _, p := range res.Send {
		msg := state.MessageOf(*messageFor(ev, p.Delivery, p.Suppressed, p.Ref))
		e := state.Entry{ID: state.NewEntryID(now), Key: ev.Key, Channel: p.Channel, Type: p.Type, Action: p.Action,
			Rule: p.Rule, Reason: p.Reason, Message: msg, Created: now, LeaseOwner: owner, LeasedUntil: until}
		if p.Opened != (state.Opened{}) {
			e.Opened = &p.Opened
		}
		r, err := e.Record()
		if err != nil {
			return nil, nil, err
		}
		out[e.ID] = r
		now = now.Add(time.Nanosecond) // ids keep the plan's order
	}
	for _, h := range decisionHistory(ev, d, res, now) {
		id, r, err := h.Record()
		if err != nil {
			return nil, nil, err
		}
		hist[id] = r
	}
	return out, hist, nil
}

func decisionHistory(ev *event.Event, d *engine.Decision, res state.Result, now time.Time) []state.HistoryEntry {
	base := state.HistoryEntry{Time: now, Key: ev.Key, Source: ev.Source, EventType: ev.EventType, Severity: ev.Severity, Action: ev.Action}
	var out []state.HistoryEntry
	add := func(p state.Planned) {
		h := base
		h.Rule, h.Channel, h.Delivery, h.Outcome, h.Reason = p.Rule, p.Channel, p.Action, p.Outcome, p.Reason
		out = append(out, h)
	}
	for _, p := range res.Send {
		add(p)
	}
	for _, p := range res.Skip {
		add(p)
	}
	if len(out) == 0 {
		// Nobody was chosen: say why, so "why was I not paged" has an
		// answer in history too.
		h := base
		h.Outcome, h.Reason = state.OutcomeUnmatched, "no rule matched"
		if m := d.Matched(); len(m) > 0 {
			h.Rule = m[len(m)-1] // the one that decided
		}
		if d.Dropped {
			h.Outcome, h.Reason = state.OutcomeDropped, "dropped by rule "+h.Rule
		} else if h.Rule != "" {
			h.Outcome, h.Reason = state.OutcomeNobody, "rule "+h.Rule+" notifies nobody"
		}
		out = append(out, h)
	}
	return out
}

// flushOutbox delivers what the outbox holds that this run may deliver:
// its own entries, and other entries that are due (all of them with
// force). Chains (per key and channel) go in order, concurrently with
// each other. It returns how many were delivered, queued and failed.
//
// marked names the channels with a failure mark (failureMarks): a
// delivery to one clears it, and it is removed from marked.
func (a *app) flushOutbox(ctx context.Context, p *engine.Policy, w *wiring, st *state.Topology, owner string, force bool, marked map[string]bool) (delivered, queued, failed int, err error) {
	// Our own deliveries may wait behind another live run's for the same
	// key and channel (a resolve behind the trigger it is sending): wait
	// for it, briefly, rather than leave the resolve for the next run.
	wait := 20 * time.Millisecond
	for {
		d, q, f, blocked, err := a.flushRound(ctx, p, w, st, owner, force, marked)
		delivered, queued, failed = delivered+d, q, failed+f
		deadline, _ := ctx.Deadline()
		if err != nil || !blocked || time.Until(deadline) < time.Second+wait {
			return delivered, queued, failed, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return delivered, queued, failed, nil
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// maxParallelChains bounds concurrent deliveries in one run.
const maxParallelChains = 8

// flushRound claims, delivers and settles once. blocked says some of
// owner's own entries could not be claimed because another live run holds
// the entries before them.
func (a *app) flushRound(ctx context.Context, p *engine.Policy, w *wiring, st *state.Topology, owner string, force bool, marked map[string]bool) (delivered, queued, failed int, blocked bool, err error) {
	now := time.Now()
	found, err := st.Shared().Scan(ctx, state.OutboxPrefix)
	if err != nil || len(found) == 0 {
		return 0, 0, 0, false, err
	}
	deadline, _ := ctx.Deadline()
	// Most runs find nothing they may take (another run's live lease, a
	// retry not yet due): see that on the copy Scan returned, and skip the
	// exclusive lock altogether — under a storm, every run pays it.
	preview, changed, err := state.Claim(maps.Clone(found), owner, now, deadline, force, state.OwnerAlive)
	if err != nil {
		return 0, 0, 0, false, err
	}
	blocked = ownBlocked(found, preview, owner)
	if len(preview) == 0 {
		return 0, 0, 0, blocked, nil
	}
	chains := preview
	if changed {
		// Taking over others' entries needs the lock; our own, already
		// leased to us when they were queued, do not.
		err = st.Shared().Update(ctx, slices.Sorted(maps.Keys(found)), func(recs map[string]*state.Record) error {
			var err error
			chains, _, err = state.Claim(recs, owner, now, deadline, force, state.OwnerAlive)
			return err
		})
		if err != nil || len(chains) == 0 {
			return 0, 0, 0, blocked, err
		}
	}
	outcomes := make([][]state.Attempt, len(chains))
	var wg sync.WaitGroup
	// A backlog after an outage must not become hundreds of requests at
	// once (and a wall of 429s): a few chains at a time.
	sem := make(chan struct{}, maxParallelChains)
	for i, chain := range chains {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			outcomes[i] = a.deliverChain(ctx, p, w, chain)
		})
	}
	wg.Wait()

	settleNow := time.Now()
	var ids []string
	for i, c := range chains {
		for j, e := range c {
			ids = append(ids, e.ID)
			ids = append(ids, state.SettleIDs(e, outcomes[i][j], settleNow, marked[e.Channel])...)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	refs := map[[2]string]string{}
	hist := map[string]*state.Record{}
	var later map[string]*state.Record // hist, when it goes to a store of its own
	dctx, cancel := state.Detached(ctx)
	defer cancel()
	err = st.Shared().Update(dctx, ids, func(recs map[string]*state.Record) error {
		delivered, queued, failed = 0, 0, 0
		clear(hist)
		for i, c := range chains {
			for j, e := range c {
				o := outcomes[i][j]
				what, err := state.Settle(recs, e, o, settleNow, owner)
				if err != nil {
					return err
				}
				switch what {
				case state.OutcomeDelivered:
					delivered++
					delete(marked, e.Channel)
					if o.Ref != "" {
						refs[[2]string{e.Key, e.Channel}] = o.Ref
					}
				case state.OutcomeQueued:
					queued++
				case state.OutcomeFailed:
					failed++
				}
				if o.Status != state.AttemptSkipped {
					h := state.HistoryEntry{Time: settleNow, Key: e.Key, Rule: e.Rule, Channel: e.Channel, Delivery: e.Action, Outcome: what, Attempts: e.Attempts + 1}
					if o.Err != nil {
						h.Reason = o.Err.Error()
						switch what {
						case state.OutcomeFailed:
							fmt.Fprintf(a.stderr, "notifier: channel %q: %v (given up)\n", e.Channel, o.Err)
						case state.OutcomeSuperseded:
							fmt.Fprintf(a.stderr, "notifier: channel %q: %v (another run took the delivery over)\n", e.Channel, o.Err)
						default:
							fmt.Fprintf(a.stderr, "notifier: channel %q: %v (queued for retry)\n", e.Channel, o.Err)
						}
					}
					id, r, err := h.Record()
					if err != nil {
						return err
					}
					hist[id] = r
				}
			}
		}
		later = st.AddHistory(recs, hist)
		return nil
	})
	if err == nil {
		a.addHistory(ctx, st, later)
	}
	if err == nil && len(refs) > 0 {
		err = a.recordRefs(ctx, st, refs)
	}
	return delivered, queued, failed, blocked, err
}

// ownBlocked reports whether one of owner's entries was left out only
// because another live run is delivering the entries before it — worth
// waiting for. Behind a failed delivery waiting for its retry it is not:
// that wait is the outbox's job.
func ownBlocked(found map[string]*state.Record, claimed [][]state.Entry, owner string) bool {
	in := map[string]bool{}
	for _, c := range claimed {
		for _, e := range c {
			in[e.ID] = true
		}
	}
	now := time.Now()
	busy := map[[2]string]bool{} // key and channel with an entry a live run holds
	for _, e := range state.Entries(found) {
		k := [2]string{e.Key, e.Channel}
		if e.LeasedByOther(owner, now, state.OwnerAlive) {
			busy[k] = true
		}
		if e.LeaseOwner == owner && !in[e.ID] && busy[k] {
			return true
		}
	}
	return false
}

// recordRefs remembers where Slack's Web API put each message, so the
// resolve updates that message.
func (a *app) recordRefs(ctx context.Context, st *state.Topology, refs map[[2]string]string) error {
	var ids []string
	for k := range refs {
		ids = append(ids, state.IncidentID(k[0]))
	}
	dctx, cancel := state.Detached(ctx)
	defer cancel()
	return st.Shared().Update(dctx, ids, func(recs map[string]*state.Record) error {
		for k, ref := range refs {
			state.SetRef(recs, k[0], k[1], ref)
		}
		return nil
	})
}

// deliverChain sends one key's entries for one channel, in order,
// stopping at the first failure (the rest wait, in order).
func (a *app) deliverChain(ctx context.Context, p *engine.Policy, w *wiring, chain []state.Entry) []state.Attempt {
	out := make([]state.Attempt, len(chain))
	ch, err := w.channel(p, chain[0].Channel)
	var lastRef string
	for i, e := range chain {
		if err != nil {
			// The channel cannot be built (a secret file being rewritten,
			// a channel renamed by a policy change in progress): retried
			// like any failure until the outbox gives up, never dropped
			// at once. The rest of the chain waits behind it.
			out[i] = state.Attempt{Status: state.AttemptRetryable, Err: err}
			a.attention.Store(true)
			break
		}
		m, jerr := e.Message.Channels()
		if jerr != nil {
			out[i] = state.Attempt{Status: state.AttemptRejected, Err: fmt.Errorf("queued message unreadable: %w", jerr)}
			continue
		}
		if m.Action == channels.Resolve && m.Ref == "" {
			m.Ref = lastRef // the trigger went out just before, in this chain
		}
		ref, _, derr := channels.DeliverRef(ctx, ch, &m, channels.DefaultBackoff)
		if derr == nil {
			out[i] = state.Attempt{Status: state.AttemptDelivered, Ref: ref}
			lastRef = ref
			continue
		}
		retry, after := channels.IsRetryable(derr)
		out[i] = state.Attempt{Status: state.AttemptRejected, Err: derr, RetryAfter: after, Uncertain: channels.MaybeAccepted(derr)}
		if retry {
			out[i].Status = state.AttemptRetryable
		}
		for j := i + 1; j < len(chain); j++ {
			out[j] = state.Attempt{} // not attempted: waits behind this one
		}
		break
	}
	return out
}

// rejectedDir is where input the decoders rejected is kept.
func (a *app) rejectedDir(p *engine.Policy) string {
	return filepath.Join(filepath.Dir(a.statePath(p)), "rejected")
}

// maxRejected bounds rejected/: the oldest files go first.
const maxRejected = 100

// keepRejected stores raw input that could not be decoded, so nothing an
// alarm source sent is lost; it returns where, or "" (and why).
func (a *app) keepRejected(p *engine.Policy, in *input) (string, error) {
	// Through the directory's descriptor, never a link: the state
	// directory is shared with the haclient group (safeDir).
	dir, err := openSafeDir(a.rejectedDir(p), true)
	if err != nil {
		return "", err
	}
	defer dir.Close()
	name := fmt.Sprintf("%s-%d", time.Now().UTC().Format("20060102T150405.000000000Z"), os.Getpid())
	var data []byte
	if in.source == sourcePacemaker {
		name += ".env"
		for _, k := range slices.Sorted(maps.Keys(in.env)) {
			// Only what Pacemaker and the alert gave: the rest of the
			// environment is not ours to write to disk.
			if strings.HasPrefix(k, "CRM_") || strings.HasPrefix(k, "NOTIFIER_") {
				data = fmt.Appendf(data, "%s=%s\n", k, in.env[k])
			}
		}
	} else {
		name += ".input"
		data = in.data
	}
	if err := dir.create(name, data, 0o640, false); err != nil {
		return "", err
	}
	// Only files named as keepRejected names them are pruned, oldest
	// (by name) first.
	all, _ := dir.names()
	var ours []string
	for _, n := range all {
		if rejectedName.MatchString(n) {
			ours = append(ours, n)
		}
	}
	slices.Sort(ours)
	for i := 0; i < len(ours)-maxRejected; i++ {
		dir.remove(ours[i])
	}
	return dir.join(name), nil
}

// rejectedName matches the names keepRejected gives.
var rejectedName = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9]+\.(input|env)$`)
