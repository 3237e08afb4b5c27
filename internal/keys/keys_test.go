package keys

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBound(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes, two per character
	cases := []struct {
		name, key string
		limit     int
	}{
		{"short", "cmon/h/1/42", 255},
		{"exactly the limit", strings.Repeat("x", 255), 255},
		{"one over", strings.Repeat("x", 256), 255},
		{"multibyte cut", long, 255},
		{"tiny limit", long, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Bound(c.key, c.limit)
			if len(c.key) <= c.limit {
				if got != c.key {
					t.Fatalf("Bound changed a key within the limit: %q", got)
				}
				return
			}
			if len(got) > max(c.limit, MinBound) || !utf8.ValidString(got) {
				t.Errorf("Bound = %q (%d bytes), want at most %d valid UTF-8", got, len(got), max(c.limit, MinBound))
			}
			if Bound(c.key, c.limit) != got {
				t.Error("not stable")
			}
			if other := Bound(c.key+"!", c.limit); other == got {
				t.Error("two keys sharing the prefix bound to the same id")
			}
		})
	}
}
