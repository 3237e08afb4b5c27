package engine

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
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
// Errors are never ignored: an error keeps the policy from loading, and
// hiding it from lint would only move the surprise to 3 a.m. A directive
// that covers nothing is itself a warning (unused-ignore), so stale ones
// do not pile up and a misspelt check name is caught.
const ignoreMarker = "notifier:ignore"

type ignoreDirective struct {
	file      string
	line, col int // the directive
	target    int // the line it covers
	checks    []string
	used      []bool
}

// parseIgnores finds the directives in one file's text.
func parseIgnores(src Source, ps *Problems) []*ignoreDirective {
	if !bytes.Contains(src.Data, []byte(ignoreMarker)) {
		return nil
	}
	sink := problemSink{file: src.Name, data: src.Data, list: ps}
	lines := strings.Split(string(src.Data), "\n")
	var out []*ignoreDirective
	var pending []*ignoreDirective // directives alone on their lines, waiting for the line they cover
	for i, text := range lines {
		col := commentStart(text)
		content := text
		if col >= 0 {
			content = text[:col]
		}
		if strings.TrimSpace(content) != "" {
			for _, d := range pending {
				d.target = i + 1
			}
			pending = nil
		}
		if col < 0 {
			continue
		}
		rest, ok := strings.CutPrefix(strings.TrimLeft(text[col+1:], " \t"), ignoreMarker)
		if !ok || (rest != "" && !strings.ContainsAny(rest[:1], " \t:")) {
			continue
		}
		rest = strings.TrimLeft(strings.TrimPrefix(rest, ":"), " \t")
		field := ""
		if f := strings.Fields(rest); len(f) > 0 {
			field = strings.TrimSuffix(f[0], ":")
		}
		d := &ignoreDirective{file: src.Name, line: i + 1, col: col + 1}
		for c := range strings.SplitSeq(field, ",") {
			if c = strings.TrimSpace(c); c != "" {
				d.checks = append(d.checks, c)
			}
		}
		if len(d.checks) == 0 {
			sink.warnf(d.line, d.col, "unused-ignore", "%s names no check: write # %s CHECK[,CHECK] reason", ignoreMarker, ignoreMarker)
			continue
		}
		d.used = make([]bool, len(d.checks))
		out = append(out, d)
		if strings.TrimSpace(content) == "" {
			pending = append(pending, d)
		} else {
			d.target = i + 1
		}
	}
	return out
}

// commentStart is the byte offset of the # that starts a YAML comment on
// the line, or -1: a # at the start or after a blank, outside quotes.
func commentStart(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				if quote == '\'' && i+1 < len(line) && line[i+1] == '\'' {
					i++ // '' inside a single-quoted scalar
				} else {
					quote = 0
				}
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i
		}
	}
	return -1
}

// applyIgnores drops the warnings the directives cover and reports the
// directives that covered nothing. Unused ones are reported only without
// errors, as the unused-channel checks are (with errors, those warnings
// are not computed, so every directive for them would look unused).
func applyIgnores(ds []*ignoreDirective, ps Problems) Problems {
	if len(ds) == 0 {
		return ps
	}
	kept := ps[:0]
	for _, p := range ps {
		if p.Severity == "warning" && ignored(ds, p) {
			continue
		}
		kept = append(kept, p)
	}
	hasErrors := len(kept.Errors()) > 0
	var extra Problems
	for _, d := range ds {
		for i, c := range d.checks {
			if d.used[i] {
				continue
			}
			switch {
			case d.target == 0:
				extra = append(extra, d.warning("%s %s covers no line: nothing follows it", ignoreMarker, c))
			case slices.ContainsFunc(kept, func(p Problem) bool { return p.File == d.file && p.Line == d.target && p.Check == c }):
				extra = append(extra, d.warning("%s %s: errors cannot be ignored (the policy would not load); fix line %d", ignoreMarker, c, d.target))
			case !hasErrors:
				extra = append(extra, d.warning("%s %s: no %s warning on line %d to ignore", ignoreMarker, c, c, d.target))
			}
		}
	}
	return append(kept, extra...)
}

func ignored(ds []*ignoreDirective, p Problem) bool {
	for _, d := range ds {
		if d.file != p.File || d.target != p.Line {
			continue
		}
		if i := slices.Index(d.checks, p.Check); i >= 0 {
			d.used[i] = true
			return true
		}
	}
	return false
}

func (d *ignoreDirective) warning(format string, args ...any) Problem {
	return Problem{File: d.file, Line: d.line, Col: d.col, Severity: "warning", Check: "unused-ignore", Message: fmt.Sprintf(format, args...)}
}
