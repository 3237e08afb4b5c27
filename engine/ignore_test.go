package engine

import (
	"fmt"
	"testing"
)

func TestCommentStart(t *testing.T) {
	for _, c := range []struct {
		line string
		want int
	}{
		{"# top", 0},
		{"  key: value # note", 13},
		{"key: value#not", -1},
		{`key: "a # b" # c`, 13},
		{`key: 'it''s # x' # c`, 17},
		{`key: "esc \" # x" # c`, 18},
		{"key: value\t# tab", 11},
		{`key: "unterminated # x`, -1},
	} {
		if got := commentStart(c.line); got != c.want {
			t.Errorf("commentStart(%q) = %d, want %d", c.line, got, c.want)
		}
	}
}

// A directive covers the next line with content, across blank lines and
// other comments; two in a row cover the same line.
func TestIgnoreTargets(t *testing.T) {
	src := Source{Name: "p.yaml", Data: []byte("a: 1\n# notifier:ignore x\n\n# other\n# notifier:ignore y,z why\nb: 2 # notifier:ignore w\n")}
	var ps Problems
	ds := parseIgnores(src, &ps)
	if len(ps) != 0 || len(ds) != 3 {
		t.Fatalf("got %d directives, problems %v", len(ds), ps)
	}
	for i, want := range []struct {
		line, target int
		checks       string
	}{{2, 6, "[x]"}, {5, 6, "[y z]"}, {6, 6, "[w]"}} {
		d := ds[i]
		if d.line != want.line || d.target != want.target || fmt.Sprint(d.checks) != want.checks {
			t.Errorf("directive %d: line %d target %d checks %v, want %+v", i, d.line, d.target, d.checks, want)
		}
	}
}
