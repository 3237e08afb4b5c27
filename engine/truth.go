package engine

import (
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"notifier/engine/event"
)

// truthSteps is the budget of one of closedTruth's runs: all of them
// together stay within one evaluation's (EvalSteps). A condition that
// needs more is left unknown.
var truthSteps = uint(EvalSteps / (len(event.Closed["severity"]) * len(event.Closed["source"]) * len(event.Closed["kind"]) * len(event.Closed["action"])))

// Truth of a condition over every event, where it can be known.
const (
	truthUnknown = iota // depends on more than the closed fields, or fails
	truthAlways
	truthNever
)

// conditionTruth is closedTruth, and whether the condition is a constant
// (`true`, `false`, or one expr folds to it): written so on purpose, as
// a catch-all or a rule switched off, rather than found by lint.
func conditionTruth(p *vm.Program, m *meter) (truth int, constant bool) {
	if p == nil {
		return truthUnknown, false
	}
	_, constant = p.Node().(*ast.BoolNode)
	return closedTruth(p, m), constant
}

// closedTruth decides a condition that reads nothing but the closed
// fields (severity, source, kind, action) and rank(): it runs it for
// every combination of their values, which is every event it can see.
// `severity != "warning" || severity != "info"` (&& was meant) is always
// true; `severity == "critical" && severity == "warning"` never is. Any
// other field, a window, the time, a let variable, or an evaluation that
// fails leaves it unknown: lint never guesses. Each run spends at most
// truthSteps, out of the load's budget m.
func closedTruth(p *vm.Program, m *meter) int {
	if p == nil {
		return truthUnknown
	}
	node := p.Node()
	open := false
	ast.Find(node, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IdentifierNode:
			if _, closed := event.Closed[n.Value]; !closed && n.Value != "rank" {
				open = true
			}
		case *ast.VariableDeclaratorNode:
			open = true
		}
		return open
	})
	if open {
		return truthUnknown
	}
	var machine vm.VM
	seen := map[bool]bool{}
	for _, sev := range event.Closed["severity"] {
		for _, src := range event.Closed["source"] {
			for _, kind := range event.Closed["kind"] {
				for _, action := range event.Closed["action"] {
					out, err := m.run(&machine, p, &event.Event{Severity: sev, Source: src, Kind: kind, Action: action}, truthSteps)
					b, ok := out.(bool)
					if err != nil || !ok {
						return truthUnknown
					}
					seen[b] = true
				}
			}
		}
	}
	switch {
	case seen[true] && !seen[false]:
		return truthAlways
	case seen[false] && !seen[true]:
		return truthNever
	}
	return truthUnknown
}
