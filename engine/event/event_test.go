package event

import (
	"slices"
	"testing"
	"time"
)

// TestNamesHideEvalUntil: the engine's evaluation deadline rides on the
// event but is neither an expression name nor a JSON field.
func TestNamesHideEvalUntil(t *testing.T) {
	names := Names()
	if !slices.Contains(names, "severity") || !slices.Contains(names, "key") {
		t.Fatalf("Names() = %v, lacks severity or key", names)
	}
	for _, n := range names {
		if n == "" || n == "-" {
			t.Fatalf("Names() = %v holds an empty or hidden name", names)
		}
	}
	if _, err := DecodeJSON([]byte(`{"source":"cmon","id":"1","severity":"critical","action":"new","EvalUntil":"2026-01-01T00:00:00Z"}`), time.Unix(0, 0)); err == nil {
		t.Fatal("DecodeJSON took EvalUntil as a field")
	}
}

// TestClosedSetsHaveRanks: every closed severity has a rank, so rank()
// orders every severity a decoder produces.
func TestClosedSetsHaveRanks(t *testing.T) {
	for _, s := range Closed["severity"] {
		if SeverityRank(s) == 0 {
			t.Errorf("severity %q has no rank", s)
		}
	}
}
