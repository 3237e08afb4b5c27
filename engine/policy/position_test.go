package policy

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// ScalarPos places a rune of a scalar's value where it is written, in
// every style, after an anchor or a tag, and across folded and escaped
// line breaks. Each case's value holds one N, written once in the
// source: ScalarPos of its offset in the value must be where it is
// written.
func TestScalarPos(t *testing.T) {
	tests := []struct{ name, src string }{
		{"plain", "when: severity == N\n"},
		{"plain anchored", "when: &w severity == N\n"},
		{"double quoted", "summary: \"{{ .N }}\"\n"},
		{"double quoted anchored", "summary: &s \"{{ .Nodee }}\"\n"},
		{"tag and anchor", "summary: !!str &s \"{{ .Nodee }}\"\n"},
		{"anchor alone on its line", "summary: &s\n  \"ab N\"\n"},
		{"anchor with a comment", "summary: &s # the summary\n  \"ab N\"\n"},
		{"single quoted anchored", "summary: &s 'it''s N'\n"},
		{"escaped line break", "summary: \"ab\\\n   cd N\"\n"},
		{"two escaped line breaks", "summary: \"a\\\n  b\\\n  c\\tN\"\n"},
		{"escapes then a folded break", "summary: \"\\u00e9\\x41\n  N\"\n"},
		{"trailing spaces before a folded break", "summary: \"ab   \n  cd N\"\n"},
		{"plain over two lines", "when: a ==\n  N\n"},
		{"an escaped backslash ends the line", "summary: \"a\\\\\n  N\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
				t.Fatal(err)
			}
			n := doc.Content[0].Content[1]
			i := strings.IndexByte(n.Value, 'N')
			if i < 0 || strings.Count(tt.src, "N") != 1 {
				t.Fatalf("value %q: want one N, written once", n.Value)
			}
			lines := SplitLines([]byte(tt.src))
			wantLine, wantCol := 0, 0
			for li, l := range lines {
				if j := strings.IndexByte(l, 'N'); j >= 0 {
					wantLine, wantCol = li+1, utf8.RuneCountInString(l[:j])+1
				}
			}
			line, col := ScalarPos(n, lines, utf8.RuneCountInString(n.Value[:i]))
			if line != wantLine || col != wantCol {
				t.Errorf("%q (value %q): N at %d:%d, want %d:%d", tt.src, n.Value, line, col, wantLine, wantCol)
			}
		})
	}
}
