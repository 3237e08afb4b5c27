package event

import (
	"strings"
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

// TestDecodeJSONExactNames: encoding/json matches struct fields ignoring
// case, so a key that differs only in case was a duplicate no check saw.
func TestDecodeJSONExactNames(t *testing.T) {
	for _, in := range []string{
		`{"source":"cmon","id":"1","severity":"critical","action":"remove","Action":"new"}`,
		`{"source":"cmon","id":"1","Severity":"critical","action":"new"}`,
	} {
		ev, err := DecodeJSON([]byte(in), time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("DecodeJSON(%s) = %+v, %v; want an unknown field error", in, ev.Action, err)
		}
	}
	if _, err := DecodeJSON([]byte(`{"source":"cmon","id":"1","severity":"critical","action":"new","fields":{"a":"1","A":"2"}}`), time.Unix(0, 0)); err != nil {
		t.Errorf("fields may differ in case only: %v", err)
	}
}
