package policy

import (
	"fmt"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Only YAML comments hold directives: a # inside a quoted or block
// scalar, or not after a blank, is the scalar's.
func TestCommentStarts(t *testing.T) {
	data := "a: x # c\n" + // 1
		"b: \"q # not\" # c\n" + // 2
		"c: 'it''s # not' # c\n" + // 3
		"d: don't # c\n" + // 4
		"e: \"esc \\\" # not\" # c\n" + // 5
		"f: value#not\n" + // 6
		"g: |\n" + // 7
		"  # not: block\n" + // 8
		"\n" + // 9
		"  text # not\n" + // 10
		"# c\n" + // 11
		"h: \"two\n" + // 12
		"  # not\" # c\n" + // 13
		"i: [\"#x\", y] # c\n" + // 14
		"j:\n" + // 15
		"  - k: >\n" + // 16
		"      text # not\n" + // 17
		"    l: v # c\n" // 18: ends the block scalar, though deeper than the -
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatal(err)
	}
	got := commentStarts(&doc, SplitLines([]byte(data)))
	want := map[int]int{1: 5, 2: 13, 3: 17, 4: 9, 5: 18, 11: 0, 13: 9, 14: 13, 18: 9}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("comment starts (line:offset)\n got %v\nwant %v", got, want)
	}
}

// A directive covers the next line with content, across blank lines and
// other comments; two in a row cover the same line.
func TestIgnoreTargets(t *testing.T) {
	src := Source{Name: "p.yaml", Data: []byte("a: 1\n# notifier:ignore x\n\n# other\n# notifier:ignore y , z: why\nb: 2 # notifier:ignore w\n")}
	var ps Problems
	var doc yaml.Node
	if err := yaml.Unmarshal(src.Data, &doc); err != nil {
		t.Fatal(err)
	}
	ds := parseIgnores(src, &doc, &ps)
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
