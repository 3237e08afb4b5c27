package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"notifier/engine/event"
	"notifier/engine/policy"
	"notifier/internal/hint"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// ruleChecks validates what must be known at compile time — window
// names, severities, the values of fields with a fixed set of values —
// and passes the event time to in_window. Problems are collected, not
// returned, since expr visitors cannot fail.
type ruleChecks struct {
	policy  *Policy
	windows map[string]bool // in_window names seen; may be nil
	// lint runs lint's checks too (lintFail); a run's compile does not.
	lint bool
	errs []checkError
}

type checkError struct {
	check string
	from  int // rune offset in the expression
	msg   string
	lint  bool // lint's: the expression still compiles and runs as written
}

func (v *ruleChecks) fail(n ast.Node, check, format string, args ...any) {
	v.errs = append(v.errs, checkError{check: check, from: n.Location().From, msg: fmt.Sprintf(format, args...)})
}

// lintFail is fail for one of lint's checks: the expression still
// compiles and runs as written. Only lint calls it (v.lint).
func (v *ruleChecks) lintFail(n ast.Node, check, format string, args ...any) {
	v.errs = append(v.errs, checkError{check: check, from: n.Location().From, msg: fmt.Sprintf(format, args...), lint: true})
}

// Visit implements ast.Visitor.
func (v *ruleChecks) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		v.comparison(n)
	case *ast.BuiltinNode:
		// now() is the event's time, as in_window's is: explain --at and
		// tests on a virtual clock see what production would, and a run's
		// event time is its clock anyway. now(tz) is time.In(tz).
		if n.Name == "now" && len(n.Arguments) == 0 {
			ast.Patch(node, &ast.IdentifierNode{Value: "time"})
			return
		}
		if n.Name == "now" && len(n.Arguments) == 1 {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.MemberNode{Node: &ast.IdentifierNode{Value: "time"}, Property: &ast.StringNode{Value: "In"}, Method: true},
				Arguments: n.Arguments,
			})
			return
		}
		if v.lint {
			v.constantCall(n, n.Arguments)
		}
	case *ast.CallNode:
		v.call(n)
	}
}

// constantCall runs a built-in whose arguments are all constants, like
// duration("5") or date("2026-13-01"): one that fails does so on every
// event, and the rule could never match.
func (v *ruleChecks) constantCall(n ast.Node, args []ast.Node) {
	if len(args) == 0 {
		return
	}
	for _, a := range args {
		if !constant(a) {
			return
		}
	}
	if _, err := evalConstant(n); err != nil && err != errNotAlone {
		v.lintFail(n, "fails-always", "%s fails on every event: %s", n.String(), err)
	}
}

// errNotAlone: a constant expression that does not compile without its
// context, so it is not judged alone (the whole expression is checked).
var errNotAlone = errors.New("not an expression of its own")

// evalConstant runs an expression that reads nothing from the event on
// its own: its value, or the error it fails with.
func evalConstant(n ast.Node) (any, error) {
	prog, err := expr.Compile(n.String())
	if err != nil {
		return nil, errNotAlone
	}
	// No loops (constant excludes predicates), and what it builds is
	// held to the budget.
	machine := vm.VM{MemoryBudget: EvalSteps}
	out, err := machine.Run(prog, nil)
	if err != nil {
		var fe *file.Error
		msg := err.Error()
		if errors.As(err, &fe) {
			msg = fe.Message
		}
		msg, _, _ = strings.Cut(msg, "\n")
		return nil, errors.New(msg)
	}
	return out, nil
}

// constant reports whether n reads nothing from the event: literals and
// operations on them only.
func constant(n ast.Node) bool {
	return ast.Find(n, func(n ast.Node) bool {
		switch n.(type) {
		case *ast.IdentifierNode, *ast.PointerNode, *ast.VariableDeclaratorNode, *ast.PredicateNode, *ast.CallNode:
			return true
		}
		return false
	}) == nil
}

// comparison flags `severity == "crit"`, `"crit" != severity` and
// `kind in ["node", "nodes"]`: a literal the field can never hold.
func (v *ruleChecks) comparison(n *ast.BinaryNode) {
	switch n.Operator {
	case "==", "!=":
		field, lit := closedField(n.Left), stringLit(n.Right)
		if field == "" {
			field, lit = closedField(n.Right), stringLit(n.Left)
		}
		if field != "" && lit != nil {
			v.impossible(field, lit, n.Operator)
		}
	case "%": // (/ divides as floats: x / 0 is +Inf, no failure)
		if !v.lint {
			return
		}
		if i, ok := n.Right.(*ast.IntegerNode); ok && i.Value == 0 {
			v.lintFail(n.Right, "fails-always", "remainder of a division by zero, on every event")
		}
	case "<", "<=", ">", ">=":
		if !v.lint {
			return
		}
		// Strings order as text: "critical" < "info" < "warning", so
		// severity > "info" is true of warnings and never of criticals.
		field := closedField(n.Left)
		if field == "" {
			field = closedField(n.Right)
		}
		switch {
		case field == "severity":
			v.lintFail(n, "text-order", "severity compared with %s orders text, not urgency (as text \"critical\" < \"info\" < \"warning\"): use rank(severity) %s rank(\"warning\")", n.Operator, n.Operator)
		case field != "":
			v.lintFail(n, "text-order", "%s compared with %s orders text: %s has no order (it is one of %s); use == or in", field, n.Operator, field, hint.QuoteAll(event.Closed[field]))
		}
	case "in", "not in":
		field := closedField(n.Left)
		list, ok := n.Right.(*ast.ArrayNode)
		if field == "" || !ok {
			return
		}
		for _, item := range list.Nodes {
			if lit := stringLit(item); lit != nil {
				v.impossible(field, lit, n.Operator)
			}
		}
	}
}

func (v *ruleChecks) impossible(field string, lit *ast.StringNode, op string) {
	values := event.Closed[field]
	if slices.Contains(values, lit.Value) {
		return
	}
	what, always := "comparison", "false"
	if op == "in" || op == "not in" {
		what = "test"
	}
	if op == "!=" || op == "not in" {
		always = "true"
	}
	v.fail(lit, "impossible-value", "%s is never %q (it is one of %s), so this %s is always %s%s",
		field, lit.Value, hint.QuoteAll(values), what, always, hint.Suggest(lit.Value, values))
}

// closedField names the closed event field n refers to, or "".
func closedField(n ast.Node) string {
	if id, ok := n.(*ast.IdentifierNode); ok {
		if _, closed := event.Closed[id.Value]; closed {
			return id.Value
		}
	}
	return ""
}

func stringLit(n ast.Node) *ast.StringNode {
	s, _ := n.(*ast.StringNode)
	return s
}

func (v *ruleChecks) call(call *ast.CallNode) {
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	switch callee.Value {
	case "rank":
		if len(call.Arguments) != 1 {
			return // the type checker reports the count
		}
		if s, ok := call.Arguments[0].(*ast.StringNode); ok && event.SeverityRank(s.Value) == 0 {
			v.fail(s, "expr", "rank(%q): not a severity; want %q, %q or %q%s", s.Value, event.SeverityInfo, event.SeverityWarning, event.SeverityCritical,
				hint.Suggest(s.Value, []string{event.SeverityInfo, event.SeverityWarning, event.SeverityCritical}))
		}
	case "in_window":
		if len(call.Arguments) != 1 {
			v.fail(call, "expr", "in_window takes one window name, like in_window(\"business-hours\")")
			return
		}
		arg := call.Arguments[0]
		name, isString := "", false
		if s, ok := arg.(*ast.StringNode); ok {
			name, isString = s.Value, true
		} else if v.lint && constant(arg) {
			// "bi" + "z": a name all the same, known now; one that is not
			// defined fails at run time, as it did before lint knew.
			out, _ := evalConstant(arg)
			name, isString = out.(string)
		}
		if isString {
			if _, defined := v.policy.Windows[name]; !defined {
				fail := v.fail
				if _, literal := arg.(*ast.StringNode); !literal {
					fail = v.lintFail
				}
				fail(arg, "undefined-window", "in_window(%q): window is not defined%s", name, hint.Suggest(name, policy.MapKeys(v.policy.Windows)))
			} else if v.windows != nil {
				v.windows[name] = true
			}
		}
		// The event's own time decides, so explain --at and tests with
		// virtual clocks see what production would.
		call.Arguments = append(call.Arguments, &ast.IdentifierNode{Value: "time"})
	}
}
