package hint

import "testing"

func TestSuggest(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{"critcal", `, did you mean "critical"?`},
		{"warnign", `, did you mean "warning"?`},
		{"nothing-like-it", ""},
	} {
		if s := Suggest(c.got, []string{"critical", "warning", "info"}); s != c.want {
			t.Errorf("Suggest(%q) = %q, want %q", c.got, s, c.want)
		}
	}
}

func TestQuoteAll(t *testing.T) {
	if s := QuoteAll([]string{"a", `b"c`}); s != `"a", "b\"c"` {
		t.Errorf("QuoteAll = %s", s)
	}
}
