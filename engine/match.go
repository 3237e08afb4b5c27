package engine

import (
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"notifier/engine/event"
	"notifier/engine/policy"
)

// Matcher is a boolean expression over the event outside any rule: a
// silence's --match.
type Matcher struct {
	Source string
	prog   *vm.Program
}

// CompileMatch compiles src as a boolean expression against the event
// (with the policy's windows for in_window), as a run does: only what
// keeps it from compiling is a problem, so a silence made before a check
// existed still works. Problems name origin as the file, line 1, and
// the column inside src.
func (p *Policy) CompileMatch(origin, src string) (*Matcher, policy.Problems) {
	return p.compileMatch(origin, src, false)
}

// LintMatch is CompileMatch with lint's checks too, whose findings are
// errors like any: a new silence should be refused on any of them.
func (p *Policy) LintMatch(origin, src string) (*Matcher, policy.Problems) {
	return p.compileMatch(origin, src, true)
}

func (p *Policy) compileMatch(origin, src string, lint bool) (*Matcher, policy.Problems) {
	var ps policy.Problems
	sink := policy.Sink{File: origin, Data: []byte(src), List: &ps}
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: src, Line: 1, Column: 1}
	var c *compiler
	if lint {
		c = newCompiler(p, &ps)
	} else {
		c = newCompiler(p, nil)
	}
	prog := c.compileExpr(src, n, sink, "match", expr.AsBool())
	if prog == nil {
		if len(ps) == 0 {
			sink.Errorf(1, 1, "expr", "match: empty expression")
		}
		return nil, ps
	}
	if lint {
		c.probe(prog, src, n, sink, "match")
	}
	return &Matcher{Source: src, prog: prog}, ps
}

// Match reports whether ev matches. A failure at run time is no match.
func (m *Matcher) Match(ev *event.Event) bool {
	var machine vm.VM
	out, err := runBudget(&machine, m.prog, ev, EvalSteps, evalUntil())
	b, _ := out.(bool)
	return err == nil && b
}
