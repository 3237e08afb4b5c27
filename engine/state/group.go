package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// A rule with group makes one notification of the events with the same
// group key: a digest. The group's record keeps its members and when its
// next notification is due; the group is an incident of its own (key
// GroupKey), which its notifications open and update and which resolves
// when its last open member clears. Each member keeps an incident record
// naming its group (Incident.Group), so that its clear finds it, and its
// own suppression and escalation windows.

// Group is one open group of a rule.
type Group struct {
	Rule     string        `json:"rule"`
	By       string        `json:"by"`  // group.by's value
	Key      string        `json:"key"` // the group's incident key, GroupKey
	Opened   time.Time     `json:"opened"`
	Wait     time.Duration `json:"wait"`
	Interval time.Duration `json:"interval"`
	// Deliveries are the rule's channels, as its first member's
	// decision made them (their Action is a trigger's or a message's).
	Deliveries []engine.Delivery `json:"deliveries"`
	Members    []Member          `json:"members"`
	Sent       time.Time         `json:"sent,omitzero"` // the last notification queued
	Due        time.Time         `json:"due,omitzero"`  // the next; zero: nothing new to tell
	Policy     string            `json:"policy,omitempty"`
	// RateCap, for the group of what a channel's rate cap held, is the
	// channel.
	RateCap string `json:"rate_cap,omitempty"`
	// Unlisted counts the open alerts a full rate group held without
	// listing them (maxGroupMembers): its digests say how many, and it
	// resolves only once they have cleared too.
	Unlisted int `json:"unlisted,omitempty"`
}

// Member is one event key of a group.
type Member struct {
	Key string `json:"key"`
	// Event is its latest raise, or its clear, for the first
	// maxMemberEvents members (templates see their fields); the others
	// keep only what a digest lists of them, below.
	Event     json.RawMessage `json:"event,omitempty"`
	Severity  string          `json:"severity,omitempty"`
	Summary   string          `json:"summary,omitempty"`
	Node      string          `json:"node,omitempty"`
	EventType string          `json:"event_type,omitempty"`
	Open      bool            `json:"open"`
	Count     int             `json:"count"`
	// Told says a notification of the group named it: its clear is then
	// worth an update.
	Told bool `json:"told,omitempty"`
	// Note is what the group's next notification says of it (that it
	// flaps).
	Note string `json:"note,omitempty"`
}

// Digest is what a group's notification tells: its members, the open
// ones first, the most severe first.
type Digest struct {
	Group string `json:"group"` // group.by's value
	// RateCap is the channel whose rate cap held the members, for the
	// digest of a rate group.
	RateCap string `json:"rate_cap,omitempty"`
	// Unlisted is how many more open alerts the group holds than it
	// lists.
	Unlisted int            `json:"unlisted,omitempty"`
	Members  []Member       `json:"members"`
	Events   []*event.Event `json:"-"` // Members' events, decoded
}

// GroupID is the record of rule's group by.
func GroupID(rule, by string) string { return GroupKind.ID(rule + "/" + by) }

// GroupKey is the incident key of rule's group by: PagerDuty's dedup_key
// of its incident, Slack's message to update.
func GroupKey(rule, by string) string { return "group/" + rule + "/" + by }

// ErrUnread is Apply's error for a clear whose records the caller did
// not name (ClearIDs): the key joined a group, or told a rate-capped
// channel, after the caller read its incident. Nothing is saved; the
// caller reads the incident again and decides again.
var ErrUnread = errors.New("state: the clear's group or rate records were not read")

// ClearIDs are the records a clear of the key whose incident record is
// inc needs besides IDs: its groups' and their incidents', and the rate
// records of the rate-capped channels it told (a flapping notice goes to
// them). The caller reads inc without the lock first (they are known
// only from it) and the decision checks them again.
func ClearIDs(inc *Record, rates map[string]policy.RateSpec) []string {
	v, ok := IncidentKind.Decode(inc)
	if !ok {
		return nil
	}
	var ids []string
	for _, g := range v.Groups {
		ids = append(ids, g.ID, IncidentID(g.Key))
	}
	for _, t := range v.Told {
		if _, capped := rates[t.Channel]; capped {
			ids = append(ids, RateID(t.Channel), RateGroupID(t.Channel))
		}
	}
	return ids
}

// maxGroupMembers bounds a group: an event beyond it is told on its
// own. maxMemberEvents is how many members keep their whole event (the
// rest keep what a digest lists): a group's record is read and written
// whole on every change, and a storm's group has hundreds.
var maxGroupMembers = 1000 // a variable for the tests

const maxMemberEvents = 10

// setEvent keeps ev in m: whole for one of the group's first
// maxMemberEvents members (i is its index), else what a digest lists.
func (m *Member) setEvent(ev *event.Event, i int) error {
	m.Severity, m.Summary, m.Node, m.EventType = ev.Severity, event.Summary(ev), ev.Node, ev.EventType
	if i >= maxMemberEvents {
		m.Event = nil
		return nil
	}
	data, err := json.Marshal(ev)
	m.Event = data
	return err
}

// event is the member's event as a digest uses it: whole, or rebuilt
// from what the member keeps.
func (m *Member) event() *event.Event {
	ev := &event.Event{Key: m.Key, Severity: m.Severity, Node: m.Node, EventType: m.EventType}
	if len(m.Event) > 0 {
		_ = json.Unmarshal(m.Event, ev) // one that does not decode still counts, by key
	}
	return ev
}

// groupExpires keeps a group as long as an incident.
func groupExpires(now time.Time) time.Time { return now.Add(IncidentTTL) }

// joinGroup adds ev to the group of hit h (dels are the rule's
// deliveries it would have made) and schedules the group's next
// notification: the first at the group's wait after it opened (at once
// without an engine to keep the timer), an update at most every
// interval. It returns the group's record id and key.
func joinGroup(in Input, h engine.Hit, dels []engine.Delivery, note string, recs map[string]*Record) (id, key string, due time.Time, err error) {
	ev, now := in.Event, in.Now
	id, key = GroupID(h.Rule, h.Group.By), GroupKey(h.Rule, h.Group.By)
	g, ok := getGroup(recs, id)
	if ok && len(g.Members) >= maxGroupMembers && !slices.ContainsFunc(g.Members, func(m Member) bool { return m.Key == ev.Key }) {
		return "", "", time.Time{}, nil // full: told on its own
	}
	if !ok {
		g = Group{Rule: h.Rule, By: h.Group.By, Key: key, Opened: now}
		for _, d := range dels {
			g.Deliveries = append(g.Deliveries, engine.Delivery{Channel: d.Channel, Type: d.Type, Action: d.Action, Rule: d.Rule})
		}
	}
	g.Wait, g.Interval, g.Policy = h.Group.Wait, h.Group.Interval, in.Policy
	changed := false
	i := slices.IndexFunc(g.Members, func(m Member) bool { return m.Key == ev.Key })
	if i < 0 {
		g.Members = append(g.Members, Member{Key: ev.Key})
		i, changed = len(g.Members)-1, true
	}
	m := &g.Members[i]
	if !m.Open {
		m.Open, changed = true, true
	}
	if err := m.setEvent(ev, i); err != nil {
		return "", "", time.Time{}, fmt.Errorf("state: group %s: %w", key, err)
	}
	m.Count++
	if note != "" && m.Note != note {
		m.Note, changed = note, true // flapping, or stopped: the group says it
	}
	if changed && g.Due.IsZero() {
		g.Due = g.nextDue(now, in.Engine)
	}
	return id, key, g.Due, putGroup(recs, id, g, groupExpires(now))
}

// nextDue is when a change at now is told: with the first notification,
// at the group's wait after it opened (at once without an engine: no
// timer would fire), else at most every interval.
func (g *Group) nextDue(now time.Time, engineRuns bool) time.Time {
	if g.Sent.IsZero() {
		if !engineRuns {
			return now
		}
		return later(g.Opened.Add(g.Wait), now)
	}
	return later(g.Sent.Add(g.Interval), now)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// clearMember is a clear of a grouped key: its member is cleared in the
// group. When it was the last open member, the group's incident resolves
// now, exactly on the channels its notifications told; else the clear is
// told with the group's next update (if a notification named it).
func clearMember(in Input, ref GroupRef, recs map[string]*Record, res *Result) error {
	ev, now := in.Event, in.Now
	if !slices.Contains(in.ClearIDs, ref.ID) {
		return ErrUnread
	}
	g, ok := getGroup(recs, ref.ID)
	if !ok {
		return nil // resolved already, or expired
	}
	i := slices.IndexFunc(g.Members, func(m Member) bool { return m.Key == ev.Key })
	told := false
	switch {
	case i < 0 && g.Unlisted > 0:
		g.Unlisted-- // one the group held without listing it
	case i < 0 || !g.Members[i].Open:
		return nil
	default:
		m := &g.Members[i]
		m.Open, told = false, m.Told
		_ = m.setEvent(ev, i) // an Event always encodes
		if !told {
			g.Members = slices.Delete(g.Members, i, i+1) // cleared before anyone heard of it
		}
	}
	if g.Unlisted > 0 || slices.ContainsFunc(g.Members, func(m Member) bool { return m.Open }) {
		if told && g.Due.IsZero() {
			g.Due = g.nextDue(now, in.Engine)
		}
		res.dueAt(g.Due)
		reason := fmt.Sprintf("cleared in group %s: told with its next notification", g.By)
		if !told {
			reason = fmt.Sprintf("cleared in group %s before a notification named it", g.By)
		}
		res.Skip = append(res.Skip, groupSkips(g, engine.DeliverResolve, reason)...)
		return putGroup(recs, ref.ID, g, groupExpires(now))
	}
	// The last open member: the group's incident resolves now.
	gincID := IncidentID(g.Key)
	ginc, told := IncidentKind.Get(recs, gincID)
	if told {
		for _, t := range ginc.Told {
			res.Send = append(res.Send, Planned{
				Outcome:  OutcomeResolved,
				Delivery: engine.Delivery{Channel: t.Channel, Type: t.Type, Action: engine.DeliverResolve, Rule: "resolve"},
				Reason:   fmt.Sprintf("resolves group %s, opened %s: its last open member cleared", g.By, g.Opened.UTC().Format(time.RFC3339)),
				Ref:      t.Ref, Told: t.Rule, Key: g.Key,
				Digest: digestOf(g),
			})
		}
	}
	if !told {
		res.Skip = append(res.Skip, groupSkips(g, engine.DeliverResolve, fmt.Sprintf("group %s closes: its members cleared before its first notification", g.By))...)
	}
	recs[gincID], recs[ref.ID] = nil, nil
	return nil
}

// noteMember sets the note of key's member in the group ref (named by
// ClearIDs), to be said by its next notification.
func noteMember(in Input, ref GroupRef, recs map[string]*Record, res *Result, key, note string) error {
	if !slices.Contains(in.ClearIDs, ref.ID) {
		return ErrUnread
	}
	g, ok := getGroup(recs, ref.ID)
	if !ok {
		return nil
	}
	i := slices.IndexFunc(g.Members, func(m Member) bool { return m.Key == key })
	if i < 0 || g.Members[i].Note == note {
		return nil
	}
	g.Members[i].Note = note
	if g.Due.IsZero() {
		g.Due = g.nextDue(in.Now, in.Engine)
	}
	res.dueAt(g.Due) // Apply lowers the due index with it
	return putGroup(recs, ref.ID, g, groupExpires(in.Now))
}

// groupSkips is one not-sent delivery per channel of g, for the plan.
func groupSkips(g Group, action, reason string) []Planned {
	out := make([]Planned, 0, len(g.Deliveries))
	for _, d := range g.Deliveries {
		d.Action = action
		out = append(out, Planned{Delivery: d, Outcome: OutcomeGrouped, Reason: reason, Key: g.Key})
	}
	return out
}

// digestOf is what a notification of g tells: the members, open first,
// the most severe first, then in the order they joined.
func digestOf(g Group) *Digest {
	d := &Digest{Group: g.By, RateCap: g.RateCap, Unlisted: g.Unlisted, Members: slices.Clone(g.Members)}
	d.Events = make([]*event.Event, len(d.Members))
	for i := range d.Members {
		d.Events[i] = d.Members[i].event()
	}
	idx := make([]int, len(d.Members))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ma, mb := d.Members[a], d.Members[b]
		if ma.Open != mb.Open {
			if ma.Open {
				return -1
			}
			return 1
		}
		return event.SeverityRank(d.Events[b].Severity) - event.SeverityRank(d.Events[a].Severity)
	})
	members, events := make([]Member, len(idx)), make([]*event.Event, len(idx))
	for i, j := range idx {
		members[i], events[i] = d.Members[j], d.Events[j]
	}
	d.Members, d.Events = members, events
	return d
}

// LeadEvent is the event that speaks for the group in its messages (the
// templates' fields, the channels' source and cluster): the first open
// member whose whole event was kept, else the first member.
func (d *Digest) LeadEvent() *event.Event {
	for i, m := range d.Members {
		if m.Open && len(m.Event) > 0 {
			return d.Events[i]
		}
	}
	for i, m := range d.Members {
		if len(m.Event) > 0 {
			return d.Events[i]
		}
	}
	return d.Events[0]
}

// SendGroup queues the notification of the group id that is due at now
// (Due not after now): a digest of its members to the rule's channels,
// on the group's incident (opened by the first, updated in place by the
// next where the channel can). The members cleared since are told once
// and then leave the group. It returns nothing to send when the group is
// gone or not due (another run sent it).
func SendGroup(recs map[string]*Record, id string, now time.Time, rates map[string]policy.RateSpec) (Result, error) {
	var res Result
	g, ok := getGroup(recs, id)
	if !ok || g.Due.IsZero() || g.Due.After(now) {
		return res, nil
	}
	if ok, err := rateAllows(&g, rates, recs, now); err != nil || !ok {
		if err == nil {
			noteDue(recs, g.Due)
			res.dueAt(g.Due)
			err = putGroup(recs, id, g, groupExpires(now)) // waits for the window
		}
		return res, err
	}
	gincID := IncidentID(g.Key)
	inc, ok := IncidentKind.Get(recs, gincID)
	if !ok {
		inc = Incident{Key: g.Key, Opened: now}
	}
	open := 0
	for _, m := range g.Members {
		if m.Open {
			open++
		}
	}
	what := "first notification"
	if !g.Sent.IsZero() {
		what = "update"
	}
	digest := digestOf(g)
	for _, d := range g.Deliveries {
		p := Planned{Delivery: d, Outcome: OutcomeDigest, Key: g.Key, Digest: digest,
			Reason: fmt.Sprintf("group %s, %s: %d open of %d alerts", g.By, what, open, len(g.Members))}
		if j := slices.IndexFunc(inc.Told, func(t Told) bool { return t.Channel == d.Channel }); j >= 0 {
			p.Ref = inc.Told[j].Ref
		}
		res.Send = append(res.Send, p)
	}
	inc.tell(res.Send)
	g.Sent, g.Due = now, time.Time{}
	g.Members = slices.DeleteFunc(g.Members, func(m Member) bool { return !m.Open })
	for i := range g.Members {
		g.Members[i].Told = true
	}
	if err := IncidentKind.Put(recs, gincID, inc, now.Add(IncidentTTL)); err != nil {
		return res, err
	}
	return res, putGroup(recs, id, g, groupExpires(now))
}

// SendGroupIDs are the records SendGroup reads and writes for group g,
// whose record is id.
func SendGroupIDs(id string, g Group, rates map[string]policy.RateSpec) []string {
	ids := []string{id, IncidentID(g.Key), DueID()}
	for _, d := range g.Deliveries {
		if _, capped := rates[d.Channel]; capped {
			ids = append(ids, RateID(d.Channel))
		}
	}
	return ids
}
