package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// maxRunReleases bounds what one run without an engine decides again or
// sends of what is due, besides its own event: a run's own page must not
// wait behind a thousand releases (each a transaction); the next run, or
// the flush timer, takes the rest.
const maxRunReleases = 16

// errStale aborts the decision of a held event whose Held record is no
// longer the one read: another run released it, or a newer event of the
// key is held in its place. Nothing is written.
var errStale = errors.New("held event released elsewhere")

// releaseHeld decides again, each in its own transaction, the held
// events that are due (state.Held: a silence or mute that ended, a
// flapping key gone quiet, an inhibition whose source resolved), queueing
// what they now send for the flush that follows. It returns when the
// next held event is due (zero for none). Without an engine the next
// run or flush does this; the engine does it on its timer.
//
// limit, when above 0, bounds how many it decides or sends (a run's
// share: the rest stays due, for the next run or flush); 0 is all.
func (p *Pipeline) releaseHeld(ctx context.Context, r *Report, st *state.Topology, owner string, m mode, limit int) time.Time {
	idx, err := st.Shared().View(ctx, []string{state.DueID()})
	if err != nil {
		return time.Time{}
	}
	seen := state.Due(idx)
	recs, err := st.Shared().Scan(ctx, state.HeldPrefix)
	if err != nil {
		return time.Time{}
	}
	now := p.now()
	var due []state.Held
	var next time.Time
	for _, rec := range recs {
		h, ok := state.HeldKind.Decode(rec)
		if !ok {
			continue
		}
		if h.Due.After(now) {
			if next.IsZero() || h.Due.Before(next) {
				next = h.Due
			}
			continue
		}
		due = append(due, h)
	}
	slices.SortFunc(due, func(a, b state.Held) int { return a.Due.Compare(b.Due) })
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	done := 0
	for _, h := range due {
		if ctx.Err() != nil || limit > 0 && done >= limit {
			earliest(h.Due) // not decided: still due
			break
		}
		earliest(p.release(ctx, r, st, owner, h, m)) // held again: when
		done++
	}
	left := 0 // all
	if limit > 0 {
		if left = limit - done; left == 0 {
			left = -1 // none left; the groups are still looked at, for when they are due
		}
	}
	g, scanned := p.sendGroups(ctx, r, st, owner, m, left)
	earliest(g)
	if scanned && !next.Equal(seen.Next) && m == commit {
		// The index set right: what runs after need not look before next.
		_ = st.Shared().Update(ctx, []string{state.DueID()}, func(recs map[string]*state.Record) error {
			state.SetDue(recs, seen, next)
			return nil
		})
	}
	return next
}

// sendGroups queues the notifications of the groups that are due (a
// group's wait or interval ended with something new to tell), each in its
// own transaction, at most limit of them when it is above 0 (none when
// it is below), and returns when the next group is due (zero for none),
// and false when the groups could not be read.
func (p *Pipeline) sendGroups(ctx context.Context, r *Report, st *state.Topology, owner string, m mode, limit int) (time.Time, bool) {
	recs, err := st.Shared().Scan(ctx, state.GroupPrefix)
	if err != nil {
		return time.Time{}, false // not looked at: the due index must stay as it is
	}
	now := p.now()
	var next time.Time
	type dueGroup struct {
		id string
		g  state.Group
	}
	var due []dueGroup
	for id, rec := range recs {
		g, ok := state.GroupKind.Decode(rec)
		if !ok || g.Due.IsZero() {
			continue
		}
		if g.Due.After(now) {
			if next.IsZero() || g.Due.Before(next) {
				next = g.Due
			}
			continue
		}
		due = append(due, dueGroup{id, g})
	}
	// The longest waiting first: a rate cap that takes only some of them
	// takes those.
	slices.SortFunc(due, func(a, b dueGroup) int {
		if c := a.g.Due.Compare(b.g.Due); c != 0 {
			return c
		}
		if c := a.g.Opened.Compare(b.g.Opened); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for i, d := range due {
		if ctx.Err() != nil || limit != 0 && i >= max(limit, 0) {
			if next.IsZero() || d.g.Due.Before(next) {
				next = d.g.Due // not sent: still due
			}
			break
		}
		if t := p.sendGroup(ctx, r, st, owner, d.id, d.g, m); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next, true
}

// sendGroup queues group id's digest (state.SendGroup) with its history
// lines, in one transaction.
func (p *Pipeline) sendGroup(ctx context.Context, r *Report, st *state.Topology, owner, id string, g state.Group, m mode) time.Time {
	deadline, _ := ctx.Deadline()
	var res state.Result
	var hist map[string]*state.Record
	var failed []error
	err := st.Shared().Update(ctx, state.SendGroupIDs(id, g, p.Policy.Rates), func(recs map[string]*state.Record) error {
		failed = nil
		now := p.now()
		var err error
		if res, err = state.SendGroup(recs, id, now, p.Policy.Rates); err != nil || m == record || len(res.Send) == 0 {
			return err
		}
		// The group's history lines and outbox entries are about the
		// group's key; its lead member's event makes the messages.
		lead := &event.Event{Key: g.Key}
		if d := res.Send[0].Digest; d != nil && len(d.Events) > 0 {
			lead = d.LeadEvent()
		}
		var queue map[string]*state.Record
		queue, hist, err = outboxRecords(&event.Event{Key: g.Key, Source: lead.Source, EventType: lead.EventType, Severity: lead.Severity, Action: event.ActionNew},
			&engine.Decision{Key: g.Key}, res, now, owner, deadline, func(s state.Planned) *channels.Message {
				msg, errs := p.message(lead, s)
				failed = append(failed, errs...)
				return msg
			})
		if err != nil {
			return err
		}
		maps.Copy(recs, queue)
		hist = st.AddHistory(recs, hist)
		return nil
	})
	if err != nil {
		p.problem(r, "sending group %s: %v (retried by the next run)", g.Key, err)
		return g.Due // still due
	}
	if len(res.Send) == 0 {
		return res.Due // put off (a rate cap), or sent by another run
	}
	p.addHistory(ctx, st, hist)
	rel := Released{Event: &event.Event{Key: g.Key}, Decision: &engine.Decision{Key: g.Key}, Plan: res}
	if d := res.Send[0].Digest; d != nil && len(d.Events) > 0 {
		rel.Event = d.LeadEvent()
	}
	for _, s := range res.Send {
		msg, _ := p.message(rel.Event, s)
		rel.Messages = append(rel.Messages, msg)
	}
	r.Released++
	r.Releases = append(r.Releases, rel)
	p.partProblems(r, failed)
	return time.Time{} // sent: due again only when something changes
}

// release decides one held event again: the rules at the time of its
// release (a mute that ended must show as ended), the state as it is
// now.
func (p *Pipeline) release(ctx context.Context, r *Report, st *state.Topology, owner string, h state.Held, m mode) time.Time {
	var ev event.Event
	if err := json.Unmarshal(h.Event, &ev); err != nil {
		p.problem(r, "held event %s does not decode, dropped from the hold: %v", h.Key, err)
		_ = st.Shared().Update(ctx, []string{state.HeldID(h.Key)}, func(recs map[string]*state.Record) error {
			if cur, ok := state.HeldKind.Get(recs, state.HeldID(h.Key)); ok && cur.Since.Equal(h.Since) && cur.Due.Equal(h.Due) {
				recs[state.HeldID(h.Key)] = nil
			}
			return nil
		})
		return time.Time{}
	}
	at := ev
	at.Time = p.now()
	d := p.Policy.Evaluate(&at)
	var partErrs []error
	res, err := p.decide(ctx, st, &ev, d, m, owner, "", nil, nil, &partErrs, &state.Release{Held: h})
	if errors.Is(err, errStale) {
		return time.Time{}
	}
	if err != nil {
		p.problem(r, "releasing the held event %s: %v (retried by the next run)", h.Key, err)
		return h.Due // still due: the index must not pass it by
	}
	r.Released++
	rel := Released{Event: &ev, Decision: d, Plan: res}
	for _, s := range res.Send {
		msg, _ := p.message(&ev, s) // what failed is in partErrs
		rel.Messages = append(rel.Messages, msg)
	}
	r.Releases = append(r.Releases, rel)
	p.partProblems(r, partErrs)
	if m == commit {
		p.audit(&ev, d, res, nil)
	}
	return res.Due
}

// Released is one held event decided again.
type Released struct {
	Event    *event.Event
	Decision *engine.Decision
	Plan     state.Result
	Messages []*channels.Message // of Plan.Send, their templates rendered
}

// ReleaseDue decides again the held events due at the clock, as a run or
// flush does before anything else, and records each decision without
// queueing or delivering it: `notifier test` on its virtual clock.
func (p *Pipeline) ReleaseDue(ctx context.Context) (*Report, error) {
	st, err := p.Open()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	r := &Report{}
	r.NextHeld = p.releaseHeld(ctx, r, st, "", record, 0)
	return r, nil
}
