package engine

import (
	"reflect"
	"strings"
	"time"

	"notifier/engine/policy"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// Compile parses and compiles policy sources the way a run needs them:
// it returns the problems that make the policy unusable (the policy is
// nil when any is an error), and computes nothing else — lint's checks
// are Lint's.
func Compile(srcs []policy.Source, opts policy.Options) (*Policy, policy.Problems) {
	p, ps, _ := compile(srcs, opts)
	return p, ps
}

// compile is Compile, and the compiler it used (tests check what it did).
func compile(srcs []policy.Source, opts policy.Options) (*Policy, policy.Problems, *compiler) {
	opts.Lint = false
	parsed, ps := policy.Parse(srcs, opts)
	p, c := build(parsed, &ps, nil)
	c.unreachable(parsed, &ps)
	ps = parsed.Sorted(ps)
	if len(ps.Errors()) > 0 {
		return nil, ps, c
	}
	return p, ps, c
}

// Lint is Compile with every check lint makes: what is allowed but
// likely wrong (warnings), and the errors a run still runs with (checks
// added after policies were written in production: upgrading notifier
// must never turn a policy that ran into one that does not load). The
// ignore directives apply. The policy is Compile's: nil when it does not
// load.
func Lint(srcs []policy.Source, opts policy.Options) (*Policy, policy.Problems) {
	opts.Lint = true
	parsed, ps := policy.Parse(srcs, opts)
	var lint policy.Problems
	p, c := build(parsed, &ps, &lint)
	c.unreachable(parsed, &ps)
	loadFailed := len(ps.Errors()) > 0
	c.lintRules(parsed)
	lint = append(lint, parsed.Lint(c.windows, loadFailed)...)
	ps = parsed.Acknowledged(append(ps, lint...), loadFailed)
	if loadFailed {
		return nil, ps
	}
	return p, ps
}

// build compiles what Parse decoded: windows, then every rule's
// expressions. Errors go to ps; lint's findings to lint, when set.
func build(parsed *policy.Parsed, ps *policy.Problems, lint *policy.Problems) (*Policy, *compiler) {
	p := &Policy{
		unmutes:  &unmuteMemo{m: map[unmuteKey]time.Time{}},
		Settings: parsed.Settings,
		Channels: parsed.Channels,
		Windows:  make(map[string]*Window, len(parsed.Windows)),
		Files:    parsed.Files,
	}
	for _, def := range parsed.Windows {
		if !def.Decoded {
			p.Windows[def.Name] = &Window{Name: def.Name}
			continue
		}
		p.Windows[def.Name] = compileWindow(def, ps)
	}
	for name, ch := range parsed.Channels {
		if ch.Rate != nil {
			if p.Rates == nil {
				p.Rates = map[string]policy.RateSpec{}
			}
			p.Rates[name] = *ch.Rate
		}
	}
	c := newCompiler(p, lint)
	p.Rules = make([]*Rule, 0, len(parsed.Rules))
	for _, pr := range parsed.Rules {
		r := &Rule{RuleSpec: pr.RuleSpec, File: pr.File, Line: pr.Line, Col: pr.Col}
		if pr.Mapping {
			sink := pr.Sink
			sink.List = ps
			if pr.Has("when") && !blank(r.When) {
				r.program = c.compileRule(r.When, pr.At("when"), sink)
			}
			if r.Suppress != nil && !blank(r.Suppress.Key) {
				r.keyProg = c.compileKey(r.Suppress.Key, policy.MappingValue(pr.At("suppress"), "key"), sink)
			}
			if r.Group != nil && !blank(r.Group.By) {
				r.groupProg = c.compileExpr(r.Group.By, policy.MappingValue(pr.At("group"), "by"), sink, "group.by", expr.AsKind(reflect.String))
			}
		}
		p.Rules = append(p.Rules, r)
		p.flaps = p.flaps || r.Flapping != nil
		p.groups = p.groups || r.Group != nil
	}
	for _, pi := range parsed.Inhibits {
		if !pi.Decoded {
			continue
		}
		in := &Inhibit{InhibitSpec: pi.InhibitSpec, File: pi.Sink.File, Line: pi.Node.Line, Col: pi.Node.Column}
		sink := pi.Sink
		sink.List = ps
		in.source = c.compileExpr(in.Source, pi.At("source"), sink, pi.Label()+": source", expr.AsBool())
		in.target = c.compileExpr(in.Target, pi.At("target"), sink, pi.Label()+": target", expr.AsBool())
		if in.source != nil && in.target != nil {
			p.Inhibits = append(p.Inhibits, in)
		}
	}
	*ps = append(*ps, parsed.NoRules(*ps)...)
	return p, c
}

// stops reports whether rule i, when it matches, ends evaluation.
func stops(r *Rule) bool { return !r.Continue || r.Drop }

// catchAll reports whether the rule's condition is the constant true:
// written so on purpose, as a catch-all.
func catchAll(r *Rule) bool {
	if r.program == nil {
		return false
	}
	b, ok := r.program.Node().(*ast.BoolNode)
	return ok && b.Value
}

// unreachable reports, as errors, the rules after a catch-all (when:
// "true") that ends evaluation: they can never match. When an earlier
// rule already matches every event, found only by evaluating it (lint's
// truth check), that rule is the one lint names instead, and the run
// keeps the policy as it always did; finding that out is the only lint
// work a run does, and only for a policy with rules after a catch-all.
func (c *compiler) unreachable(parsed *policy.Parsed, ps *policy.Problems) {
	rules := c.policy.Rules
	at := -1
	for i, r := range rules {
		if stops(r) && catchAll(r) {
			at = i
			break
		}
	}
	if at < 0 || at == len(rules)-1 {
		return
	}
	if first := c.firstStopper(parsed, at); first != at {
		return
	}
	stopper := parsed.Rules[at]
	for _, pr := range parsed.Rules[at+1:] {
		sink := pr.Sink
		sink.List = ps
		sink.Errorf(pr.Node.Line, pr.Node.Column, "unreachable-rule", "rule %q can never match: rule %q at %s:%d matches every event and ends evaluation (no continue, or drop)",
			pr.Name, stopper.Name, stopper.Sink.File, stopper.Node.Line)
	}
}

// firstStopper is the index of the first of rules[:upto+1] that matches
// every event by lint's truth check and ends evaluation, or -1. It
// spends the load's budget as lintRules does, rule by rule, so both see
// the same truths; what it would report is dropped.
func (c *compiler) firstStopper(parsed *policy.Parsed, upto int) int {
	replay := &compiler{policy: c.policy, lint: new(policy.Problems), load: newLoadMeter()}
	for i, r := range c.policy.Rules[:upto+1] {
		if truth, _ := replay.lintRule(parsed.Rules[i], r); truth == truthAlways && stops(r) {
			return i
		}
	}
	return -1
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }
