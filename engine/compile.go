package engine

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"notifier/engine/event"
	"notifier/engine/policy"
	"notifier/internal/hint"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	exprcompiler "github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// compiler compiles rule expressions against the typed Event. The expr
// configuration (the environment's types, the functions) is built once
// per compiler and copied for every expression: built per expression, it
// was an eighth of compiling a policy.
type compiler struct {
	policy *Policy
	base   *conf.Config
	// lint, when set, gets the findings of the checks a run never makes
	// (lint's): compiling for a run leaves it nil and skips them.
	lint *policy.Problems
	// windows records the windows named by in_window, so lint can tell
	// which defined windows nothing uses (nil when not linting).
	windows map[string]bool
	// load is what lint may still spend evaluating expressions.
	load meter
}

func newCompiler(p *Policy, lint *policy.Problems) *compiler {
	c := &compiler{policy: p, lint: lint, load: newLoadMeter()}
	if lint != nil {
		c.windows = map[string]bool{}
	}
	c.base = conf.CreateNew()
	for _, op := range []expr.Option{
		expr.Env(event.Event{}),
		expr.Function("rank", c.rank, new(func(string) int)),
		expr.Function("in_window", c.inWindow, new(func(string, time.Time) bool)),
		expr.Function(clockName, budgetClock),
		expr.MaxNodes(MaxExprNodes),
	} {
		op(c.base)
	}
	return c
}

// prepared is the first option of every expression: the compiler's
// configuration, copied. The copy shares the base's maps, which checking
// and compiling only read (and the type cache, which they fill: one
// goroutine compiles a policy); what differs per expression (the
// expected kind, the patches) is set on the copy.
func (c *compiler) prepared(cfg *conf.Config) {
	*cfg = *c.base
	cfg.Visitors = nil
}

// exprCompile is expr.Compile(src, c.options(kind, checks)...) without
// the fresh configuration expr.Compile makes for every expression (a map
// of every built-in: a fifth of compiling a policy): the same steps, on a
// copy of the compiler's (prepared).
func (c *compiler) exprCompile(src string, kind expr.Option, checks *ruleChecks) (*vm.Program, error) {
	var cfg conf.Config
	for _, op := range c.options(kind, checks) {
		op(&cfg)
	}
	cfg.Check()
	tree, err := checker.ParseCheck(src, &cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Optimize {
		if err := optimizer.Optimize(&tree.Node, &cfg); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return exprcompiler.Compile(tree, &cfg)
}

// rank implements rank(severity) for expressions.
func (c *compiler) rank(params ...any) (any, error) {
	return event.SeverityRank(params[0].(string)), nil
}

// inWindow implements in_window(name); the compiler appends the event's
// time as the second argument (see ruleChecks).
func (c *compiler) inWindow(params ...any) (any, error) {
	w := c.policy.Windows[params[0].(string)]
	if w == nil { // a dynamic name: checked here, not at compile time
		return false, fmt.Errorf("in_window: window %q is not defined", params[0])
	}
	return w.Contains(params[1].(time.Time)), nil
}

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

// compileRule compiles one `when` expression; n is its YAML node, for
// positions.
func (c *compiler) compileRule(src string, n *yaml.Node, sink policy.Sink) *vm.Program {
	return c.compileExpr(src, n, sink, "when", expr.AsBool())
}

// compileKey compiles a suppress.key expression: it must give a string.
func (c *compiler) compileKey(src string, n *yaml.Node, sink policy.Sink) *vm.Program {
	return c.compileExpr(src, n, sink, "suppress.key", expr.AsKind(reflect.String))
}

// compileExpr compiles one expression. What keeps it from compiling goes
// to sink; lint's findings to c.lint, when linting.
func (c *compiler) compileExpr(src string, n *yaml.Node, sink policy.Sink, field string, kind expr.Option) *vm.Program {
	if from, msg, ok := checkBudgetSource(src); !ok {
		c.report(src, n, sink, field, "budget", from, msg)
		return nil
	}
	checks := &ruleChecks{policy: c.policy, windows: c.windows, lint: c.lint != nil}
	prog, err := c.exprCompile(src, kind, checks)
	blocking := false
	for _, e := range checks.errs {
		if e.lint {
			c.report(src, n, c.lintSink(sink), field, e.check, e.from, e.msg)
			continue
		}
		c.report(src, n, sink, field, e.check, e.from, e.msg)
		blocking = true
	}
	if blocking {
		return nil // what expr says after a failed check is mostly its echo
	}
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			c.report(src, n, sink, field, "expr", fe.From, fe.Message)
		} else {
			// expr turns a panic while compiling (a constant regexp that
			// does not compile, say) into an error carrying a stack trace:
			// the first line is the message.
			msg, _, _ := strings.Cut(err.Error(), "\n")
			sink.Errorf(n.Line, n.Column, "expr", "%s: %s", field, msg)
		}
		return nil
	}
	return prog
}

// lintSink is sink, adding to c.lint.
func (c *compiler) lintSink(sink policy.Sink) policy.Sink {
	sink.List = c.lint
	return sink
}

// probe is lint's budget check of a compiled expression. Over budget, a
// run still uses it: the rule fails, as a rule failing at run time does,
// and later rules still decide. Said at the start of the expression: the
// loop that runs out is the innermost, not the one to fix.
func (c *compiler) probe(prog *vm.Program, src string, n *yaml.Node, sink policy.Sink, field string) {
	if prog == nil {
		return
	}
	if w := loopWork(prog.Node()); w > EvalSteps {
		c.report(src, n, sink, field, "budget", 0, fmt.Sprintf("%s: its loops over literal arrays take %.0f", budgetMessage, w))
	} else if fe := probeBudget(prog, &c.load); fe != nil {
		c.report(src, n, sink, field, "budget", 0, fe.Message)
	}
}

// options are the expr options of one expression: the policy's, the
// result's kind, the checks, and last the budget's ticks (the checks
// must not see them).
func (c *compiler) options(kind expr.Option, checks *ruleChecks) []expr.Option {
	return []expr.Option{c.prepared, kind, expr.Patch(checks), expr.Patch(budgetTicks{})}
}

// report adds an error about an expression to sink, at its place in the
// YAML scalar.
func (c *compiler) report(src string, n *yaml.Node, sink policy.Sink, field, check string, from int, msg string) {
	line, col := policy.ScalarPos(n, policy.SplitLines(sink.Data), from)
	msg = strings.ReplaceAll(msg, "\n", " ")
	if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
		msg += hint.Suggest(name, eventNames())
	}
	sink.Errorf(line, col, check, "%s: %s%s", field, msg, snippet(src, from))
}

// snippet quotes the expression around rune offset from, so a one-line
// error still shows the author what was meant.
func snippet(src string, from int) string {
	runes := []rune(strings.ReplaceAll(src, "\n", " "))
	if from > len(runes) {
		from = len(runes)
	}
	start, end := max(0, from-20), min(len(runes), from+20)
	return fmt.Sprintf(" (at %q)", string(runes[start:end]))
}

// eventNames lists the names expressions can use, for did-you-mean.
func eventNames() []string {
	return append(event.Names(), "rank", "in_window")
}
