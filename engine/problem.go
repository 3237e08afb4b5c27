package engine

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a policy, at its place in a file. Lint
// prints them; Load returns them all at once rather than stopping at the
// first, so an operator fixes a file in one pass.
type Problem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"` // "error" or "warning"
	Check    string `json:"check"`    // short stable name of the check, e.g. "unknown-key"
	Message  string `json:"message"`
	// Loads marks an error a run tolerates: the policy still loads and
	// runs as written, while lint fails on it like any error. The checks
	// added after policies were first written in production are such —
	// text-ordered severities, conditions that never match, always-failing
	// built-ins — so upgrading notifier never turns a policy that ran into
	// one that does not load (every event to the local syslog).
	Loads bool `json:"-"`
}

// Error formats the problem as file:line:col: message.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// Checks names every check a policy's lint can report, including those
// cmd/notifier adds for channels (inline-secret, secret-file, timeout,
// channel). The lint corpus has a case for each (a test keeps the two
// in step); ignore directives are checked against it.
var Checks = []string{
	"always-muted", "budget", "channel", "channel-type", "deadline", "disabled-rule", "drop-continue", "drop-escalate",
	"drop-notify", "drop-suppress", "duplicate-channel", "duplicate-key", "duplicate-rule", "duplicate-settings",
	"duplicate-window", "duration", "escalate-after", "escalate-notify", "escalate-within", "expr", "fails-always",
	"impossible-value", "inline-secret", "never-matches", "no-rules", "notifies-nobody", "read", "redis-url",
	"rule-name", "rule-when", "secret-file", "state-dir", "suppress", "text-order", "time-range", "timeout", "timezone", "type",
	"undefined-channel", "undefined-window", "unknown-key", "unreachable-rule", "unused-channel", "unused-ignore",
	"unused-window", "weekday", "yaml",
}

// Problems is every problem found in one load. As an error it prints the
// errors (not warnings), one per line.
type Problems []Problem

// Error lists the errors that keep the policy from loading, one per line.
func (ps Problems) Error() string {
	var lines []string
	for _, p := range ps.Blocking() {
		lines = append(lines, p.Error())
	}
	return strings.Join(lines, "\n")
}

// Errors returns only the problems of severity "error".
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == "error" {
			out = append(out, p)
		}
	}
	return out
}

// Blocking returns the errors that keep the policy from loading.
func (ps Problems) Blocking() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == "error" && !p.Loads {
			out = append(out, p)
		}
	}
	return out
}

// problemSink collects problems for one file.
type problemSink struct {
	file string
	data []byte // the file's text, to map expression offsets to columns
	list *Problems
}

func (s problemSink) errorf(line, col int, check, format string, args ...any) {
	*s.list = append(*s.list, Problem{File: s.file, Line: line, Col: col, Severity: "error", Check: check, Message: fmt.Sprintf(format, args...)})
}

// lateErrorf is errorf for a check a run tolerates (Problem.Loads).
func (s problemSink) lateErrorf(line, col int, check, format string, args ...any) {
	*s.list = append(*s.list, Problem{File: s.file, Line: line, Col: col, Severity: "error", Check: check, Message: fmt.Sprintf(format, args...), Loads: true})
}

func (s problemSink) warnf(line, col int, check, format string, args ...any) {
	*s.list = append(*s.list, Problem{File: s.file, Line: line, Col: col, Severity: "warning", Check: check, Message: fmt.Sprintf(format, args...)})
}
