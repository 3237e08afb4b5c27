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

// Lint renders every template against each sample as the run would
// render it: as the delivery the channel gets for the sample
// (engine.DeliveryAction, as the rules choose it; a resolve for a
// clear) and with the name of each rule whose messages use it (a rule's
// override: that rule; a channel's template: each rule of p that
// notifies or escalates to the channel and does not override it, or
// none when no rule does). It reports, once per template, the first
// sample it fails for (an error, a blank required part, no JSON where
// JSON is due), at the template's place in the policy. p may be nil (a
// policy that did not load): a channel's templates are rendered without
// a rule.
func (ts *Templates) Lint(p *engine.Policy, samples []Sample) policy.Problems {
	var ps policy.Problems
	for _, ch := range slices.Sorted(maps.Keys(ts.channel)) {
		for _, c := range ts.channel[ch] {
			var rules []string
			for _, r := range users(p, ch) {
				if slices.Contains(ts.forDelivery(r, ch), c) {
					rules = append(rules, r)
				}
			}
			if len(rules) == 0 {
				rules = []string{""}
			}
			if pr, failed := c.lint(rules, ch, ts.types[ch], samples); failed {
				ps = append(ps, pr)
			}
		}
	}
	for _, rule := range slices.Sorted(maps.Keys(ts.rule)) {
		for _, ch := range slices.Sorted(maps.Keys(ts.rule[rule])) {
			for _, c := range ts.rule[rule][ch] {
				if pr, failed := c.lint([]string{rule}, ch, ts.types[ch], samples); failed {
					ps = append(ps, pr)
				}
			}
		}
	}
	return ps
}

// users are the names of p's rules that notify or escalate to channel.
func users(p *engine.Policy, channel string) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, r := range p.Rules {
		if slices.Contains(r.Notify, channel) || (r.Escalate != nil && slices.Contains(r.Escalate.Notify, channel)) {
			out = append(out, r.Name)
		}
	}
	return out
}

// lint renders c for each sample, as each of rules, as the delivery a
// channel of type chType gets for it, until one fails.
func (c *compiled) lint(rules []string, channel, chType string, samples []Sample) (policy.Problem, bool) {
	if c.t == nil {
		return policy.Problem{}, false // an empty list's marker renders nothing
	}
	for _, s := range samples {
		action := engine.DeliveryAction(chType, s.Event.Action)
		for _, rule := range rules {
			d := engine.Delivery{Channel: channel, Type: chType, Rule: rule, Action: action}
			if action == engine.DeliverResolve {
				d.Rule = "resolve" // as a resolve's message says (see state.Planned.Templates)
			}
			_, err := c.renderChecked(Data(s.Event, Message(s.Event, d, 0, ""), channel, rule))
			if err == nil {
				continue
			}
			off := 0
			var re *template.RenderError
			if errors.As(err, &re) {
				off = re.Offset
			}
			as := "as a " + action
			if rule != "" {
				as += fmt.Sprintf(" of rule %q", rule)
			}
			return c.problemAt(c.t.Text(), off, "error", fmt.Sprintf("fails for %s %s (at run time its built-in text would be sent): %v", s.Name, as, err)), true
		}
	}
	return policy.Problem{}, false
}
