package state

import (
	"slices"
	"time"

	"notifier/engine"
)

// Pacemaker runs one process per recipient for the same alert: each rule
// must act on the alert once, whichever process comes first. An
// occurrence record names the rules that acted.

// OccurrenceID is the record of the rules that acted on one alert.
func OccurrenceID(occ string) string { return OccurrenceKind.ID(occ) }

// legacyOccurrenceID is where versions before the kind registry kept
// OccurrenceID's record: under "o/", the outbox's prefix. Such a record
// lives for OccurrenceTTL, so for the hour after an upgrade the other
// invocations of an alert decided by the old version still find it here:
// it is read (never written, never deleted: the id is in the outbox's
// space) until it expires.
func legacyOccurrenceID(occ string) string { return boundID(OutboxPrefix + occ) }

// OccurrenceTTL is how long an alert's other invocations are recognised:
// they start together, at most a Pacemaker alert timeout apart.
const OccurrenceTTL = time.Hour

// Occurrence is what an OccurrenceID record holds: the rules that acted
// on the alert.
type Occurrence struct {
	Rules []string `json:"rules"`
}

// duplicateReason is why a later invocation of one alert sends nothing.
const duplicateReason = "already decided for this alert by another invocation (one per Pacemaker recipient)"

// firstInvocation removes from d what the rules that already acted on
// this alert (in another invocation, perhaps of a version before: its
// record under former, or under "o/") chose, returning those deliveries as
// duplicates, and records the rules acting now. d itself is not changed.
func firstInvocation(d *engine.Decision, recs map[string]*Record, occ, former string, now time.Time) (*engine.Decision, []Planned) {
	id := OccurrenceID(occ)
	seen, ok := OccurrenceKind.Get(recs, id) // unreadable: nothing seen
	if !ok && former != "" {
		seen, ok = OccurrenceKind.Get(recs, OccurrenceID(former))
	}
	if !ok {
		seen, ok = OccurrenceKind.Decode(recs[legacyOccurrenceID(occ)])
	}
	if !ok && former != "" {
		seen, _ = OccurrenceKind.Decode(recs[legacyOccurrenceID(former)])
	}
	prior := slices.Clone(seen.Rules)
	acted := func(rule string) bool { return slices.Contains(prior, rule) }
	out := *d
	out.Hits, out.Deliveries, out.Muted = nil, nil, nil
	var dup []Planned
	for _, h := range d.Hits {
		if !acted(h.Rule) {
			out.Hits = append(out.Hits, h)
			seen.Rules = append(seen.Rules, h.Rule)
			continue
		}
		dup = append(dup, escalationOnly(d, h, OutcomeDuplicate, duplicateReason)...)
	}
	for _, del := range d.Deliveries {
		if acted(del.Rule) {
			dup = append(dup, Planned{Delivery: del, Outcome: OutcomeDuplicate, Reason: duplicateReason})
			continue
		}
		out.Deliveries = append(out.Deliveries, del)
	}
	for _, m := range d.Muted {
		if !acted(m.Rule) {
			out.Muted = append(out.Muted, m)
		}
	}
	_ = OccurrenceKind.Put(recs, id, seen, now.Add(OccurrenceTTL)) // a []string always encodes
	return &out, dup
}
