package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// An ignore directive acknowledges a warning where it is made, so
// `notifier lint --strict` can stay in CI when a warning is deliberate (a
// window only silences name, say):
//
//	windows:
//	  # notifier:ignore unused-window: named by `notifier silence add --match 'in_window("maint")'`
//	  maint: {timezone: UTC, weekdays: [sat]}
//
// A directive alone on its line covers the next line that is not blank or
// a comment; at the end of a line it covers that line. It names one or
// more checks, comma-separated; the rest of the comment is the reason.
// Only YAML comments count: the same text inside a quoted or block scalar
// is the scalar's. Errors are never ignored: an error keeps the policy
// from loading, and hiding it from lint would only move the surprise to
// 3 a.m. A directive acknowledges one finding per check: one that covers
// none, or several (a flow mapping on one line), is itself a warning
// (unused-ignore, which no directive silences), so stale and misspelt
// directives show up, and a new finding on an acknowledged line does not
// hide behind an old directive.
const ignoreMarker = "notifier:ignore"

var ignoreChecksRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([A-Za-z0-9_-]+(?:[ \t]*,[ \t]*[A-Za-z0-9_-]+)*)`)
})

type ignoreDirective struct {
	file      string
	line, col int // the directive
	target    int // the line it covers
	checks    []string
	covered   []int // per check: how many warnings it covered
}

// parseIgnores finds the directives among the comments of one file; doc
// is the file parsed, to tell comments from scalars.
func parseIgnores(src Source, doc *yaml.Node, ps *Problems) []*ignoreDirective {
	if !strings.Contains(string(src.Data), ignoreMarker) {
		return nil
	}
	sink := Sink{File: src.Name, Data: src.Data, List: ps}
	lines := SplitLines(src.Data)
	starts := commentStarts(doc, lines)
	var out, pending []*ignoreDirective // pending: alone on their lines, waiting for the line they cover
	for i, text := range lines {
		col, hasComment := starts[i+1]
		content := text
		if hasComment {
			content = text[:col]
		}
		if strings.TrimSpace(content) != "" {
			for _, d := range pending {
				d.target = i + 1
			}
			pending = nil
		}
		if !hasComment {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimLeft(text[col+1:], " \t"), ignoreMarker)
		if !ok || (rest != "" && !strings.ContainsAny(rest[:1], " \t:")) {
			continue
		}
		rest = strings.TrimLeft(strings.TrimPrefix(rest, ":"), " \t")
		d := &ignoreDirective{file: src.Name, line: i + 1, col: runeCol(text, col)}
		if m := ignoreChecksRE().FindString(rest); m != "" {
			for c := range strings.SplitSeq(m, ",") {
				d.checks = append(d.checks, strings.TrimSpace(c))
			}
		}
		if len(d.checks) == 0 {
			sink.Warnf(d.line, d.col, "unused-ignore", "%s names no check: write # %s CHECK[,CHECK] reason", ignoreMarker, ignoreMarker)
			continue
		}
		d.covered = make([]int, len(d.checks))
		out = append(out, d)
		if strings.TrimSpace(content) == "" {
			pending = append(pending, d)
		} else {
			d.target = i + 1
		}
	}
	return out
}

// commentStarts maps each line (1-based) that holds a YAML comment to the
// byte offset of its #: a # at the line's start or after a blank, outside
// every quoted scalar and block scalar of doc.
func commentStarts(doc *yaml.Node, lines []string) map[int]int {
	masked := make([][][2]int, len(lines)) // per line index: byte spans inside scalars
	whole := func(li int) {
		if li >= 0 && li < len(lines) {
			masked[li] = append(masked[li], [2]int{0, len(lines[li])})
		}
	}
	// parent: the indentation of the collection a node is in, which a
	// block scalar's content must exceed (-1 at the top).
	var walk func(n *yaml.Node, parent int)
	walk = func(n *yaml.Node, parent int) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i], n.Content[i].Column-1)
				walk(n.Content[i+1], n.Content[i].Column-1)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, n.Column-1)
			}
		default:
			for _, c := range n.Content {
				walk(c, parent)
			}
		}
		if n.Kind != yaml.ScalarNode || n.Line < 1 || n.Line > len(lines) {
			return
		}
		switch {
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			// Content: the lines after the indicator, indented as the
			// first that is not blank (deeper than parent), and the blank
			// lines among them.
			content := -1
			for li := n.Line; li < len(lines); li++ {
				if strings.TrimSpace(lines[li]) == "" {
					whole(li)
					continue
				}
				if content < 0 {
					content = len(indent(lines[li]))
				}
				if d := len(indent(lines[li])); d <= parent || d < content {
					break
				}
				whole(li)
			}
		case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
			quote := byte('"')
			if n.Style&yaml.SingleQuotedStyle != 0 {
				quote = '\''
			}
			li, from := n.Line-1, runeIndexToByte(lines[n.Line-1], n.Column-1)
			i := from + 1
			for li < len(lines) {
				line := lines[li]
				for i < len(line) {
					switch {
					case quote == '"' && line[i] == '\\':
						i += 2
						continue
					case line[i] == quote && quote == '\'' && i+1 < len(line) && line[i+1] == '\'':
						i += 2
						continue
					case line[i] == quote:
						masked[li] = append(masked[li], [2]int{from, i + 1})
						return
					}
					i++
				}
				masked[li] = append(masked[li], [2]int{from, len(line)})
				li, from, i = li+1, 0, 0
			}
		}
	}
	walk(doc, -1)
	out := map[int]int{}
	for li, line := range lines {
		for i := 0; i < len(line); i++ {
			if line[i] != '#' || (i > 0 && line[i-1] != ' ' && line[i-1] != '\t') {
				continue
			}
			if !slices.ContainsFunc(masked[li], func(s [2]int) bool { return i >= s[0] && i < s[1] }) {
				out[li+1] = i
				break
			}
		}
	}
	return out
}

// applyIgnores drops the warnings the directives cover and reports the
// directives that covered nothing or more than one finding. Unused ones
// are reported only when the policy loads (loadFailed false), as the
// unused-channel checks are (when it does not, those warnings are not
// computed, so every directive for them would look unused).
func applyIgnores(ds []*ignoreDirective, ps Problems, loadFailed bool) Problems {
	if len(ds) == 0 {
		return ps
	}
	type coveredProblem struct {
		Problem
		by *ignoreDirective
	}
	var kept Problems
	var dropped []coveredProblem
	for _, p := range ps {
		if d, i := coverer(ds, p); d != nil {
			d.covered[i]++
			dropped = append(dropped, coveredProblem{p, d})
			continue
		}
		kept = append(kept, p)
	}
	var extra Problems
	for _, d := range ds {
		for i, c := range d.checks {
			if n := d.covered[i]; n > 1 {
				extra = append(extra, d.warning("%s %s acknowledges %d %s warnings on line %d at once: give each its own line and directive, so a new one is not hidden", ignoreMarker, c, n, c, d.target))
			}
			if d.covered[i] > 0 {
				continue
			}
			at := func(p Problem) bool { return p.File == d.file && p.Line == d.target && p.Check == c }
			prior := slices.IndexFunc(dropped, func(cp coveredProblem) bool { return at(cp.Problem) })
			switch {
			case d.target == 0:
				extra = append(extra, d.warning("%s %s covers no line: nothing follows it", ignoreMarker, c))
			case slices.ContainsFunc(kept, func(p Problem) bool { return at(p) && p.Severity == "error" }):
				extra = append(extra, d.warning("%s %s: errors cannot be ignored (the policy would not load); fix line %d", ignoreMarker, c, d.target))
			case !slices.Contains(Checks, c):
				extra = append(extra, d.warning("%s %s: no such check%s", ignoreMarker, c, hint.Suggest(c, Checks)))
			case c == "unused-ignore":
				extra = append(extra, d.warning("%s unused-ignore: a directive's own warning cannot be ignored", ignoreMarker))
			case prior >= 0:
				extra = append(extra, d.warning("%s %s: the %s warning on line %d is already acknowledged by the directive on line %d", ignoreMarker, c, c, d.target, dropped[prior].by.line))
			case !loadFailed:
				extra = append(extra, d.warning("%s %s: no %s warning on line %d to ignore", ignoreMarker, c, c, d.target))
			}
		}
	}
	return append(kept, extra...)
}

// coverer is the first directive that covers p, and the index of p's
// check in it; errors and a directive's own warnings are never covered.
func coverer(ds []*ignoreDirective, p Problem) (*ignoreDirective, int) {
	if p.Severity != "warning" || p.Check == "unused-ignore" {
		return nil, -1
	}
	for _, d := range ds {
		if d.file != p.File || d.target != p.Line {
			continue
		}
		if i := slices.Index(d.checks, p.Check); i >= 0 {
			return d, i
		}
	}
	return nil, -1
}

func (d *ignoreDirective) warning(format string, args ...any) Problem {
	return Problem{File: d.file, Line: d.line, Col: d.col, Severity: "warning", Check: "unused-ignore", Message: fmt.Sprintf(format, args...)}
}

// runeCol is the 1-based column, in characters, of byte offset i of line.
func runeCol(line string, i int) int { return utf8.RuneCountInString(line[:i]) + 1 }
