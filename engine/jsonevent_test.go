package engine

import (
	"testing"
	"time"
)

// TestDecodeJSONDuplicateKey: the last of two equal keys must not win
// silently (`--source json`, policy test events, explain --event).
func TestDecodeJSONDuplicateKey(t *testing.T) {
	in := `{"source":"cmon","id":"1","severity":"critical","action":"remove","action":"new"}`
	_, err := DecodeJSON([]byte(in), time.Unix(0, 0))
	const want = `json event: duplicate key "action" at byte offset 66`
	if err == nil || err.Error() != want {
		t.Fatalf("DecodeJSON = %v, want %q", err, want)
	}
}
