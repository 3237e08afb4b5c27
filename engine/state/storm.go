package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// What a storm needs kept between events: events held back to be
// decided again later (Held: a silence or mute that ends, a flapping key
// that goes quiet, an inhibition whose source resolves), each key's flap
// history (Flap), each inhibit entry's open sources and held targets per
// scope (Inhibition), and the recent reports of one Pacemaker node or
// fencing alert from the cluster's nodes (Seen).

// The reasons an event is held (Held.Why).
const (
	HeldSilenced  = "silenced"
	HeldMuted     = "muted"
	HeldFlapping  = "flapping"
	HeldInhibited = "inhibited"
)

// Held is an event held back, decided again at Due by the engine's timer
// or, without an engine, by the next run or flush that finds it due.
// One per key: the newest holding wins, and deciding again is always
// safe, since the decision holds it again while its cause lasts.
type Held struct {
	Key    string          `json:"key"`
	Event  json.RawMessage `json:"event"` // explain's JSON form
	Why    string          `json:"why"`
	Reason string          `json:"reason"` // what held it, for the release's history
	Since  time.Time       `json:"since"`
	Due    time.Time       `json:"due"`
}

// HeldID is the record of the event held for key.
func HeldID(key string) string { return HeldKind.ID(key) }

// hold writes the Held record of ev, due at due.
func hold(recs map[string]*Record, res *Result, ev *event.Event, why, reason string, now, due time.Time) error {
	res.dueAt(due)
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("state: hold %s: %w", ev.Key, err)
	}
	since := now
	if old, ok := HeldKind.Get(recs, HeldID(ev.Key)); ok && old.Why == why {
		since = old.Since
	}
	h := Held{Key: ev.Key, Event: data, Why: why, Reason: reason, Since: since, Due: due}
	return HeldKind.Put(recs, HeldID(ev.Key), h, due.Add(IncidentTTL))
}

// SilencedBy is the reason of what silence id holds.
func SilencedBy(id string) string { return "silenced by " + id }

// EndSilence makes what silence silenceID held due now, in the Held
// records recs (named by the caller: the scan's ids): it was expired
// before its time, and what it held and is still open is told by the
// next run, flush or engine tick. It returns how many it made due.
func EndSilence(recs map[string]*Record, silenceID string, now time.Time) int {
	defer noteDue(recs, now) // (recs names DueID: the caller's ids)
	n := 0
	for id := range recs {
		h, ok := HeldKind.Get(recs, id)
		if !ok || h.Why != HeldSilenced || h.Reason != SilencedBy(silenceID) || !h.Due.After(now) {
			continue
		}
		h.Due = now
		if HeldKind.Put(recs, id, h, now.Add(IncidentTTL)) == nil {
			n++
		}
	}
	return n
}

// DueIndex is when the first held event or group is due, as far as the
// decisions that held or grouped something know: a run without an
// engine looks for what is due (a scan of the held events and the
// groups) only when it is due, and `notifier flush` and the engine look
// every time, whatever it says. It may be early (what it named was
// released meanwhile: the scan that finds nothing due sets it right),
// never late, since every decision that makes something due names it.
type DueIndex struct {
	Next time.Time `json:"next,omitzero"`
	// Seq counts the decisions that made something due, and Low is the
	// earliest time they noted since a scan last set Next: a scan that
	// another decision overlapped sets Next no later than Low.
	Seq int64     `json:"seq,omitempty"`
	Low time.Time `json:"low,omitzero"`
}

// DueID is the due index's record.
func DueID() string { return DueKind.ID("next") }

// noteDue lowers the due index to t, and counts the change.
func noteDue(recs map[string]*Record, t time.Time) {
	if t.IsZero() {
		return
	}
	idx, _ := DueKind.Get(recs, DueID())
	if idx.Next.IsZero() || t.Before(idx.Next) {
		idx.Next = t
	}
	if idx.Low.IsZero() || t.Before(idx.Low) {
		idx.Low = t
	}
	idx.Seq++
	_ = DueKind.Put(recs, DueID(), idx, time.Time{}) // always encodes
}

// Due is the due index in recs (zero: nothing held, or none read).
func Due(recs map[string]*Record) DueIndex {
	idx, _ := DueKind.Get(recs, DueID())
	return idx
}

// DueAt is when the due index in recs says something is due (zero:
// nothing held).
func DueAt(recs map[string]*Record) time.Time { return Due(recs).Next }

// SetDue sets the due index to next, the first due time a scan found
// (zero: none); when a decision made something due since the scan began
// (Seq moved from seen's), no later than what they noted (Low).
func SetDue(recs map[string]*Record, seen DueIndex, next time.Time) {
	idx, _ := DueKind.Get(recs, DueID())
	if idx.Seq != seen.Seq && !idx.Low.IsZero() && (next.IsZero() || idx.Low.Before(next)) {
		next = idx.Low
	}
	if idx.Next.Equal(next) && idx.Low.IsZero() {
		return
	}
	idx.Next, idx.Low = next, time.Time{}
	_ = DueKind.Put(recs, DueID(), idx, time.Time{}) // always encodes
}

// Release is what Apply is told when it decides a held event again.
type Release struct {
	Held Held
}

// Flap is a key's recent state changes, for flap damping.
type Flap struct {
	Spec     policy.FlappingSpec `json:"spec"`
	Rule     string              `json:"rule"`
	Raised   bool                `json:"raised"`
	Changes  []time.Time         `json:"changes,omitempty"` // within Spec.Within of the last
	Flapping bool                `json:"flapping,omitempty"`
	Since    time.Time           `json:"since,omitzero"` // flapping since
	Count    int                 `json:"count,omitempty"`
	Last     time.Time           `json:"last,omitzero"` // the last change
}

// FlapID is the record of key's flap history.
func FlapID(key string) string { return FlapKind.ID(key) }

// change records a change to raised at now, if it is one.
func (f *Flap) change(raised bool, now time.Time) bool {
	if f.Raised == raised && !f.Last.IsZero() {
		return false
	}
	f.Raised, f.Last = raised, now
	f.Changes = append(f.Changes, now)
	f.Changes = slices.DeleteFunc(f.Changes, func(t time.Time) bool { return !t.After(now.Add(-f.Spec.Within)) })
	if f.Flapping {
		f.Count++
	}
	return true
}

// quietAt is when a flapping key has stayed in one state long enough.
func (f *Flap) quietAt() time.Time { return f.Last.Add(f.Spec.Quiet) }

func (f *Flap) expires() time.Time { return f.Last.Add(f.Spec.Within + f.Spec.Quiet + time.Hour) }

// notice is what the notification that the key flaps says.
func (f *Flap) notice() string {
	return fmt.Sprintf("FLAPPING: %d changes within %s", f.Count, f.Spec.Within)
}

// noticeReason is that notification's reason, for history.
func (f *Flap) noticeReason() string {
	return fmt.Sprintf("flapping: %d changes within %s; raises and clears held until quiet for %s", f.Count, f.Spec.Within, f.Spec.Quiet)
}

// describe says how long and how much the key has flapped.
func (f *Flap) describe() string {
	return fmt.Sprintf("flapping since %s, %d changes", f.Since.UTC().Format(time.RFC3339), f.Count)
}

// Inhibition is one inhibit entry's state in one scope (the values of
// its equal fields): the open incidents of its sources, and the targets
// held back while any is open.
type Inhibition struct {
	Sources []string     `json:"sources,omitempty"`
	Held    []HeldTarget `json:"held,omitempty"`
	// Cleared are the targets that cleared while held: the last source's
	// resolve reports them.
	Cleared []string `json:"cleared,omitempty"`
}

// maxHeldTargets bounds what one inhibition holds: a target beyond it is
// told.
const maxHeldTargets = 1000

// HeldTarget is an event held by an inhibition.
type HeldTarget struct {
	Key   string          `json:"key"`
	Event json.RawMessage `json:"event"`
	Since time.Time       `json:"since"`
	Count int             `json:"count"`
}

// InhibitionID is the record of inhibit entry name in scope.
func InhibitionID(name, scope string) string { return InhibitionKind.ID(name + "/" + scope) }

// Seen is the recent reports of one key by the nodes of a cluster.
type Seen struct {
	Reports []Report `json:"reports"`
}

// Report is one report of a key: its action and event time.
type Report struct {
	Action string    `json:"action"`
	At     time.Time `json:"at"`
}

// SeenID is the record of key's recent reports.
func SeenID(key string) string { return SeenKind.ID(key) }

// crossNode reports whether ev is a Pacemaker alert that every node of a
// cluster reports: a node joining or leaving, a fencing.
func crossNode(ev *event.Event) bool {
	return ev.Source == event.SourcePacemaker && (ev.Kind == event.KindNode || ev.Kind == event.KindFencing)
}

// seenBefore records ev's report of its key and says when another node
// already reported the same: the same action within window of its event
// time, with no other action between the two. recs must hold SeenID.
func seenBefore(recs map[string]*Record, ev *event.Event, window time.Duration, now time.Time) (time.Time, bool) {
	id := SeenID(ev.Key)
	s, _ := SeenKind.Get(recs, id) // unreadable: nothing seen
	s.Reports = slices.DeleteFunc(s.Reports, func(r Report) bool { return r.At.Before(ev.Time.Add(-2 * window)) })
	var dup time.Time
	found := false
	for _, r := range s.Reports {
		if r.Action != ev.Action || r.At.Sub(ev.Time).Abs() > window {
			continue
		}
		lo, hi := r.At, ev.Time
		if hi.Before(lo) {
			lo, hi = hi, lo
		}
		between := slices.ContainsFunc(s.Reports, func(o Report) bool {
			return o.Action != ev.Action && o.At.After(lo) && o.At.Before(hi)
		})
		if !between {
			dup, found = r.At, true
			break
		}
	}
	if !found {
		s.Reports = append(s.Reports, Report{Action: ev.Action, At: ev.Time})
		slices.SortFunc(s.Reports, func(a, b Report) int { return a.At.Compare(b.At) })
	}
	_ = SeenKind.Put(recs, id, s, now.Add(2*window+time.Hour)) // always encodes
	return dup, found
}

// mayBeDue says the decision of in may make something due (hold an
// event, join a group, hold a notification for a rate cap, release
// what an inhibition held, change a group): it then names the due
// index, and lowers it. With a store shared by several nodes (Redis)
// every id named is a lock every decision naming it waits for, so the
// others leave it out (DueAlways false) and read it without the lock.
func mayBeDue(in Input) bool {
	d := in.Decision
	if in.DueAlways || in.Release != nil || len(rateIDs(in)) > 0 {
		return true
	}
	if in.Event.Action == event.ActionRemove {
		// A clear may be held (flapping), release an inhibition's
		// targets, or change a group.
		return d.FlapTracked || len(d.Inhibits) > 0 || len(in.ClearIDs) > 0
	}
	// A raise may be held (a silence, a mute, flapping) or join a group.
	// (One that no rule damps, of a key still flapping from a rule that
	// did, is held without the index: a flush tells it.)
	if in.Silence != nil || len(d.Muted) > 0 {
		return true
	}
	for _, h := range d.Hits {
		if h.Group != nil || h.Flapping != nil {
			return true
		}
	}
	return false
}

// stormIDs are the records the storm features read for in.
func stormIDs(in Input) []string {
	ev, d := in.Event, in.Decision
	ids := []string{HeldID(ev.Key)}
	if mayBeDue(in) {
		ids = append(ids, DueID())
	}
	if d.FlapTracked {
		ids = append(ids, FlapID(ev.Key))
	}
	for _, h := range d.Inhibits {
		ids = append(ids, InhibitionID(h.Name, h.Scope))
	}
	if in.DedupWindow > 0 && crossNode(ev) && in.Release == nil {
		ids = append(ids, SeenID(ev.Key))
	}
	for _, h := range d.Hits {
		if h.Group != nil {
			ids = append(ids, GroupID(h.Rule, h.Group.By))
		}
	}
	ids = append(ids, rateIDs(in)...)
	return append(ids, in.ClearIDs...)
}

// heldFor is the Planned of every delivery d would make, not made for
// outcome and reason.
func heldFor(d *engine.Decision, outcome Outcome, reason string) []Planned {
	out := make([]Planned, 0, len(d.Deliveries))
	for _, del := range d.Deliveries {
		out = append(out, Planned{Delivery: del, Outcome: outcome, Reason: reason})
	}
	for _, h := range d.Hits {
		out = append(out, escalationOnly(d, h, outcome, reason)...)
	}
	return out
}

// inhibitedBy says which open source of another key inhibits ev, if
// any: the entry's name and the source's key.
func inhibitedBy(d *engine.Decision, recs map[string]*Record, key string) (name, source, id string) {
	for _, h := range d.Inhibits {
		if !h.Target {
			continue
		}
		id := InhibitionID(h.Name, h.Scope)
		inh, _ := InhibitionKind.Get(recs, id)
		if len(inh.Held) >= maxHeldTargets && !slices.ContainsFunc(inh.Held, func(t HeldTarget) bool { return t.Key == key }) {
			continue // full: told, rather than held without bound
		}
		for _, s := range inh.Sources {
			if s != key { // an event never inhibits itself
				return h.Name, s, id
			}
		}
	}
	return "", "", ""
}

// holdTarget keeps ev in the inhibition record id, held.
func holdTarget(recs map[string]*Record, id string, ev *event.Event, now time.Time) error {
	inh, _ := InhibitionKind.Get(recs, id)
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("state: hold %s: %w", ev.Key, err)
	}
	i := slices.IndexFunc(inh.Held, func(t HeldTarget) bool { return t.Key == ev.Key })
	if i < 0 {
		inh.Held = append(inh.Held, HeldTarget{Key: ev.Key, Since: now})
		i = len(inh.Held) - 1
	}
	inh.Held[i].Event, inh.Held[i].Count = data, inh.Held[i].Count+1
	inh.Cleared = slices.DeleteFunc(inh.Cleared, func(k string) bool { return k == ev.Key })
	return InhibitionKind.Put(recs, id, inh, now.Add(IncidentTTL))
}

// registerSource records ev's open incident as a source of the inhibit
// entries it matches.
func registerSource(d *engine.Decision, recs map[string]*Record, key string, now time.Time) error {
	for _, h := range d.Inhibits {
		if !h.Source {
			continue
		}
		id := InhibitionID(h.Name, h.Scope)
		inh, _ := InhibitionKind.Get(recs, id)
		if slices.Contains(inh.Sources, key) {
			continue
		}
		inh.Sources = append(inh.Sources, key)
		if err := InhibitionKind.Put(recs, id, inh, now.Add(IncidentTTL)); err != nil {
			return err
		}
	}
	return nil
}

// inhibitionOnClear does what a clear of key means to the inhibitions of
// its scopes: a held target that clears was never told, and the last
// source's resolve reports it; a source that resolves ends its hold, and
// when it was the last one the targets still held are released, to be
// decided again now. It returns whether key was a held target, and what
// the resolve should say about targets that cleared meanwhile.
func inhibitionOnClear(d *engine.Decision, recs map[string]*Record, key string, now time.Time, res *Result) (wasHeld bool, note string, err error) {
	var cleared []string
	for _, h := range d.Inhibits {
		id := InhibitionID(h.Name, h.Scope)
		inh, ok := InhibitionKind.Get(recs, id)
		if !ok {
			continue
		}
		if i := slices.IndexFunc(inh.Held, func(t HeldTarget) bool { return t.Key == key }); i >= 0 {
			inh.Held = slices.Delete(inh.Held, i, i+1)
			inh.Cleared = append(inh.Cleared, key)
			wasHeld = true
		}
		if i := slices.Index(inh.Sources, key); i >= 0 {
			inh.Sources = slices.Delete(inh.Sources, i, i+1)
			if len(inh.Sources) == 0 {
				for _, t := range inh.Held {
					reason := fmt.Sprintf("held since %s by inhibit %s (source %s, %d occurrences held), which resolved", t.Since.UTC().Format(time.RFC3339), h.Name, key, t.Count)
					rel := Held{Key: t.Key, Event: t.Event, Why: HeldInhibited, Reason: reason, Since: t.Since, Due: now}
					if err := HeldKind.Put(recs, HeldID(t.Key), rel, now.Add(IncidentTTL)); err != nil {
						return false, "", err
					}
					res.Released++
					res.dueAt(now)
				}
				cleared = append(cleared, inh.Cleared...)
				inh.Held, inh.Cleared = nil, nil
			}
		}
		if len(inh.Sources)+len(inh.Held) == 0 {
			recs[id] = nil
		} else if err := InhibitionKind.Put(recs, id, inh, now.Add(IncidentTTL)); err != nil {
			return false, "", err
		}
	}
	if len(cleared) > 0 {
		note = "cleared while held by this incident: " + strings.Join(cleared, ", ")
	}
	return wasHeld, note, nil
}

// flapVerdict is what flap damping makes of a raise.
type flapVerdict struct {
	held    bool // held: nothing more is decided
	force   bool // tell, whatever the suppression window says
	outcome Outcome
	reason  string // replaces the notifications' reason, when note is set
	note    string // the messages say it
}

// damping is the rule whose flapping damps this raise, or nil.
func damping(d *engine.Decision) *engine.Hit {
	for i := range d.Hits {
		if d.Hits[i].Flapping != nil && d.Hits[i].Muted == "" {
			return &d.Hits[i]
		}
	}
	return nil
}

// flapOnRaise counts a raise toward its key's flapping: the change that
// makes it flap is told as a notice, and the raises while it flaps are
// held until it has been quiet long enough; then the held one is
// released and told (still raised).
func flapOnRaise(in Input, d *engine.Decision, recs map[string]*Record, res *Result) (flapVerdict, error) {
	var fv flapVerdict
	if !d.FlapTracked {
		return fv, nil
	}
	id := FlapID(in.Event.Key)
	f, ok := FlapKind.Get(recs, id)
	releasing := in.Release != nil && in.Release.Held.Why == HeldFlapping
	h := damping(d)
	if h == nil && !(ok && f.Flapping) {
		if ok && !releasing && f.change(true, in.Now) {
			return fv, FlapKind.Put(recs, id, f, f.expires())
		}
		return fv, nil
	}
	if h != nil {
		f.Spec, f.Rule = *h.Flapping, h.Rule
	}
	switch {
	case releasing && f.Flapping && !in.Now.Before(f.quietAt()):
		fv.force, fv.outcome = true, OutcomeFirst
		fv.reason = fmt.Sprintf("stopped flapping (%s); raised since %s", f.describe(), f.Last.UTC().Format(time.RFC3339))
		fv.note = "stopped flapping, still raised"
		f.Flapping, f.Changes, f.Count, f.Since = false, nil, 0, time.Time{}
	case releasing && !f.Flapping:
		// Damped no more (the policy changed): decided as usual.
	default:
		changed := !releasing && f.change(true, in.Now)
		if f.Flapping {
			fv.held = true
			res.Skip = append(res.Skip, heldFor(d, OutcomeFlapping, fmt.Sprintf("%s; held until quiet for %s", f.describe(), f.Spec.Quiet))...)
			if err := hold(recs, res, in.Event, HeldFlapping, f.describe(), in.Now, f.quietAt()); err != nil {
				return fv, err
			}
		} else if changed && len(f.Changes) >= f.Spec.Changes {
			f.Flapping, f.Since, f.Count = true, in.Now, len(f.Changes)
			fv.force, fv.outcome = true, OutcomeFlapping
			fv.reason = f.noticeReason()
			fv.note = f.notice()
			if err := hold(recs, res, in.Event, HeldFlapping, f.describe(), in.Now, f.quietAt()); err != nil {
				return fv, err
			}
		}
	}
	return fv, FlapKind.Put(recs, id, f, f.expires())
}

// flapOnClear counts a clear toward its key's flapping: the change that
// makes it flap is told to the channels the incident told, as a notice,
// and the clears while it flaps are held (the incident stays open) until
// it has been quiet long enough; then the held clear is released and
// resolves the incident. note is what that resolve says.
func flapOnClear(in Input, recs map[string]*Record, inc *Incident, res *Result) (held bool, note string, err error) {
	if !in.Decision.FlapTracked {
		return false, "", nil
	}
	ev := in.Event
	id := FlapID(ev.Key)
	f, ok := FlapKind.Get(recs, id)
	if !ok {
		return false, "", nil
	}
	releasing := in.Release != nil && in.Release.Held.Why == HeldFlapping
	switch {
	case releasing && f.Flapping && !in.Now.Before(f.quietAt()):
		note = fmt.Sprintf("stopped flapping (%s); cleared since %s", f.describe(), f.Last.UTC().Format(time.RFC3339))
		f.Flapping, f.Changes, f.Count, f.Since = false, nil, 0, time.Time{}
		return false, note, FlapKind.Put(recs, id, f, f.expires())
	case releasing && !f.Flapping:
		return false, "", nil
	}
	changed := !releasing && f.change(false, in.Now)
	if !f.Flapping && !(changed && len(f.Changes) >= f.Spec.Changes) {
		return false, "", FlapKind.Put(recs, id, f, f.expires())
	}
	var told []Told
	if inc != nil {
		told = inc.Told
	}
	if !f.Flapping {
		f.Flapping, f.Since, f.Count = true, in.Now, len(f.Changes)
		if inc != nil {
			// A member of groups: that it flaps their next notifications
			// say, with the member; its clear is held in them.
			for _, g := range inc.Groups {
				if err := noteMember(in, g, recs, res, ev.Key, f.notice()); err != nil {
					return false, "", err
				}
			}
		}
		var send []Planned
		for _, t := range told {
			send = append(send, Planned{
				Delivery: engine.Delivery{Channel: t.Channel, Type: t.Type, Action: engine.DeliveryAction(t.Type, event.ActionNew), Rule: f.Rule},
				Outcome:  OutcomeFlapping,
				Reason:   f.noticeReason(),
				Note:     f.notice(),
			})
		}
		capped := Result{Send: send}
		if _, err := capRates(in, &capped, recs, true); err != nil {
			return false, "", err
		}
		res.Skip = append(res.Skip, capped.Skip...)
		if len(capped.Send) > 0 {
			inc.tell(capped.Send)
			if err := IncidentKind.Put(recs, IncidentID(ev.Key), *inc, in.Now.Add(IncidentTTL)); err != nil {
				return false, "", err
			}
			res.Send = append(res.Send, capped.Send...)
		}
	}
	for _, t := range told {
		res.Skip = append(res.Skip, Planned{
			Delivery: engine.Delivery{Channel: t.Channel, Type: t.Type, Action: engine.DeliverResolve, Rule: "resolve"},
			Outcome:  OutcomeFlapping, Reason: fmt.Sprintf("%s; the resolve is held until quiet for %s", f.describe(), f.Spec.Quiet),
		})
	}
	for _, g := range memberOf(in, inc, recs) {
		for _, d := range g.Deliveries {
			d.Action = engine.DeliverResolve
			res.Skip = append(res.Skip, Planned{Delivery: d, Outcome: OutcomeFlapping, Key: g.Key,
				Reason: fmt.Sprintf("%s; its clear is held in group %s until quiet for %s", f.describe(), g.By, f.Spec.Quiet)})
		}
	}
	// The clear is held here: a release of the key by an inhibition must
	// not tell its older raise in its place.
	dropHeldTarget(in.Decision, recs, ev.Key, in.Now)
	if err := hold(recs, res, ev, HeldFlapping, f.describe(), in.Now, f.quietAt()); err != nil {
		return false, "", err
	}
	return true, "", FlapKind.Put(recs, id, f, f.expires())
}

// memberOf is the groups inc's key is a member of that were read.
func memberOf(in Input, inc *Incident, recs map[string]*Record) []Group {
	if inc == nil {
		return nil
	}
	var out []Group
	for _, ref := range inc.Groups {
		if slices.Contains(in.ClearIDs, ref.ID) {
			if g, ok := getGroup(recs, ref.ID); ok {
				out = append(out, g)
			}
		}
	}
	return out
}

// dropHeldTarget removes key from the targets the inhibitions of its
// scopes hold: it is held elsewhere now, as it is.
func dropHeldTarget(d *engine.Decision, recs map[string]*Record, key string, now time.Time) {
	for _, h := range d.Inhibits {
		id := InhibitionID(h.Name, h.Scope)
		inh, ok := InhibitionKind.Get(recs, id)
		if !ok {
			continue
		}
		n := len(inh.Held)
		inh.Held = slices.DeleteFunc(inh.Held, func(t HeldTarget) bool { return t.Key == key })
		if len(inh.Held) != n {
			_ = InhibitionKind.Put(recs, id, inh, now.Add(IncidentTTL)) // always encodes
		}
	}
}
