package engine

import (
	"time"

	"notifier/engine/policy"
)

// newLoadMeter is the budget lint may spend evaluating one policy's
// expressions.
func newLoadMeter() meter { return meter{left: LoadSteps, until: time.Now().Add(loadTime)} }

// lintRules makes lint's checks of the compiled rules, in order: the
// budget probes, conditions that are always false, windows that mute a
// rule for good, and rules after one that matches every event (by
// evaluating it; a catch-all written `true` is the run's own error, see
// unreachable).
func (c *compiler) lintRules(parsed *policy.Parsed) {
	var stopper *policy.Rule
	stopperConstant := false
	for i, r := range c.policy.Rules {
		pr := parsed.Rules[i]
		truth, constant := c.lintRule(pr, r)
		if stopper != nil {
			if !stopperConstant {
				sink := c.lintSink(pr.Sink)
				sink.Errorf(pr.Node.Line, pr.Node.Column, "unreachable-rule", "rule %q can never match: rule %q at %s:%d matches every event and ends evaluation (no continue, or drop)",
					pr.Name, stopper.Name, stopper.Sink.File, stopper.Node.Line)
			}
		} else if truth == truthAlways && stops(r) {
			stopper, stopperConstant = pr, constant
		}
	}
}

// lintRule makes lint's checks of one compiled rule and returns its
// condition's truth over every event (conditionTruth).
func (c *compiler) lintRule(pr *policy.Rule, r *Rule) (truth int, constant bool) {
	if !pr.Mapping {
		return truthUnknown, false
	}
	sink, label := c.lintSink(pr.Sink), pr.Label()
	if r.program != nil {
		n := pr.At("when")
		c.probe(r.program, r.When, n, sink, "when")
		truth, constant = conditionTruth(r.program, &c.load)
		if truth == truthNever && constant {
			sink.Warnf(n.Line, n.Column, "disabled-rule", "rule %q is disabled: its condition is always false", label)
		} else if truth == truthNever {
			sink.Errorf(n.Line, n.Column, "never-matches", "rule %q can never match: its condition reads only severity, source, kind and action, and is false for every value they take", label)
		}
	}
	if r.keyProg != nil {
		c.probe(r.keyProg, r.Suppress.Key, policy.MappingValue(pr.At("suppress"), "key"), sink, "suppress.key")
	}
	for i, w := range r.MutedDuring {
		if win, ok := c.policy.Windows[w]; ok && win.Always() {
			n := policy.ItemNode(pr.At("muted_during"), i)
			sink.Errorf(n.Line, n.Column, "always-muted", "rule %q: muted_during: window %q holds every minute of the week, so the rule never tells anyone", label, w)
		}
	}
	return truth, constant
}
