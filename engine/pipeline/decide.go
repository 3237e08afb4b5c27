package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"maps"
	"slices"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
	"notifier/engine/state"
)

// mode is how decide treats the state.
type mode int

const (
	// commit: the decision, its outbox entries and history lines, in one
	// Update (Run).
	commit mode = iota
	// record: the decision only, in one Update (Record).
	record
	// dryRun: the decision on a copy of the records View read (Decide).
	dryRun
)

// BadSilence is a silence whose expression no longer compiles (the
// policy's windows changed): it is ignored.
type BadSilence struct {
	Silence state.Silence
	Err     error
}

// decide is the one decide path, for the rules' decision d: the active
// silences at the clock, then the stateful decision. With commit, what
// must be sent is queued in the same short transaction of the shared
// store: a kill at any point leaves either nothing decided or the
// deliveries queued. The history lines go to the local store (the same
// transaction without Redis). The queued entries are leased to owner
// until ctx's deadline. entry is the spool entry ev came from
// (state.Input.Entry), "" for none: decided before, nothing is queued or
// written, and the Result says AlreadyDecided.
//
// marks, when not nil, asks for the failure marks of the policy's
// channels (FailureMarks) with a commit: when the shared store is the
// local bbolt file, they are read in the commit's own Update, and
// *marks is set (never nil then); else *marks stays nil and the caller
// reads them. The run reads them right after the commit anyway, and one
// transaction fewer is one open, lock and close of the file fewer; the
// file's one lock is taken for the Update whatever ids it names, so
// naming the marks makes no run wait for another. With Redis each id
// named is a lock of its own, which every run would then wait for
// (state.SettleIDs): there the caller reads them without a lock, as
// before.
//
// partErrs, when not nil, gets the templates that failed to render for
// the messages queued (see Pipeline.message): the caller says them once
// the decision stands.
//
// rel, when set, is a held event decided again (releaseHeld): its Held
// record must still be the one read, or nothing is decided (errStale);
// it is deleted in the same transaction, and the decision may hold the
// event again.
func (p *Pipeline) decide(ctx context.Context, st *state.Topology, ev *event.Event, d *engine.Decision, m mode, owner, entry string, check Check, marks *map[string]state.Failure, partErrs *[]error, rel *state.Release) (state.Result, error) {
	now := p.now()
	sil, bad, err := p.activeSilence(ctx, st, ev, now)
	if err != nil {
		return state.Result{}, err
	}
	if check != nil {
		if err := check(d, bad); err != nil {
			return state.Result{}, err
		}
	} else {
		for _, b := range bad {
			p.note("silence %s no longer compiles, ignored: %v", b.Silence.ID, b.Err)
		}
	}
	in := state.Input{Event: ev, Decision: d, Silence: sil, Now: now, Policy: p.policyID(st), Entry: entry,
		DedupWindow: p.Policy.Settings.DedupWindow, Release: rel, Engine: p.Engine, Rates: p.Policy.Rates,
		DueAlways: !st.Separate()}
	if ev.Action == event.ActionRemove && p.Policy.MayGroup() {
		// (A policy that does not group may have left groups behind, from
		// before it changed: Apply then says ErrUnread, and they are read
		// below.)
		if in.ClearIDs, err = p.clearIDs(ctx, st, ev); err != nil {
			return state.Result{}, err
		}
	}
	if m == dryRun {
		// No occurrence: a dry run shows what the rules and the state
		// decide for this alert, not that a saved copy of it was already
		// handled.
		recs, err := st.Shared().View(ctx, state.IDs(in))
		if err != nil {
			return state.Result{}, err
		}
		res, err := state.Apply(in, recs) // on the copy View returned
		if errors.Is(err, state.ErrUnread) {
			// Groups left by an earlier policy: read them, and again.
			if in.ClearIDs, err = p.clearIDs(ctx, st, ev); err != nil {
				return state.Result{}, err
			}
			if recs, err = st.Shared().View(ctx, state.IDs(in)); err != nil {
				return state.Result{}, err
			}
			res, err = state.Apply(in, recs)
		}
		if err != nil || len(res.Groups) == 0 {
			return res, err
		}
		// What the run would send right after: the notification of a
		// group its event made due now (the first, without an engine).
		for _, id := range res.Groups {
			g, _ := state.GroupKind.Get(recs, id)
			more, err := st.Shared().View(ctx, state.SendGroupIDs(id, g, p.Policy.Rates))
			if err != nil {
				return res, err
			}
			more[id] = recs[id]
			sent, err := state.SendGroup(more, id, in.Now, p.Policy.Rates)
			if err != nil {
				return res, err
			}
			res.Send = append(res.Send, sent.Send...)
		}
		return res, nil
	}
	if p.Occurrence != nil && rel == nil {
		in.Occurrence = p.Occurrence(ev, now)
		in.FormerOccurrence = formerOccurrence(ev, in.Occurrence)
	}
	deadline, _ := ctx.Deadline()
	var res state.Result
	var queue, hist map[string]*state.Record
	ids, markIDs := state.IDs(in), []string(nil)
	if marks != nil && m == commit && !st.Separate() {
		markIDs = failureIDs(p.Policy)
		ids = slices.Compact(slices.Sorted(slices.Values(append(ids, markIDs...))))
	}
	var read map[string]state.Failure
	var failed []error // the templates that failed, of the last apply
	message := func(s state.Planned) *channels.Message {
		msg, errs := p.message(ev, s)
		failed = append(failed, errs...)
		return msg
	}
	apply := func(recs map[string]*state.Record) error {
		failed = nil // a store may run it again
		// The clock is read under the lock: outbox ids sort by it, and a
		// resolve decided after its trigger must sort after it even when
		// its run started first and waited for the lock.
		in.Now = p.now()
		if rel != nil {
			id := state.HeldID(ev.Key)
			if cur, ok := state.HeldKind.Get(recs, id); !ok || !cur.Due.Equal(rel.Held.Due) || cur.Why != rel.Held.Why || !cur.Since.Equal(rel.Held.Since) || !bytes.Equal(cur.Event, rel.Held.Event) {
				return errStale // released by another run, or held anew
			}
			recs[id] = nil
		}
		var err error
		if res, err = state.Apply(in, recs); err != nil || m == record || res.AlreadyDecided {
			return err
		}
		if queue, hist, err = outboxRecords(ev, d, res, in.Now, owner, deadline, message); err != nil {
			return err
		}
		maps.Copy(recs, queue)
		hist = st.AddHistory(recs, hist)
		return nil
	}
	update := func() error {
		return st.Shared().Update(ctx, ids, func(recs map[string]*state.Record) error {
			err := apply(recs)
			if err == nil && markIDs != nil {
				// As the transaction leaves them: what a read right after
				// its commit would find.
				read = marksOf(p.Policy, recs, markIDs)
			}
			return err
		})
	}
	err = update()
	for range 3 {
		if !errors.Is(err, state.ErrUnread) {
			break
		}
		// The key joined a group (or told a rate-capped channel) after
		// its incident was read: read it again and decide again.
		if in.ClearIDs, err = p.clearIDs(ctx, st, ev); err != nil {
			return res, err
		}
		// Every id again, as Apply will see the input: with the records
		// it names now, the decision may also name the due index.
		ids = slices.Compact(slices.Sorted(slices.Values(append(state.IDs(in), markIDs...))))
		err = update()
	}
	if err != nil {
		return res, err
	}
	if marks != nil {
		*marks = read
	}
	if partErrs != nil {
		*partErrs = failed
	}
	p.addHistory(ctx, st, hist)
	return res, nil
}

// clearIDs are the records a clear of ev's key needs besides IDs: read
// from its incident record without the lock (state.ClearIDs).
func (p *Pipeline) clearIDs(ctx context.Context, st *state.Topology, ev *event.Event) ([]string, error) {
	id := state.IncidentID(ev.Key)
	recs, err := st.Shared().View(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return state.ClearIDs(recs[id], p.Policy.Rates), nil
}

// activeSilence is the first active silence matching ev at now, and the
// silences that no longer compile.
func (p *Pipeline) activeSilence(ctx context.Context, st *state.Topology, ev *event.Event, now time.Time) (*state.Silence, []BadSilence, error) {
	recs, err := st.Shared().Scan(ctx, state.SilencePrefix)
	if err != nil {
		return nil, nil, err
	}
	var bad []BadSilence
	sil := state.MatchSilence(p.Policy, state.Silences(recs), ev, now, func(s state.Silence, err error) {
		bad = append(bad, BadSilence{Silence: s, Err: err})
	})
	return sil, bad, nil
}

// addHistory writes history lines to the local store; failing to is
// noted, not fatal (what was decided is already safe in the outbox).
func (p *Pipeline) addHistory(ctx context.Context, st *state.Topology, hist map[string]*state.Record) {
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
		p.note("history: %v", err)
	}
}

// outboxRecords turns the deliveries to make into outbox entries (each
// message made by message), plus a history line per decision (sent or
// not).
func outboxRecords(ev *event.Event, d *engine.Decision, res state.Result, now time.Time, owner string, until time.Time,
	message func(state.Planned) *channels.Message) (queue, hist map[string]*state.Record, err error) {
	out, hist := map[string]*state.Record{}, map[string]*state.Record{}
	for _, p := range res.Send {
		msg := state.MessageOf(*message(p))
		e := state.Entry{ID: state.NewEntryID(now), Key: p.KeyOr(ev.Key), Channel: p.Channel, Type: p.Type, Action: p.Action,
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

// formerOccurrence is the identity the other version gives the alert
// whose identity is occ: engine/pacemaker's hash was SHA-256 before
// 2026-12 and is FNV-1a now, and invocations of one alert may be of
// both (an upgrade between them, or an entry spooled before it), so
// each reads the other's record too (state.Input.FormerOccurrence).
func formerOccurrence(ev *event.Event, occ string) string {
	if occ == "" || ev.Source != event.SourcePacemaker {
		return ""
	}
	switch fnv, sha := pacemaker.Occurrence(ev.Fields), pacemaker.OccurrenceWith(ev.Fields, sha256.New()); occ {
	case fnv:
		return sha
	case sha:
		return fnv
	}
	return "" // an identity of another making (a policy test's): no other
}
