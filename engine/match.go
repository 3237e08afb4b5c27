package engine

import (
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"notifier/engine/event"
)

// Matcher is a boolean expression over the event outside any rule: a
// silence's --match.
type Matcher struct {
	Source string
	prog   *vm.Program
}

// CompileMatch compiles src as a boolean expression against the event
// (with the policy's windows for in_window). Problems name origin as the
// file, line 1, and the column inside src. A Matcher comes back with
// errors a run tolerates (Problem.Loads): a silence made before a check
// existed still works; a new one should be refused on any error.
func (p *Policy) CompileMatch(origin, src string) (*Matcher, Problems) {
	var ps Problems
	sink := problemSink{file: origin, data: []byte(src), list: &ps}
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: src, Line: 1, Column: 1}
	prog := newCompiler(p).compileExpr(src, n, sink, "match", expr.AsBool())
	if prog == nil {
		if len(ps) == 0 {
			sink.errorf(1, 1, "expr", "match: empty expression")
		}
		return nil, ps
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
