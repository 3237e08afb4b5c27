package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine"
)

// withFirstRule puts a rule named name with the condition when (single
// quoted) first in the harness's policy, so the default rules after it
// still decide. It returns the line and column of when's value.
func withFirstRule(t *testing.T, config, name, when string) (line, col int) {
	t.Helper()
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	before, after, ok := strings.Cut(string(data), "rules:\n")
	if !ok {
		t.Fatal("no rules: in the policy")
	}
	before += "rules:\n"
	for !strings.HasPrefix(strings.TrimLeft(after, " "), "- ") { // comments
		line, rest, _ := strings.Cut(after, "\n")
		before, after = before+line+"\n", rest
	}
	indent := after[:strings.Index(after, "- ")] // as the policy's own items
	rule := fmt.Sprintf("%s- name: %s\n%s  when: '%s'\n%s  notify: [pager]\n", indent, name, indent, when, indent)
	if err := os.WriteFile(config, []byte(before+rule+after), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.Count(before, "\n") + 2, len(indent) + len("  when: ") + 1
}

// thousand is a literal array of 1000 integers.
var thousand = "[" + strings.TrimSuffix(strings.Repeat("7,", 1000), ",") + "]"

// TestE2EBudget: a condition whose work exceeds the evaluation budget is
// an error lint reports at the rule's when; a run does not hang on it
// (loading or evaluating), counts the rule as failed (exit 1) and still
// delivers what the rules after it decide. An expression nested past
// what the parser survives is refused before parsing, in lint and run.
func TestE2EBudget(t *testing.T) {
	loops := fmt.Sprintf("all(%s, {all(%s, {all(%s, {# > 0})})})", thousand, thousand, thousand)
	for name, tc := range map[string]struct {
		when  string
		event string
		want  string
	}{
		// The step budget stops these loops, or the time budget when the
		// machine is so loaded that a second passes first: either is the
		// run refusing the rule in time (engine's budget tests check each
		// budget alone).
		"constant loops as CMON":      {loops, "cmon/alarm-new-critical.json", "exceeds the evaluation"},
		"loops on a field, Pacemaker": {fmt.Sprintf("node != \"\" && all(%s, {all(%s, {all(%s, {# > 0 && node != \"x\"})})})", thousand, thousand, thousand), "pacemaker/node-lost-cluster-node-crash.env", "exceeds the evaluation"},
		// The steps do not weigh `in` over a 100 000-element range inside
		// a loop over it (5·10⁹ comparisons): the time budget stops it.
		"a linear operator in a loop, as CMON": {"let r = 1..(100000 + count); all(r, {# in r})", "cmon/alarm-new-critical.json", "evaluation time budget"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			line, col := withFirstRule(t, h.Config, "heavy", tc.when)
			lint, err := h.Command(testCtx(t), "lint", h.Config)
			if err != nil {
				t.Fatal(err)
			}
			at := fmt.Sprintf("%s:%d:%d: ", h.Config, line, col+1) // inside the quote
			if lint.Exit != 1 || !strings.Contains(lint.Stdout+lint.Stderr, at) || !strings.Contains(lint.Stdout+lint.Stderr, tc.want) {
				t.Errorf("lint: exit %d, output %q; want 1 and the budget at %s", lint.Exit, lint.Stdout+lint.Stderr, at)
			}
			res, err := h.Run(testCtx(t), filepath.Join(examples, tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if res.Exit != 1 || !strings.Contains(res.Stderr, `rule "heavy"`) || !strings.Contains(res.Stderr, tc.want) {
				t.Errorf("run: exit %d, stderr %q; want 1 naming the rule and the budget", res.Exit, res.Stderr)
			}
			if n := len(h.PagerDuty.Events()); n != 1 {
				t.Errorf("PagerDuty received %d events, want the default rules' 1", n)
			}
		})
	}
	t.Run("a million parentheses", func(t *testing.T) {
		h := newHarness(t)
		deep := strings.Repeat("(", 1_000_000) + "true" + strings.Repeat(")", 1_000_000)
		line, col := withFirstRule(t, h.Config, "deep", deep)
		lint, err := h.Command(testCtx(t), "lint", h.Config)
		if err != nil {
			t.Fatal(err)
		}
		at := fmt.Sprintf("%s:%d:%d: ", h.Config, line, col+1)
		want := fmt.Sprintf("when: expression is %d bytes long; at most %d are accepted", len(deep), engine.MaxExprBytes)
		if lint.Exit != 1 || !strings.Contains(lint.Stdout, at+"error: "+want) {
			t.Errorf("lint: exit %d, output %.300q; want 1 and %q", lint.Exit, lint.Stdout+lint.Stderr, at+"error: "+want)
		}
		res, err := h.Run(testCtx(t), filepath.Join(examples, "cmon/alarm-new-critical.json"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Exit != 2 || !strings.Contains(res.Stderr, at+want) || strings.Contains(res.Stderr, "goroutine") {
			t.Errorf("run: exit %d, stderr %.300q; want 2 and %q", res.Exit, res.Stderr, at+want)
		}
	})
}
