package policy

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a policy, at its place in a file. Lint
// prints them; a load returns them all at once rather than stopping at the
// first, so an operator fixes a file in one pass.
type Problem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"` // "error" or "warning"
	Check    string `json:"check"`    // short stable name of the check, e.g. "unknown-key"
	Message  string `json:"message"`
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
	"duplicate-inhibit", "duplicate-window", "duration", "escalate-after", "escalate-notify", "escalate-within", "expr", "fails-always",
	"flapping", "group", "impossible-value", "inhibit", "inline-secret", "metrics", "never-matches", "no-rules", "notifies-nobody", "rate", "read", "redis-url",
	"rule-name", "rule-when", "secret-file", "self-alert", "state-dir", "suppress", "template", "template-channel", "text-order", "time-range", "timeout", "timezone", "type",
	"undefined-channel", "undefined-window", "unknown-key", "unreachable-rule", "unused-channel", "unused-ignore",
	"unused-window", "weekday", "yaml",
}

// Problems is every problem found in one load. As an error it prints the
// errors (not warnings), one per line.
type Problems []Problem

// Error lists the errors, one per line.
func (ps Problems) Error() string {
	var lines []string
	for _, p := range ps.Errors() {
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

// Sink collects the problems of one file.
type Sink struct {
	File string
	Data []byte // the file's text, to map expression offsets to columns
	List *Problems
}

// Errorf adds an error at line and col.
func (s Sink) Errorf(line, col int, check, format string, args ...any) {
	*s.List = append(*s.List, Problem{File: s.File, Line: line, Col: col, Severity: "error", Check: check, Message: fmt.Sprintf(format, args...)})
}

// Warnf adds a warning at line and col.
func (s Sink) Warnf(line, col int, check, format string, args ...any) {
	*s.List = append(*s.List, Problem{File: s.File, Line: line, Col: col, Severity: "warning", Check: check, Message: fmt.Sprintf(format, args...)})
}
