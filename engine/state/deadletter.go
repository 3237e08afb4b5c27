package state

import (
	"slices"
	"strings"
	"time"
)

// A dead letter is a notification nobody received. What its decision
// started must not stand as if it had been delivered: a suppression
// window must start only from a notification that was delivered or is
// still queued, or the next occurrence within `for` is "suppressed" and
// nobody is told at all. So when an entry becomes a dead letter, Settle
// undoes what it opened (Undo), and marks its channel as failing until a
// delivery to that channel succeeds; every run reports the mark (exit 1).

// Opened is what one notification started in the state.
type Opened struct {
	// Window is the rule's window record the notification wrote; At is
	// the LastNotified it set there or, for an escalation, the First of
	// the escalation window it escalated.
	Window     string    `json:"window,omitempty"`
	At         time.Time `json:"at,omitzero"`
	Escalation bool      `json:"escalation,omitempty"`
	// Incident: the notification added its channel to the key's
	// incident, so the recovery would resolve it there.
	Incident bool `json:"incident,omitempty"`
	// Counted is the Opened of the incident whose Told.Queued counts this
	// notification until it is delivered or given up: while another
	// notification to the channel about the key is queued — by any run —
	// a dead letter leaves the channel in the incident.
	Counted time.Time `json:"counted,omitzero"`
}

// FailureID is the record marking channel as having given a delivery up
// since its last success.
func FailureID(channel string) string { return FailureKind.ID(channel) }

// Failure is a channel's mark: its last delivery given up, and how many
// were given up since the last one that succeeded.
type Failure struct {
	Channel string    `json:"channel"`
	Key     string    `json:"key"`    // the event key of the last one
	Action  string    `json:"action"` // trigger, resolve or message
	At      time.Time `json:"at"`
	Error   string    `json:"error"`
	Count   int       `json:"count"`
}

// Failures decodes failure marks, ordered by channel.
func Failures(recs map[string]*Record) []Failure {
	var out []Failure
	for _, r := range recs {
		if f, ok := FailureKind.Decode(r); ok && f.Channel != "" && f.Count > 0 {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b Failure) int { return strings.Compare(a.Channel, b.Channel) })
	return out
}

// SettleIDs are the records Settle may change for e besides e itself,
// given its outcome o at now: a delivery puts its channel back in the
// incident (see Undo) and clears the channel's mark when marked says
// there is one; a dead letter undoes what it opened and marks its
// channel. A failure that stays queued changes none of them, and names
// none: under an outage every run has one, and the channel's mark must
// not become a lock they all wait for. They must be named in the Update
// that settles e.
func SettleIDs(e Entry, o Attempt, now time.Time, marked bool) []string {
	var ids []string
	switch {
	case o.Status == AttemptDelivered:
		if e.Action != "resolve" {
			ids = append(ids, IncidentID(e.Key))
		}
		if marked {
			ids = append(ids, FailureID(e.Channel))
		}
	case givesUp(e, o, now):
		if op := e.Opened; op != nil {
			if (op.Incident || !op.Counted.IsZero()) && e.Action != "resolve" {
				ids = append(ids, IncidentID(e.Key), SeenID(e.Key))
			}
			if op.Window != "" {
				ids = append(ids, op.Window)
			}
		}
		ids = append(ids, FailureID(e.Channel))
	case o.Status == AttemptRetryable && o.RetryAfter > 0:
		// The service said when to come back (a 429): a rate-capped
		// channel takes nothing new until then (see throttle).
		ids = append(ids, RateID(e.Channel))
	}
	return ids
}

// givesUp says whether Settle makes e a dead letter: a permanent failure,
// or one that kept failing for GiveUpAfter.
func givesUp(e Entry, o Attempt, now time.Time) bool {
	return o.Status == AttemptRejected || o.Status == AttemptRetryable && now.Sub(e.Created) >= GiveUpAfter
}

// delivered records a delivery in the records SettleIDs named: the
// channel has an open alert for the key, so the incident (if the key has
// one) must resolve it — a dead letter before it in the chain may have
// taken the channel out — and the channel's failure mark is cleared.
func delivered(recs map[string]*Record, e Entry) {
	if _, ok := recs[FailureID(e.Channel)]; ok {
		recs[FailureID(e.Channel)] = nil
	}
	if e.Action == "resolve" {
		return
	}
	id := IncidentID(e.Key)
	inc, ok := IncidentKind.Get(recs, id)
	if !ok {
		return
	}
	changed := uncount(&inc, e)
	if !slices.ContainsFunc(inc.Told, func(t Told) bool { return t.Channel == e.Channel }) {
		inc.Told, changed = append(inc.Told, Told{Channel: e.Channel, Type: e.Type, Rule: e.Rule}), true
	}
	if changed {
		_ = IncidentKind.Put(recs, id, inc, recs[id].Expires) // an Incident always encodes
	}
}

// uncount takes e, delivered or given up, out of its channel's
// Told.Queued in inc, if inc is the incident that counted it.
func uncount(inc *Incident, e Entry) bool {
	if e.Opened == nil || e.Opened.Counted.IsZero() || !inc.Opened.Equal(e.Opened.Counted) {
		return false
	}
	i := slices.IndexFunc(inc.Told, func(t Told) bool { return t.Channel == e.Channel })
	if i < 0 || inc.Told[i].Queued == 0 {
		return false
	}
	inc.Told[i].Queued--
	return true
}

// Undo takes back what a dead letter's notification opened, in the
// records SettleIDs named, and marks its channel. The suppression window
// it started is reopened (unless a later notification has restarted it):
// the next occurrence notifies, and says how many were held back. An
// escalation it made may happen again. A channel it added to the
// incident is taken out, so the recovery sends no resolve for an alert
// that was never raised (a later delivery to the channel puts it back) —
// unless the alert may exist after all: another notification to the
// channel about the key is queued, by this run or another (Told.Queued),
// or an attempt's outcome was unknown (Entry.Uncertain: a timeout
// PagerDuty may have acted on). A resolve PagerDuty ignores is better
// than an alert nobody closes.
func Undo(recs map[string]*Record, e Entry, now time.Time) {
	if o := e.Opened; o != nil && o.Window != "" {
		if r := recs[o.Window]; r != nil {
			if w, ok := WindowKind.Get(recs, o.Window); ok {
				changed := false
				// Only the last of the decision's notifications to be
				// given up undoes: while another was delivered or is
				// queued, the window stands (see Window.Live).
				if o.Escalation && w.Escalated && w.First.Equal(o.At) {
					w.EscalationLive, changed = max(w.EscalationLive-1, 0), true
					w.Escalated = w.EscalationLive > 0
				}
				if !o.Escalation && !w.LastNotified.IsZero() && w.LastNotified.Equal(o.At) {
					w.Live, changed = max(w.Live-1, 0), true
					if w.Live == 0 {
						w.LastNotified = time.Time{}
					}
				}
				if changed {
					_ = WindowKind.Put(recs, o.Window, w, r.Expires) // a Window always encodes
				}
			}
		}
	}
	if o := e.Opened; o != nil && e.Action != "resolve" {
		id := IncidentID(e.Key)
		if inc, ok := IncidentKind.Get(recs, id); ok {
			changed := uncount(&inc, e)
			i := slices.IndexFunc(inc.Told, func(t Told) bool { return t.Channel == e.Channel })
			if i >= 0 && o.Incident && inc.Told[i].Queued == 0 && !e.Uncertain && !queuedBehind(recs, e) {
				inc.Told, changed = slices.Delete(inc.Told, i, i+1), true
				if len(inc.Told) == 0 {
					// Nobody heard of it: the other nodes' reports of the
					// same alert are no longer duplicates of a page.
					recs[SeenID(e.Key)] = nil
				}
			}
			if changed {
				_ = IncidentKind.Put(recs, id, inc, recs[id].Expires) // an Incident always encodes
			}
		}
	}
	f := Failure{Channel: e.Channel, Key: e.Key, Action: e.Action, At: now, Error: e.LastError, Count: 1}
	if prev := Failures(map[string]*Record{"": recs[FailureID(e.Channel)]}); len(prev) == 1 {
		f.Count = prev[0].Count + 1
	}
	_ = FailureKind.Put(recs, FailureID(e.Channel), f, now.Add(deadTTL)) // a Failure always encodes
}

// queuedBehind reports whether recs hold another queued notification
// (not a resolve) to e's channel about e's key.
func queuedBehind(recs map[string]*Record, e Entry) bool {
	for id, r := range recs {
		if id == e.ID || r == nil || !OutboxKind.Owns(id) {
			continue
		}
		for _, q := range Entries(map[string]*Record{id: r}) {
			if q.Key == e.Key && q.Channel == e.Channel && q.Action != "resolve" {
				return true
			}
		}
	}
	return false
}
