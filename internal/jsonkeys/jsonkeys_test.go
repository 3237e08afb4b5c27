package jsonkeys

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // "" for no duplicate
	}{
		{"no duplicates", `{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, ""},
		{"top level", `{"action":"remove","x":1,"action":"new"}`, `duplicate key "action" at byte offset 25`},
		{"nested", `{"alarm":{"severity":"a", "severity":"b"}}`, `duplicate key "severity" in alarm at byte offset 26`},
		{"in an array", `{"a":[{},{"k":1,"k":2}]}`, `duplicate key "k" in a[1] at byte offset 16`},
		{"escaped spelling is the same key", `{"ab":1,"a\u0062":2}`, `duplicate key "ab" at byte offset 8`},
		{"invalid UTF-8 decodes to one key", "{\"\xff\":1,\"\xfe\":2}", "duplicate key \"\ufffd\" at byte offset 7"},
		{"odd key quoted in the path", `{"a.b":{"x":1,"x":2}}`, `duplicate key "x" in "a.b" at byte offset 14`},
		{"same key in sibling objects is fine", `[{"a":1},{"a":1}]`, ""},
		{"invalid JSON is the decoder's to report", `{"a":1,`, ""},
		{"a scalar", `42`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var dup *DuplicateError
			if err == nil || err.Error() != tt.want || !errors.As(err, &dup) {
				t.Fatalf("Check = %v, want %q", err, tt.want)
			}
			if !strings.HasPrefix(tt.in[dup.Offset:], `"`) {
				t.Errorf("offset %d does not point at a key: %q", dup.Offset, tt.in[dup.Offset:])
			}
		})
	}
}

// TestCheckManyKeys: past linearKeys keys an object's keys go in a map;
// a duplicate there is found as well.
func TestCheckManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	clean := strings.TrimSuffix(b.String(), ",") + "}"
	if err := Check([]byte(clean)); err != nil {
		t.Fatalf("Check(40 distinct keys) = %v", err)
	}
	dup := b.String() + `"k3":0}`
	if err := Check([]byte(dup)); err == nil || !strings.Contains(err.Error(), `duplicate key "k3"`) {
		t.Fatalf("Check = %v, want k3 duplicated", err)
	}
}

func TestCheckLongKeyShortError(t *testing.T) {
	k := strings.Repeat("k", 10000)
	err := Check([]byte(`{"` + k + `":1,"` + k + `":2}`))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("Check = %.300v, want a short error", err)
	}
}

// TestCheckReturnsOnInputThatDoesNotDecode: Check is meant for input that
// decoded, but must still return on anything else (a '}' inside an array
// once made the fast scan spin for ever).
func TestCheckReturnsOnInputThatDoesNotDecode(t *testing.T) {
	for _, s := range []string{`[hh{"a":1,"a":2}]`, `[}`, `[1,}]`, `{"a":}`, `[[[`, `{"a"`, `["\`, `}`, `]`} {
		Check([]byte(s))
	}
}
