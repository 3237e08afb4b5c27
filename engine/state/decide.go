package state

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// Window is one rule's suppression and escalation state for one key.
type Window struct {
	LastNotified time.Time `json:"last_notified,omitzero"`
	Suppressed   int       `json:"suppressed,omitempty"` // occurrences suppressed since LastNotified
	First        time.Time `json:"first,omitzero"`       // start of the escalation window
	Count        int       `json:"count,omitempty"`      // occurrences in it, suppressed ones included
	Escalated    bool      `json:"escalated,omitempty"`  // escalated in this window already
	Policy       string    `json:"policy,omitempty"`     // the PolicyID that wrote it last
	// Live and EscalationLive count the notifications that started the
	// window at LastNotified (the escalation at First) and are not dead
	// letters: delivered or still queued. Only when the last of them is
	// given up does Undo reopen the window — one channel's dead letter
	// must not reopen it for the channels that were told. 0 in a record
	// written before they existed: the first dead letter undoes.
	Live           int `json:"live,omitempty"`
	EscalationLive int `json:"escalation_live,omitempty"`
}

// Verdict is what one occurrence gets.
type Verdict struct {
	Notify     bool      // tell the rule's channels
	Suppressed int       // Notify: how many were suppressed since the last notification; else: so far, this one included
	Until      time.Time // !Notify: when the suppression window ends
	Escalate   bool      // also tell the escalation channels
	Occurrence int       // this occurrence's number in the escalation window
}

// Decide is the whole of suppression and escalation, for one occurrence
// of a key at now. It is pure: the stores only keep its Window.
//
// Suppression: the first occurrence notifies; repeats within suppressFor
// of the last notification are suppressed and counted; the first after
// the window notifies again, with the count. Escalation: occurrences are
// counted in windows of escalateWithin starting at the first; the
// escalateAfter-th of a window escalates, once. A zero duration or count
// turns that half off.
func Decide(w Window, now time.Time, suppressFor time.Duration, escalateAfter int, escalateWithin time.Duration) (Verdict, Window) {
	var v Verdict
	if escalateAfter > 0 && escalateWithin > 0 {
		// A clock slightly behind the one that opened the window (another
		// node sharing Redis) is inside it: only a time past the window's
		// end, or as far before its start, opens a new one.
		if w.First.IsZero() || !now.Before(w.First.Add(escalateWithin)) || !now.After(w.First.Add(-escalateWithin)) {
			w.First, w.Count, w.Escalated = now, 0, false
		}
		w.Count++
		v.Occurrence = w.Count
		if w.Count >= escalateAfter && !w.Escalated {
			v.Escalate, w.Escalated = true, true
		}
	}
	if suppressFor > 0 && !w.LastNotified.IsZero() && now.Before(w.LastNotified.Add(suppressFor)) && now.After(w.LastNotified.Add(-suppressFor)) {
		w.Suppressed++
		v.Suppressed, v.Until = w.Suppressed, w.LastNotified.Add(suppressFor)
		return v, w
	}
	v.Notify, v.Suppressed = true, w.Suppressed
	w.LastNotified, w.Suppressed = now, 0
	return v, w
}

// expires says when a window stops mattering. With occurrences held
// back it outlives the suppression: the next notification, whenever it
// comes, says how many there were ("first after 3 suppressed"); the
// incident's resolve deletes it sooner.
func (w Window) expires(suppressFor, escalateWithin time.Duration) time.Time {
	end := w.LastNotified.Add(suppressFor)
	if e := w.First.Add(escalateWithin); e.After(end) {
		end = e
	}
	if e := w.LastNotified.Add(IncidentTTL); w.Suppressed > 0 && e.After(end) {
		end = e
	}
	return end
}

// Planned is one delivery with the reason for it, or for not making it.
type Planned struct {
	engine.Delivery
	// Outcome is the kind of decision, for history.
	Outcome    Outcome `json:"outcome"`
	Reason     string  `json:"reason"`
	Suppressed int     `json:"suppressed,omitempty"` // occurrences suppressed before this notification
	Ref        string  `json:"ref,omitempty"`        // resolve: the channel's reference to the original message
	// Opened is what this notification started in the state, kept with
	// its outbox entry so that a dead letter undoes it (see Undo).
	Opened Opened `json:"-"`
	// Told is, for a resolve, the rule that last told the channel
	// (Told.Rule): see Templates.
	Told string `json:"-"`
	// Note is what the message says after its summary: why it is sent
	// now ("flapping: 4 changes within 30m").
	Note string `json:"note,omitempty"`
	// Key, when set, is the key the notification is about instead of
	// the event's: a group's (GroupKey).
	Key string `json:"key,omitempty"`
	// Digest, for a group's notification, is what it tells.
	Digest *Digest `json:"-"`
}

// dueAt notes that something this decision did is due at t.
func (r *Result) dueAt(t time.Time) {
	if !t.IsZero() && (r.Due.IsZero() || t.Before(r.Due)) {
		r.Due = t
	}
}

// KeyOr is the key the notification is about: Key, else the event's,
// key.
func (p Planned) KeyOr(key string) string {
	if p.Key != "" {
		return p.Key
	}
	return key
}

// Templates names the rule whose templates render the message: the
// delivery's own rule, but for a resolve the rule whose notification it
// resolves — Delivery.Rule is "resolve" there, for what channels show —
// and "" (the channel's own templates) when the incident's record did
// not say (written before Told.Rule existed).
func (p Planned) Templates() string {
	if p.Outcome == OutcomeResolved {
		return p.Told
	}
	return p.Rule
}

// Input is everything the stateful decision depends on besides records.
type Input struct {
	Event    *event.Event
	Decision *engine.Decision
	Silence  *Silence // the first active silence matching the event, if any
	Now      time.Time
	// Occurrence identifies this very alert when the caller runs notifier
	// more than once for it — Pacemaker runs one process per recipient —
	// so each rule acts on it once: the second invocation's rules that
	// already acted are "duplicate", not a second notification and not a
	// second count toward suppression or escalation. "" for none.
	Occurrence string
	// FormerOccurrence is the same alert's identity as the other version
	// makes it (engine/pacemaker's hash was SHA-256 before 2026-12, and
	// is FNV-1a since): its record is read, never written, so that for
	// OccurrenceTTL after an upgrade an alert that invocations of both
	// versions decide is told once. "" for none.
	FormerOccurrence string
	// Policy is the deciding policy's PolicyID, kept in the records it
	// writes; "" leaves them unmarked (explain, tests).
	Policy string
	// DedupWindow is settings.dedup_window: a Pacemaker node or fencing
	// alert another node reported within it is a duplicate. 0: off.
	DedupWindow time.Duration
	// ClearIDs are, for a clear, the records its incident says it needs
	// (ClearIDs of its incident record, read before the transaction).
	ClearIDs []string
	// Rates are the policy's channel rate caps, by channel.
	Rates map[string]policy.RateSpec
	// DueAlways names the due index in every decision (mayBeDue): for a
	// store whose transactions lock it whole anyway (bbolt).
	DueAlways bool
	// Engine says a resident engine keeps the timers: a group's first
	// notification waits for its wait. Without one it is sent at once.
	Engine bool
	// Release, when set, says the event is a held one decided again
	// (Held): it is no new occurrence, and what held it is over or is
	// held again.
	Release *Release
	// Entry is the id of the spool entry the event came from: the
	// decision records it (DecidedID), and a decision of an entry already
	// recorded is none (Result.AlreadyDecided). "" for none.
	Entry string
}

// Result is the stateful decision.
type Result struct {
	Send []Planned // deliver these
	Skip []Planned // not delivered, and why (suppressed, silenced, muted)
	// SharedWith names the other policies on this host whose records
	// this decision read: two policies sharing a state file suppress and
	// resolve each other's alerts (see PolicyID).
	SharedWith []string
	// Groups are the records of the groups the event joined: a group's
	// notification may be due at once (no engine).
	Groups []string
	// Due is when the first thing this decision held or grouped is due
	// (a group's notification, a held event's release); zero for none:
	// the engine's timer is set for it.
	Due time.Time
	// DueIndex is the due index as this decision left it: a run without
	// an engine looks for what is due only once it has come.
	DueIndex time.Time
	// Released counts the held events this decision released, due now
	// (the targets of an inhibition whose last source resolved): they are
	// decided again by the run's releaseHeld.
	Released int
	// AlreadyDecided says Input.Entry was decided before (claimed again
	// after a crash between its decision's commit and its delete): Send
	// and Skip are empty, and no record was changed.
	AlreadyDecided bool
}

// PolicyID identifies a policy for the records it writes: the host and
// the policy's path. A record written on this host by a policy at
// another path means two policies share one state — a Pacemaker
// recipient with its own NOTIFIER_CONFIG and the default state.path,
// say — which the operator must hear about. Other hosts (Redis) run the
// same policy wherever it lives, so they never count.
func PolicyID(host, path string) string { return host + ":" + path }

// PolicyPath is the policy path of a PolicyID.
func PolicyPath(id string) string {
	_, path, _ := strings.Cut(id, ":")
	return path
}

// noteShared records, once, a record written by another policy here.
func (r *Result) noteShared(mine, theirs string) {
	if mine == "" || theirs == "" || mine == theirs || slices.Contains(r.SharedWith, theirs) {
		return
	}
	myHost, _, _ := strings.Cut(mine, ":")
	host, _, _ := strings.Cut(theirs, ":")
	if host == myHost {
		r.SharedWith = append(r.SharedWith, theirs)
	}
}

// WindowID is the record of one rule's window for a suppression key,
// bounded (MaxIDLen).
func WindowID(rule, key string) string { return WindowKind.ID(rule + "/" + key) }

// IDs lists the records Apply reads and writes for in.
func IDs(in Input) []string {
	ids := []string{IncidentID(in.Event.Key)}
	if in.Entry != "" {
		ids = append(ids, DecidedID(in.Entry))
	}
	if in.Occurrence != "" {
		ids = append(ids, OccurrenceID(in.Occurrence), legacyOccurrenceID(in.Occurrence))
		if in.FormerOccurrence != "" {
			ids = append(ids, OccurrenceID(in.FormerOccurrence), legacyOccurrenceID(in.FormerOccurrence))
		}
	}
	for _, h := range in.Decision.Hits {
		if id := windowOf(h, in.Event); id != "" {
			ids = append(ids, id)
		}
	}
	ids = append(ids, stormIDs(in)...)
	slices.Sort(ids)
	return slices.Compact(ids)
}

func windowOf(h engine.Hit, ev *event.Event) string {
	if h.SuppressFor <= 0 && h.EscalateAfter <= 0 {
		return ""
	}
	key := h.SuppressKey
	if key == "" {
		key = ev.Key
	}
	return WindowID(h.Rule, key)
}

// Apply decides, from the policy's decision and the records, what is
// sent and what is not, and updates the records in place. It is pure but
// for recs, so explain can run it on a copy. With an Entry it records
// the entry as decided, or, when it already is, decides nothing.
func Apply(in Input, recs map[string]*Record) (res Result, err error) {
	defer func() {
		if err == nil && mayBeDue(in) { // else the index is not named
			noteDue(recs, res.Due)
			res.DueIndex = DueAt(recs)
		}
	}()
	if in.Entry == "" {
		return apply(in, recs)
	}
	id := DecidedID(in.Entry)
	if recs[id].Live(in.Now) {
		// Any record, even one that no longer decodes: deciding an entry
		// twice would page twice, and the record's only content that
		// matters is that it exists.
		return Result{AlreadyDecided: true}, nil
	}
	res, err = apply(in, recs)
	if err != nil {
		return res, err
	}
	return res, DecidedKind.Put(recs, id, Decided{Entry: in.Entry, Key: in.Event.Key, Decided: in.Now}, in.Now.Add(DecidedTTL))
}

func apply(in Input, recs map[string]*Record) (Result, error) {
	var res Result
	ev, d := in.Event, in.Decision
	if in.Occurrence != "" && ev.Action != event.ActionRemove {
		// (A resolve needs no such guard: the first invocation closes the
		// incident, the others find none.)
		var dup []Planned
		d, dup = firstInvocation(d, recs, in.Occurrence, in.FormerOccurrence, in.Now)
		res.Skip = append(res.Skip, dup...)
	}
	if in.DedupWindow > 0 && crossNode(ev) && in.Release == nil {
		// Every node of the cluster reports a node loss or a fencing:
		// the first report is the occurrence, with or without suppress.
		if at, dup := seenBefore(recs, ev, in.DedupWindow, in.Now); dup {
			reason := fmt.Sprintf("already reported by another node (%s at %s)", ev.Action, at.UTC().Format(time.RFC3339Nano))
			res.Skip = append(res.Skip, heldFor(d, OutcomeDuplicate, reason)...)
			return res, nil
		}
	}
	incID := IncidentID(ev.Key)
	var inc *Incident
	if v, ok := IncidentKind.Get(recs, incID); ok {
		inc = &v // an unreadable record is no incident; it is replaced below
		res.noteShared(in.Policy, inc.Policy)
	}
	if ev.Action == event.ActionRemove {
		return applyClear(in, d, recs, inc, res)
	}
	prior := recs[HeldID(ev.Key)] // what was held for the key before this decision
	if in.Silence == nil {
		// Silences first, then inhibitions, then the rules' own mutes.
		if name, source, id := inhibitedBy(d, recs, ev.Key); name != "" && len(d.Hits) > 0 {
			res.Skip = append(res.Skip, heldFor(d, OutcomeInhibited, "inhibited by "+name+", "+source)...)
			if prior != nil {
				recs[HeldID(ev.Key)] = nil // held here now, as it is: an older event must not be told in its place
			}
			return res, holdTarget(recs, id, ev, in.Now)
		}
	}
	for _, m := range d.Muted {
		res.Skip = append(res.Skip, Planned{Delivery: m, Outcome: OutcomeMuted, Reason: m.Reason})
	}
	if s := in.Silence; s != nil {
		for _, del := range d.Deliveries {
			res.Skip = append(res.Skip, Planned{Delivery: del, Outcome: OutcomeSilenced, Reason: "silenced by " + s.ID})
		}
		for _, h := range d.Hits {
			res.Skip = append(res.Skip, escalationOnly(d, h, OutcomeSilenced, "silenced by "+s.ID)...)
		}
		if len(d.Deliveries) > 0 && !s.Expires.IsZero() {
			// Told when the silence ends, if still open then.
			return res, hold(recs, &res, ev, HeldSilenced, SilencedBy(s.ID), in.Now, s.Expires)
		}
		return res, nil
	}
	flap, err := flapOnRaise(in, d, recs, &res)
	if err != nil || flap.held {
		return res, err
	}
	if cur := recs[HeldID(ev.Key)]; cur != nil && cur == prior {
		// Decided now, not held (what this decision held it wrote anew):
		// an older event held for a silence, a mute, an inhibition or a
		// flapping that ended must not be told after it.
		recs[HeldID(ev.Key)] = nil
	}
	told := map[string]bool{}
	var windows []string
	var groups []GroupRef // the groups the event joined
	for _, h := range d.Hits {
		if h.Muted != "" {
			res.Skip = append(res.Skip, escalationOnly(d, h, OutcomeMuted, h.Muted)...)
			continue
		}
		v := Verdict{Notify: true}
		var w Window
		id := windowOf(h, ev)
		if id != "" {
			if old, ok := WindowKind.Get(recs, id); ok { // unreadable: start afresh
				w = old
				res.noteShared(in.Policy, w.Policy)
			}
			v, w = Decide(w, in.Now, h.SuppressFor, h.EscalateAfter, h.EscalateWithin)
			if !v.Notify && flap.force {
				// What flap damping tells is told: a suppression window
				// must not swallow it.
				v.Notify, v.Suppressed = true, w.Suppressed-1
				w.LastNotified, w.Suppressed = in.Now, 0
			}
			w.Policy = in.Policy
			if v.Notify {
				w.Live = 0 // counted below, per notification sent
			}
			if h.SuppressKey == "" || h.SuppressKey == ev.Key {
				// Only the event's own windows end with its incident: a
				// window shared by several keys (suppress.key) outlives it.
				windows = append(windows, id)
			}
		}
		toward := ""
		if h.EscalateAfter > 0 && !v.Escalate && v.Occurrence > 0 {
			toward = fmt.Sprintf("; occurrence %d of %d toward escalation within %s", v.Occurrence, h.EscalateAfter, h.EscalateWithin)
		}
		var grouped []Planned // the rule's notifications, told by its group
		for _, del := range d.Deliveries {
			if del.Rule != h.Rule {
				continue
			}
			p := Planned{Delivery: del, Outcome: OutcomeFirst, Suppressed: v.Suppressed}
			if id != "" && h.SuppressFor > 0 {
				p.Opened = Opened{Window: id, At: w.LastNotified}
			}
			switch {
			case !v.Notify:
				p.Outcome = OutcomeSuppressed
				p.Reason = fmt.Sprintf("suppressed until %s (%d so far)%s", v.Until.UTC().Format(time.RFC3339), v.Suppressed, toward)
				res.Skip = append(res.Skip, p)
				continue
			case v.Suppressed > 0:
				p.Reason = fmt.Sprintf("first after %d suppressed%s", v.Suppressed, toward)
			default:
				p.Reason = "first" + toward
			}
			if flap.note != "" {
				p.Outcome, p.Reason, p.Note = flap.outcome, flap.reason, flap.note
			}
			if h.Group != nil {
				grouped = append(grouped, p)
				continue
			}
			told[del.Channel] = true
			if p.Opened.Window != "" {
				w.Live++
			}
			res.Send = append(res.Send, p)
		}
		if len(grouped) > 0 {
			dels := make([]engine.Delivery, len(grouped))
			for i, p := range grouped {
				dels[i] = p.Delivery
			}
			// That it flaps (or stopped) the group's next notification
			// says, with the member.
			id, key, due, err := joinGroup(in, h, dels, flap.note, recs)
			if err != nil {
				return res, err
			}
			if id != "" {
				res.dueAt(due)
			}
			for _, p := range grouped {
				if id == "" { // the group is full: told on its own
					told[p.Channel] = true
					res.Send = append(res.Send, p)
					continue
				}
				p.Outcome, p.Key = OutcomeGrouped, key
				p.Reason = fmt.Sprintf("grouped into %s (%s); told with its next notification, due %s", key, p.Reason, due.UTC().Format(time.RFC3339))
				res.Skip = append(res.Skip, p)
			}
			if id != "" {
				groups = append(groups, GroupRef{ID: id, Key: key})
				res.Groups = append(res.Groups, id)
			}
		}
		if v.Escalate {
			w.EscalationLive = 0
			for _, del := range h.Escalation {
				if told[del.Channel] {
					continue
				}
				told[del.Channel] = true
				if id != "" {
					w.EscalationLive++
				}
				res.Send = append(res.Send, Planned{Delivery: del, Outcome: OutcomeEscalated, Reason: fmt.Sprintf("escalated: occurrence %d of %d within %s", v.Occurrence, h.EscalateAfter, h.EscalateWithin),
					Opened: Opened{Window: id, At: w.First, Escalation: true}})
			}
		} else if v.Occurrence > 0 {
			res.Skip = append(res.Skip, escalationOnly(d, h, OutcomeCounted, strings.TrimPrefix(toward, "; "))...)
		}
		if id != "" {
			if err := WindowKind.Put(recs, id, w, w.expires(h.SuppressFor, h.EscalateWithin)); err != nil {
				return res, err
			}
		}
	}
	if len(res.Send) == 0 && len(d.Muted) > 0 && !d.MutedUntil.IsZero() && allMuted(d) {
		// Nobody was told: told when the mute ends, if still open then.
		if err := hold(recs, &res, ev, HeldMuted, d.Muted[0].Reason, in.Now, d.MutedUntil); err != nil {
			return res, err
		}
	}
	rated, err := capRates(in, &res, recs, false)
	if err != nil {
		return res, err
	}
	groups = append(groups, rated...)
	released(in, &res)
	if len(res.Send) == 0 && len(windows) == 0 && len(groups) == 0 {
		return res, nil
	}
	if inc == nil {
		inc = &Incident{Key: ev.Key, Opened: in.Now}
	}
	inc.Policy = in.Policy
	for _, g := range groups {
		inc.addGroup(g)
	}
	inc.tell(res.Send)
	for _, id := range windows {
		if !slices.Contains(inc.Windows, id) {
			inc.Windows = append(inc.Windows, id)
		}
	}
	if len(inc.Told) == 0 {
		// Only suppressed so far (an earlier incident already resolved):
		// nothing to resolve later, but the windows must still clear.
		inc.Told = []Told{}
	}
	if err := registerSource(d, recs, ev.Key, in.Now); err != nil {
		return res, err
	}
	return res, IncidentKind.Put(recs, incID, *inc, in.Now.Add(IncidentTTL))
}

// allMuted says every hit of d is muted: only then is the event held to
// be told when the mute ends (deciding it again then must not count an
// unmuted rule's occurrence twice).
func allMuted(d *engine.Decision) bool {
	for _, h := range d.Hits {
		if h.Muted == "" {
			return false
		}
	}
	return len(d.Hits) > 0
}

// released says, in each notification of a held event decided again,
// what held it and since when.
func released(in Input, res *Result) {
	if in.Release == nil {
		return
	}
	h := in.Release.Held
	for i := range res.Send {
		res.Send[i].Reason += fmt.Sprintf("; held since %s (%s)", h.Since.UTC().Format(time.RFC3339), h.Reason)
	}
}

// applyClear is Apply for a recovery: it resolves exactly what the
// problem told, whatever the rules, silences and windows say now; a key
// never told gets no resolve. A flapping key's clear is held; a target
// held by an inhibition was never told; a source's resolve ends its
// inhibition.
func applyClear(in Input, d *engine.Decision, recs map[string]*Record, inc *Incident, res Result) (Result, error) {
	ev := in.Event
	held, flapNote, err := flapOnClear(in, recs, inc, &res)
	if err != nil || held {
		return res, err
	}
	if h, ok := HeldKind.Get(recs, HeldID(ev.Key)); ok && h.Why != HeldFlapping {
		// Held (silenced, muted, inhibited) and never told: it cleared
		// before anyone needed to hear of it.
		recs[HeldID(ev.Key)] = nil
	}
	wasHeld, note, err := inhibitionOnClear(d, recs, ev.Key, in.Now, &res)
	if err != nil {
		return res, err
	}
	if flapNote != "" {
		note = strings.TrimPrefix(note+"; "+flapNote, "; ")
	}
	if inc != nil {
		for _, g := range inc.Groups {
			if err := clearMember(in, g, recs, &res); err != nil {
				return res, err
			}
		}
	}
	if inc != nil && len(inc.Groups) > 0 && len(inc.Told) == 0 {
		// Told only as a member of its group: what it cleared is said
		// there.
	} else if inc == nil || len(inc.Told) == 0 {
		// Never told, or told only by notifications that were given
		// up (Undo): there is no alert to resolve.
		reason, outcome := "no open incident to resolve", OutcomeSkipped
		if wasHeld {
			reason, outcome = "cleared while inhibited: never told", OutcomeInhibited
		}
		for _, del := range d.Deliveries {
			res.Skip = append(res.Skip, Planned{Delivery: del, Outcome: outcome, Reason: reason})
		}
		if inc == nil {
			return res, nil
		}
	}
	for _, t := range inc.Told {
		p := Planned{
			Outcome:  OutcomeResolved,
			Delivery: engine.Delivery{Channel: t.Channel, Type: t.Type, Action: engine.DeliverResolve, Rule: "resolve"},
			Reason:   "resolves the incident opened " + inc.Opened.UTC().Format(time.RFC3339), Ref: t.Ref, Told: t.Rule,
		}
		if note != "" {
			p.Reason += "; " + note
			p.Note = note
		}
		res.Send = append(res.Send, p)
	}
	released(in, &res)
	for _, id := range inc.Windows {
		recs[id] = nil
	}
	recs[IncidentID(ev.Key)] = nil
	return res, nil
}

// escalationOnly is how a rule that only escalates (no notify of its
// own) shows in the plan when it does not escalate now: its escalation
// channels, not sent, and why — so history and explain say "occurrence 2
// of 3", "silenced", "muted", not "nobody".
func escalationOnly(d *engine.Decision, h engine.Hit, outcome Outcome, reason string) []Planned {
	if slices.ContainsFunc(d.Deliveries, func(del engine.Delivery) bool { return del.Rule == h.Rule }) ||
		slices.ContainsFunc(d.Muted, func(del engine.Delivery) bool { return del.Rule == h.Rule }) {
		return nil // the rule's own deliveries already say it
	}
	out := make([]Planned, 0, len(h.Escalation))
	for _, del := range h.Escalation {
		out = append(out, Planned{Delivery: del, Outcome: outcome, Reason: reason})
	}
	return out
}
