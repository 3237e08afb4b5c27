package state

import (
	"strings"
	"testing"
	"time"
)

// TestIDsAreBounded: every kind of record id stays within MaxIDLen
// whatever it is built from, and stays distinct and stable (issue 9,
// item 5).
func TestIDsAreBounded(t *testing.T) {
	huge := strings.Repeat("9", 40_000)
	hist, _, _ := HistoryEntry{Time: t0, Key: huge}.Record()
	silence, _, _ := Silence{ID: huge, Expires: t0.Add(time.Hour)}.Record()
	ids := map[string]string{
		"incident":   IncidentID("cmon/cc/1/" + huge),
		"window":     WindowID(huge, huge),
		"occurrence": OccurrenceID(huge),
		"silence":    silence,
		"expire":     SilenceID(huge),
		"failure":    FailureID(huge),
		"outbox":     NewEntryID(t0),
		"history":    hist,
	}
	for kind, id := range ids {
		if len(id) > MaxIDLen || checkID(id) != nil {
			t.Errorf("%s id of %d bytes", kind, len(id))
		}
	}
	if ids["silence"] != ids["expire"] {
		t.Error("silence expire must find the record silence add wrote")
	}
	if IncidentID("k/"+huge) == IncidentID("k/"+huge+"0") || IncidentID("k/"+huge) != IncidentID("k/"+huge) {
		t.Error("bounded ids must be stable and distinct")
	}
	if !strings.HasPrefix(IncidentID(huge), "i/") || !strings.HasPrefix(FailureID(huge), FailurePrefix) || !strings.HasPrefix(silence, SilencePrefix) {
		t.Error("a bounded id must keep its prefix: Scan finds records by it")
	}
	if id := IncidentID("cmon/cc/1/42"); id != "i/cmon/cc/1/42" {
		t.Errorf("a short id must be unchanged: %q", id)
	}
}
