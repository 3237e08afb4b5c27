package state

import (
	"fmt"
	"slices"
	"time"

	"notifier/engine"
	"notifier/engine/policy"
)

// A channel with `rate` takes at most Max notifications per Per. What is
// over the cap joins the channel's rate group — a group like a rule's
// (Group), whose digest ("N more alerts held by the rate cap of pager")
// is sent when the window allows and which resolves when the last of its
// alerts clears — so nothing is dropped, and nothing held is lost to
// the exact resolves. Resolves are never held. A 429 from the service
// holds everything new until its Retry-After has passed.

// RateWindow is a rate-capped channel's current window.
type RateWindow struct {
	Start time.Time `json:"start"`
	Sent  int       `json:"sent"`
	// Throttled is when a 429's Retry-After ends: until then the
	// channel takes nothing new.
	Throttled time.Time `json:"throttled,omitzero"`
}

// RateID is the record of channel's rate window.
func RateID(channel string) string { return RateKind.ID(channel) }

// RateGroupID is the record of the group holding what channel's rate cap
// held; RateGroupKey its incident key.
func RateGroupID(channel string) string { return GroupKind.ID("~rate/" + channel) }

// RateGroupKey is the incident key of channel's rate group.
func RateGroupKey(channel string) string { return "rate-cap/" + channel }

// rateIDs are the records the rate caps of d's channels need.
func rateIDs(in Input) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(ch string) {
		if _, capped := in.Rates[ch]; capped && !seen[ch] {
			seen[ch] = true
			ids = append(ids, RateID(ch), RateGroupID(ch))
		}
	}
	for _, del := range in.Decision.Deliveries {
		add(del.Channel)
	}
	for _, h := range in.Decision.Hits {
		for _, del := range h.Escalation {
			add(del.Channel)
		}
	}
	return ids
}

// window is channel's window at now: a new one once the last has
// passed.
func window(recs map[string]*Record, channel string, spec policy.RateSpec, now time.Time) RateWindow {
	w, _ := RateKind.Get(recs, RateID(channel))
	if w.Start.IsZero() || !now.Before(w.Start.Add(spec.Per)) || now.Before(w.Start.Add(-spec.Per)) {
		w.Start, w.Sent = now, 0
	}
	return w
}

// full says the window takes nothing more at now, and when it will.
func (w RateWindow) full(spec policy.RateSpec, now time.Time) (bool, time.Time) {
	if w.Throttled.After(now) {
		return true, later(w.Throttled, w.Start.Add(spec.Per))
	}
	if w.Sent >= spec.Max {
		return true, w.Start.Add(spec.Per)
	}
	return false, time.Time{}
}

func putWindow(recs map[string]*Record, channel string, w RateWindow, spec policy.RateSpec) error {
	return RateKind.Put(recs, RateID(channel), w, later(w.Start.Add(spec.Per), w.Throttled).Add(time.Hour))
}

// capRates holds back what res would send over a channel's rate cap: it
// joins the channel's rate group instead (OutcomeRateLimited), to be
// told in its digest when the window allows. It returns the rate groups
// the event joined. notices says res holds notices, not alerts (a
// flapping key's, on its clear): one over the cap is just not sent —
// nothing would ever clear it in a digest — and what the key does next
// is told when it stops flapping.
func capRates(in Input, res *Result, recs map[string]*Record, notices bool) (groups []GroupRef, err error) {
	if len(in.Rates) == 0 {
		return nil, nil
	}
	named := map[string]bool{}
	for _, id := range append(rateIDs(in), in.ClearIDs...) {
		named[id] = true
	}
	send := res.Send[:0:0]
	for _, p := range res.Send {
		spec, capped := in.Rates[p.Channel]
		if !capped || p.Action == engine.DeliverResolve {
			send = append(send, p)
			continue
		}
		if !named[RateID(p.Channel)] || !named[RateGroupID(p.Channel)] {
			return nil, ErrUnread // a channel the caller did not expect (a clear's notice): read again
		}
		took, until, err := takeSlot(recs, p.Channel, spec, in.Now)
		switch {
		case err != nil:
			return nil, err
		case took:
			send = append(send, p)
		case notices:
			p.Outcome = OutcomeRateLimited
			p.Reason = fmt.Sprintf("not sent: the rate cap of %s (%d per %s) is full; its final state is told when it stops flapping", p.Channel, spec.Max, spec.Per)
			res.Skip = append(res.Skip, p)
		default:
			id, gkey, err := joinRate(in, p, spec, until, recs)
			if err != nil {
				return nil, err
			}
			res.dueAt(until)
			if p.KeyOr(in.Event.Key) == in.Event.Key && id != "" {
				groups = append(groups, GroupRef{ID: id, Key: gkey}) // the event's own notification: its clear clears it there
			}
			p.Outcome, p.Key = OutcomeRateLimited, gkey
			p.Reason = fmt.Sprintf("held by the rate cap of %s (%d per %s): told in its digest, due %s", p.Channel, spec.Max, spec.Per, until.UTC().Format(time.RFC3339))
			res.Skip = append(res.Skip, p)
		}
	}
	res.Send = send
	return groups, nil
}

// takeSlot takes one notification of channel's window at now, when it
// has one left; else it says when it will.
func takeSlot(recs map[string]*Record, channel string, spec policy.RateSpec, now time.Time) (bool, time.Time, error) {
	w := window(recs, channel, spec, now)
	if full, until := w.full(spec, now); full {
		return false, until, nil
	}
	w.Sent++
	return true, time.Time{}, putWindow(recs, channel, w, spec)
}

// joinRate adds the event of p to channel's rate group, due when the
// window allows.
func joinRate(in Input, p Planned, spec policy.RateSpec, until time.Time, recs map[string]*Record) (id, key string, err error) {
	ch := p.Channel
	id, key = RateGroupID(ch), RateGroupKey(ch)
	g, ok := getGroup(recs, id)
	if !ok {
		g = Group{By: "the rate cap of " + ch, Key: key, Opened: in.Now, Interval: spec.Per,
			Deliveries: []engine.Delivery{{Channel: ch, Type: p.Type, Action: engine.DeliveryAction(p.Type, "new"), Rule: p.Rule}}}
	}
	g.Interval, g.Policy, g.RateCap = spec.Per, in.Policy, ch
	mk := p.KeyOr(in.Event.Key)
	i := slices.IndexFunc(g.Members, func(m Member) bool { return m.Key == mk })
	if i < 0 && len(g.Members) >= maxGroupMembers {
		// Full: counted, and told by number in the digest; its own clear
		// counts it out.
		g.Unlisted++
		if g.Due.IsZero() || g.Due.Before(until) {
			g.Due = until
		}
		return id, key, putGroup(recs, id, g, groupExpires(in.Now))
	}
	if i < 0 {
		g.Members = append(g.Members, Member{Key: mk})
		i = len(g.Members) - 1
	}
	m := &g.Members[i]
	if err := m.setEvent(in.Event, i); err != nil {
		return "", "", fmt.Errorf("state: rate cap of %s: %w", ch, err)
	}
	m.Open, m.Count = true, m.Count+1
	if g.Due.IsZero() || g.Due.Before(until) {
		g.Due = until
	}
	return id, key, putGroup(recs, id, g, groupExpires(in.Now))
}

// rateAllows says whether the channels of a group's notification take it
// at now; when one does not, the group waits (its Due moves to when the
// window allows). When they do, each window counts it.
func rateAllows(g *Group, rates map[string]policy.RateSpec, recs map[string]*Record, now time.Time) (bool, error) {
	wait := time.Time{}
	for _, d := range g.Deliveries {
		spec, capped := rates[d.Channel]
		if !capped {
			continue
		}
		if full, until := window(recs, d.Channel, spec, now).full(spec, now); full && until.After(wait) {
			wait = until
		}
	}
	if !wait.IsZero() {
		g.Due = wait
		return false, nil
	}
	for _, d := range g.Deliveries {
		if spec, capped := rates[d.Channel]; capped {
			if _, _, err := takeSlot(recs, d.Channel, spec, now); err != nil { // free: checked above
				return false, err
			}
		}
	}
	return true, nil
}

// throttle records a 429's Retry-After on channel's window, when the
// channel is capped (it has a window): nothing new is sent to it until
// then.
func throttle(recs map[string]*Record, channel string, until time.Time) {
	id := RateID(channel)
	w, ok := RateKind.Get(recs, id)
	if !ok || !until.After(w.Throttled) {
		return
	}
	w.Throttled = until
	_ = RateKind.Put(recs, id, w, until.Add(time.Hour)) // a RateWindow always encodes
}
