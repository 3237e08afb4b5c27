package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// Skip is one skipped test and the reason it gave (its last log line).
type Skip struct {
	Package, Test, Reason string
}

// test is what is kept of one test while its package runs: its output,
// to print if it fails, and whether it has finished.
type test struct {
	name  string
	lines []line
	// children are the direct subtests, in the order they started.
	children []*test
	done     bool
	failed   bool
}

// line is one line of a test's own output and how many of its subtests
// had started before it: go test without -v prints a subtest's output
// where the subtest ran, between its parent's lines.
type line struct {
	text  string
	after int
}

// pkgRun collects one package's tests in the order they started.
type pkgRun struct {
	tests map[string]*test
	order []string
}

// report turns a `go test -json` stream back into what `go test` prints
// without -json (the "ok"/"FAIL" lines verbatim, a failed test's output
// under its "--- FAIL" line, nothing of tests that passed) and returns the
// tests that were skipped. Lines that are not JSON are copied as they are.
func report(r io.Reader, w io.Writer) ([]Skip, error) {
	pkgs := map[string]*pkgRun{}
	var skips []Skip
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		raw := sc.Bytes()
		var e event
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &e) != nil {
			fmt.Fprintf(w, "%s\n", raw)
			continue
		}
		if e.Package == "" {
			if e.Action == "build-output" { // the compiler's errors
				io.WriteString(w, e.Output)
			}
			continue
		}
		p := pkgs[e.Package]
		if p == nil {
			p = &pkgRun{tests: map[string]*test{}}
			pkgs[e.Package] = p
		}
		if e.Test == "" {
			switch e.Action {
			case "output":
				// Only verbose mode shows a passing package's "PASS".
				if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
					io.WriteString(w, e.Output)
				}
			case "fail":
				// A panic or timeout ends the binary with tests unfinished:
				// their output is the story, as go test shows it.
				for _, name := range p.order {
					if t := p.tests[name]; !t.done && !strings.Contains(name, "/") {
						printFailed(w, t)
					}
				}
				delete(pkgs, e.Package)
			case "pass", "skip":
				delete(pkgs, e.Package)
			}
			continue
		}
		t := p.tests[e.Test]
		if t == nil {
			t = &test{name: e.Test}
			p.tests[e.Test] = t
			p.order = append(p.order, e.Test)
			if i := strings.LastIndex(e.Test, "/"); i > 0 && p.tests[e.Test[:i]] != nil {
				parent := p.tests[e.Test[:i]]
				parent.children = append(parent.children, t)
			}
		}
		switch e.Action {
		case "output":
			if !strings.HasPrefix(e.Output, "=== ") {
				t.lines = append(t.lines, line{e.Output, len(t.children)})
			}
		case "skip":
			t.done = true
			skips = append(skips, Skip{Package: e.Package, Test: e.Test, Reason: skipReason(t.lines)})
		case "pass":
			t.done = true
		case "fail":
			t.done, t.failed = true, true
			if !strings.Contains(e.Test, "/") {
				printFailed(w, t)
			}
		}
	}
	return skips, sc.Err()
}

// printFailed prints a test as go test does without -v: its "--- FAIL"
// line, then its log with each subtest that failed (or never finished)
// where it ran, one level deeper.
func printFailed(w io.Writer, t *test) {
	indent := strings.Repeat("    ", strings.Count(t.name, "/"))
	head := "--- FAIL: " + t.name + "\n"
	for _, l := range t.lines {
		if strings.HasPrefix(l.text, "--- ") {
			head = l.text
		}
	}
	io.WriteString(w, indent+head)
	next := 0 // the next child to print
	children := func(upTo int) {
		for ; next < upTo; next++ {
			if c := t.children[next]; c.failed || !c.done {
				printFailed(w, c)
			}
		}
	}
	for _, l := range t.lines {
		if strings.HasPrefix(l.text, "--- ") {
			continue
		}
		children(l.after)
		io.WriteString(w, indent+l.text)
	}
	children(len(t.children))
}

// skipReason is the message of t.Skip: the last log line before "--- SKIP",
// without its "file_test.go:12: " prefix.
func skipReason(lines []line) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i].text)
		if l == "" || strings.HasPrefix(l, "--- ") {
			continue
		}
		if _, msg, ok := strings.Cut(l, ": "); ok && strings.Contains(l[:strings.Index(l, ": ")], ".go:") {
			return msg
		}
		return l
	}
	return "(no reason given)"
}

// summary prints each skipped test with its reason, then one closing line:
// how many were skipped, grouped by reason, most frequent first.
func summary(w io.Writer, skips []Skip) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "skipped: 0 tests")
		return
	}
	count := map[string]int{}
	for _, s := range skips {
		fmt.Fprintf(w, "SKIP %s %s: %s\n", s.Package, s.Test, s.Reason)
		count[s.Reason]++
	}
	reasons := make([]string, 0, len(count))
	for r := range count {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if count[reasons[i]] != count[reasons[j]] {
			return count[reasons[i]] > count[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d: %s", count[r], r)
	}
	noun := "tests"
	if len(skips) == 1 {
		noun = "test"
	}
	fmt.Fprintf(w, "skipped: %d %s (%s)\n", len(skips), noun, strings.Join(parts, "; "))
}
