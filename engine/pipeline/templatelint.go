package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"notifier/channels/template"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// Sample is a synthetic event lint renders every template with, so that
// a template that would fail at run time fails lint: one per source and
// kind, raised and cleared (the caller decodes them as the run would).
type Sample struct {
	Name  string // for findings: "a pacemaker resource clear"
	Event *event.Event
}

// Lint renders every template against each sample — as a trigger for a
// problem, as a resolve for one that cleared (ev.OK) — and reports,
// once per template, the first sample it fails for (an error, a blank
// required part, no JSON where JSON is due), at the template's place
// in the policy.
func (ts *Templates) Lint(samples []Sample) policy.Problems {
	var ps policy.Problems
	check := func(rule, channel string, list []*compiled) {
		for _, c := range list {
			if p, failed := c.lint(rule, channel, samples); failed {
				ps = append(ps, p)
			}
		}
	}
	for _, ch := range slices.Sorted(maps.Keys(ts.channel)) {
		check("", ch, ts.channel[ch])
	}
	for _, rule := range slices.Sorted(maps.Keys(ts.rule)) {
		for _, ch := range slices.Sorted(maps.Keys(ts.rule[rule])) {
			check(rule, ch, ts.rule[rule][ch])
		}
	}
	return ps
}

// lint renders c for each sample until one fails.
func (c *compiled) lint(rule, channel string, samples []Sample) (policy.Problem, bool) {
	for _, s := range samples {
		action := engine.DeliverTrigger
		if s.Event.OK {
			action = engine.DeliverResolve
		}
		m := Message(s.Event, engine.Delivery{Channel: channel, Rule: rule, Action: action}, 0, "")
		_, err := c.renderChecked(Data(s.Event, m, channel, rule))
		if err == nil {
			continue
		}
		off := 0
		var re *template.RenderError
		if errors.As(err, &re) {
			off = re.Offset
		}
		return c.problemAt(c.t.Text(), off, "error", fmt.Sprintf("fails for %s (at run time its built-in text would be sent): %v", s.Name, err)), true
	}
	return policy.Problem{}, false
}
