package state

import (
	"slices"
	"time"
)

// IncidentID is the record of a key's open incident, bounded (MaxIDLen).
func IncidentID(key string) string { return IncidentKind.ID(key) }

// Incident is what a key's problem told: a remove resolves exactly these.
type Incident struct {
	Key     string    `json:"key"`
	Opened  time.Time `json:"opened"`
	Told    []Told    `json:"told"`
	Windows []string  `json:"windows,omitempty"` // window records to clear when it resolves
	Policy  string    `json:"policy,omitempty"`  // the PolicyID that wrote it last
	// Groups are the groups (a rule's, a rate cap's) the key is a member
	// of: its clear clears the member there.
	Groups []GroupRef `json:"groups,omitempty"`
}

// GroupRef names a group: its record and its incident key.
type GroupRef struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// addGroup adds ref to inc's groups, once.
func (inc *Incident) addGroup(ref GroupRef) {
	if ref.ID != "" && !slices.Contains(inc.Groups, ref) {
		inc.Groups = append(inc.Groups, ref)
	}
}

// Told is one channel an incident reached, with the channel's reference
// to its message (Slack's channel and ts) for an exact resolve.
type Told struct {
	Channel string `json:"channel"`
	Type    string `json:"type"`
	Ref     string `json:"ref,omitempty"`
	// Queued counts the notifications to the channel about the key that
	// are neither delivered nor given up, whichever run queued them (see
	// Opened.Counted).
	Queued int `json:"queued,omitempty"`
	// Rule is the rule of the last notification the channel was sent
	// about the key: the resolve renders with its templates, so that a
	// receiver that parses the rule's own shape also gets the resolve in
	// it. "" in a record written before it existed: the resolve renders
	// with the channel's own templates.
	Rule string `json:"rule,omitempty"`
}

// IncidentTTL bounds how long an unresolved incident is remembered.
const IncidentTTL = 30 * 24 * time.Hour

// tell adds to inc each channel of send it has not told yet, and marks
// those in their Opened.Incident, so a dead letter undoes just that.
func (inc *Incident) tell(send []Planned) {
	for i, p := range send {
		if p.Key != "" && p.Key != inc.Key {
			continue // about another key's incident (a group's)
		}
		j := slices.IndexFunc(inc.Told, func(t Told) bool { return t.Channel == p.Channel })
		if j < 0 {
			inc.Told = append(inc.Told, Told{Channel: p.Channel, Type: p.Type})
			j = len(inc.Told) - 1
			send[i].Opened.Incident = true
		}
		// Counted until delivered or given up: while another
		// notification to the channel is queued, a dead letter leaves
		// the channel in the incident.
		inc.Told[j].Queued++
		if p.Rule != "" && p.Outcome != OutcomeResolved {
			inc.Told[j].Rule = p.Rule
		}
		send[i].Opened.Counted = inc.Opened
	}
}

// Tell opens key's incident, or extends it, with the channels of send,
// as Apply does for what it sends: for deliveries queued outside Apply
// (kept while the state was unusable), so that the key's remove
// resolves them. recs must hold IncidentID(key) if there is one.
func Tell(recs map[string]*Record, key string, send []Planned, now time.Time, policy string) error {
	id := IncidentID(key)
	inc := &Incident{Key: key, Opened: now}
	if old, ok := IncidentKind.Get(recs, id); ok { // unreadable: replaced, as Apply does
		inc = &old
	}
	inc.Policy = policy
	inc.tell(send)
	return IncidentKind.Put(recs, id, *inc, now.Add(IncidentTTL))
}

// SetRef records a channel's reference to the message it posted for key,
// so the resolve can update that very message. It returns false when the
// incident or channel is gone (already resolved).
func SetRef(recs map[string]*Record, key, channel, ref string) bool {
	id := IncidentID(key)
	inc, ok := IncidentKind.Get(recs, id)
	if !ok {
		return false
	}
	i := slices.IndexFunc(inc.Told, func(t Told) bool { return t.Channel == channel })
	if i < 0 {
		return false
	}
	inc.Told[i].Ref = ref
	return IncidentKind.Put(recs, id, inc, recs[id].Expires) == nil
}
