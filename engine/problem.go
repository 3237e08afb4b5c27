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

// problemSink collects problems for one file.
type problemSink struct {
	file string
	data []byte // the file's text, to map expression offsets to columns
	list *Problems
}

func (s problemSink) errorf(line, col int, check, format string, args ...any) {
	*s.list = append(*s.list, Problem{File: s.file, Line: line, Col: col, Severity: "error", Check: check, Message: fmt.Sprintf(format, args...)})
}

func (s problemSink) warnf(line, col int, check, format string, args ...any) {
	*s.list = append(*s.list, Problem{File: s.file, Line: line, Col: col, Severity: "warning", Check: check, Message: fmt.Sprintf(format, args...)})
}
