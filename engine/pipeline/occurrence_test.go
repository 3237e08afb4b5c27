package pipeline

import (
	"crypto/sha256"
	"testing"

	"notifier/engine/event"
	"notifier/engine/pacemaker"
)

// An alert's other identity is the other hash's, whichever the
// invocation was given; none for an alert of another source.
func TestFormerOccurrence(t *testing.T) {
	ev := &event.Event{Source: event.SourcePacemaker, Fields: map[string]string{"CRM_alert_kind": "node", "CRM_alert_node": "n1", "CRM_alert_timestamp_epoch": "1764900000"}}
	fnv, sha := pacemaker.Occurrence(ev.Fields), pacemaker.OccurrenceWith(ev.Fields, sha256.New())
	if fnv == "" || fnv == sha {
		t.Fatalf("identities %q, %q", fnv, sha)
	}
	if got := formerOccurrence(ev, fnv); got != sha {
		t.Errorf("for the FNV identity: %q, want %q", got, sha)
	}
	if got := formerOccurrence(ev, sha); got != fnv {
		t.Errorf("for the SHA-256 identity: %q, want %q", got, fnv)
	}
	if got := formerOccurrence(ev, ""); got != "" {
		t.Errorf("no identity: %q", got)
	}
	if got := formerOccurrence(ev, fnv+"@2026-12-05T10:00:00Z"); got != "" {
		t.Errorf("an identity of neither hash: %q", got)
	}
	ev.Source = event.SourceCMON
	if got := formerOccurrence(ev, fnv); got != "" {
		t.Errorf("a CMON event: %q", got)
	}
}
