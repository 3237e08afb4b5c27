package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"notifier/engine/event"
	"notifier/engine/policy"
	"notifier/internal/hint"

	"github.com/expr-lang/expr"
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
