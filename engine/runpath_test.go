package engine

import (
	"fmt"
	"strings"
	"testing"

	"notifier/engine/event"
	"notifier/engine/policy"
)

// TestRunNeverLints: a policy with an error of each kind only lint
// reports (checks newer than the policies in production) loads through
// the run's path, decides an event as written, and that path computes
// none of them: it evaluates no expression (lint's probes and truth
// checks would spend the load's budget) and has nowhere to put a lint
// finding. Lint, on the same sources, reports them all.
func TestRunNeverLints(t *testing.T) {
	stepsOnly(t)
	a := literalArray(1000)
	src := `settings: {deadline: 500ms}
windows:
  all: {}
channels:
  l: {type: syslog}
rules:
  - {name: text, when: 'severity > "info"', notify: [l], continue: true}
  - {name: never, when: 'severity == "critical" && severity == "info"', notify: [l], continue: true}
  - {name: loops, when: 'all(` + a + `, {all(` + a + `, {# > 0})}) && node == ""', notify: [l], continue: true}
  - {name: muted, when: 'true', notify: [l], muted_during: [all], continue: true}
  - {name: constant, when: 'duration("5") > duration("1m") || in_window("a" + "ll")', notify: [l], continue: true}
  - {name: quiet, when: 'severity == "info"', continue: true}
  - {name: catch-all, when: 'rank(severity) <= 3', notify: [l]}
  - {name: after, when: 'true', notify: [l]}
  - {name: last, when: 'true', notify: [l]}
`
	srcs := []policy.Source{{Name: "p.yaml", Data: []byte(src)}}
	p, ps, c := compile(srcs, policy.Options{})
	if p == nil || len(ps) != 0 {
		t.Fatalf("the run's load: %v", ps)
	}
	if c.lint != nil || c.windows != nil {
		t.Error("the run's compiler is set up to lint")
	}
	if c.load.left != LoadSteps {
		t.Errorf("the run's load evaluated expressions: %d of %d steps left", c.load.left, LoadSteps)
	}
	d := p.Evaluate(&event.Event{Severity: "warning", Action: "new"})
	if got := fmt.Sprint(d.Matched()); got != "[text muted catch-all]" {
		t.Errorf("matched %s: the policy must run as written", got)
	}
	lp, lps := Lint(srcs, policy.Options{})
	var checks []string
	for _, e := range lps {
		checks = append(checks, e.Severity+" "+e.Check)
	}
	want := "[error deadline error text-order error never-matches error budget error always-muted error fails-always warning notifies-nobody error unreachable-rule error unreachable-rule]"
	if lp == nil || fmt.Sprint(checks) != want {
		t.Errorf("lint: %v\nwant %s", lps, want)
	}
}

// TestRunRefusesRulesAfterCatchAll: rules after a rule written `true`
// that ends evaluation is the one finding of that kind a run refuses, as
// it always did; found by evaluating an earlier rule, it is lint's, and
// the run keeps the policy.
func TestRunRefusesRulesAfterCatchAll(t *testing.T) {
	head := "channels:\n  l: {type: syslog}\nrules:\n"
	catchAll := "  - {name: all, when: 'true', notify: [l]}\n"
	found := "  - {name: closed, when: 'rank(severity) <= 3', notify: [l]}\n"
	later := "  - {name: later, when: 'node == \"a\"', notify: [l]}\n  - {name: last, when: 'node == \"b\"', notify: [l]}\n"
	for _, tc := range []struct {
		name, rules string
		loads       bool
	}{
		{"catch-all last", later + catchAll, true},
		{"rules after a catch-all", catchAll + later, false},
		{"after an evaluated catch-all", found + catchAll + later, true},
		{"catch-all that continues", strings.Replace(catchAll, "notify: [l]", "notify: [l], continue: true", 1) + later, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcs := []policy.Source{{Name: "p.yaml", Data: []byte(head + tc.rules)}}
			p, ps := Compile(srcs, policy.Options{})
			if (p != nil) != tc.loads {
				t.Fatalf("run loads %v, want %v: %v", p != nil, tc.loads, ps)
			}
			for _, e := range ps {
				if e.Check != "unreachable-rule" {
					t.Errorf("unexpected %v", e)
				}
			}
			lp, lps := Lint(srcs, policy.Options{})
			if (lp != nil) != tc.loads {
				t.Errorf("lint says it loads %v, want %v: %v", lp != nil, tc.loads, lps)
			}
			for _, e := range ps {
				if !strings.Contains(fmt.Sprint(lps), e.Error()) {
					t.Errorf("the run's %v is not lint's: %v", e, lps)
				}
			}
		})
	}
}
