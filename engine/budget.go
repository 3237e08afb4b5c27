package engine

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"notifier/engine/event"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// The evaluation budget: every expression (a rule's when, a suppress.key,
// a silence's --match) is held to it while loading and on every event, so
// no policy can hold a run past its deadline. The README ("Evaluation
// budget") documents these values; a change there must follow a change
// here.
const (
	// MaxExprBytes is the longest expression accepted.
	MaxExprBytes = 64 << 10
	// MaxExprNesting is how deep brackets may nest: ( [ and { together.
	// expr's parser recurses once per level, and a goroutine's stack
	// overflow is fatal, not a panic; the check is a scan before parsing.
	MaxExprNesting = 64
	// MaxExprNodes is the most syntax nodes an expression may have
	// (expr's own default, made explicit).
	MaxExprNodes = 10_000
	// EvalSteps is the work one evaluation may do: one step per
	// iteration of a predicate (all, any, filter, map, count, reduce...)
	// and one per element of every array, map, range or repeated string
	// it builds. It bounds nested loops over literal arrays, whose
	// product of sizes is the cost.
	EvalSteps = 1_000_000
	// EventSteps is the work one event may cost over all its rules and
	// keys. A rule that loops or builds nothing costs nothing, so once
	// it is spent the rules that do fail, and the plain ones still
	// decide.
	EventSteps = 2 * EvalSteps
	// LoadSteps is the work loading a policy may spend evaluating its
	// expressions (probeBudget and the closed-field check), over all of
	// them.
	LoadSteps = 2 * EvalSteps
	// EvalTime is the wall-clock time one event's evaluation may take,
	// over all its rules and keys (and one silence's match): a safety net
	// for work the steps do not weigh, such as a linear operator inside a
	// loop (all(r, {# in r})) on a large operand. It is checked at every
	// loop iteration, so a run overshoots it by one iteration at most.
	EvalTime = time.Second
	// LoadTime is the same for all the evaluation loading a policy does.
	LoadTime = 2 * time.Second
)

// evalTime and loadTime are EvalTime and LoadTime, as the code reads
// them: tests of the step budget lift them, since under the race
// detector a million steps take longer than the time budget.
var evalTime, loadTime = EvalTime, LoadTime

// evalUntil is when an evaluation that starts now must end.
func evalUntil() time.Time { return time.Now().Add(evalTime) }

// budgetMessage is what a rule that ran out of budget says, in explain,
// the audit and lint; spentMessage what one says that ran out of what
// was left of the event's.
var (
	timeMessage   = fmt.Sprintf("exceeds the evaluation time budget (%s an event, %s a policy load: work inside a loop that the step budget does not weigh; see the README, Evaluation budget)", EvalTime.String(), LoadTime.String())
	budgetMessage = fmt.Sprintf("exceeds the evaluation budget of %d steps (loop iterations and elements built; see the README, Evaluation budget)", EvalSteps)
	spentMessage  = fmt.Sprintf("the event's evaluation budget of %d steps over all rules is spent (see the README, Evaluation budget)", EventSteps)
)

// meter is a budget shared by several evaluations: an event's rules, or
// a policy's load: steps, and a time after which no loop goes on.
type meter struct {
	left  uint
	until time.Time
}

// run evaluates prog on ev with at most limit steps, and at most what is
// left, and charges what it spent.
func (m *meter) run(machine *vm.VM, prog *vm.Program, ev *event.Event, limit uint) (any, error) {
	steps := min(limit, m.left)
	out, err := runBudget(machine, prog, ev, max(steps, 1), m.until)
	m.left -= min(m.left, stepsUsed(machine))
	if err != nil && steps < limit && overBudget(err) {
		var fe *file.Error
		if errors.As(err, &fe) {
			fe.Message = spentMessage
		}
	}
	return out, err
}

// stepsUsed is what the VM's last run charged to its memory budget.
// expr keeps it unexported; reflect may read it (TestStepsUsed pins the
// field). Without it, every run would count as free.
func stepsUsed(machine *vm.VM) uint {
	i := memoryField()
	if i < 0 {
		return 0
	}
	return uint(reflect.ValueOf(machine).Elem().Field(i).Uint())
}

// memoryField is the index of the VM's memory field, or -1: looked up
// once (by name it cost a few hundred ns a rule, every rule of every
// event).
var memoryField = sync.OnceValue(func() int {
	f, ok := reflect.TypeFor[vm.VM]().FieldByName("memory")
	if !ok || f.Type.Kind() != reflect.Uint || len(f.Index) != 1 {
		return -1
	}
	return f.Index[0]
})

// checkBudgetSource reports an expression too long, or nested too deep,
// to hand to expr's recursive-descent parser: the rune offset of the
// fault and why, or ok. It costs one pass over the text.
func checkBudgetSource(src string) (from int, msg string, ok bool) {
	if len(src) > MaxExprBytes {
		return 0, fmt.Sprintf("expression is %d bytes long; at most %d are accepted", len(src), MaxExprBytes), false
	}
	depth, quote, escaped, unary := 0, rune(0), false, 0
	comment := "" // "//" or "/*" while inside one
	pos := -1     // rune offset of r
	for i, r := range src {
		pos++
		switch {
		case comment == "//":
			if r == '\n' {
				comment = ""
			}
			continue
		case comment == "/*":
			if r == '/' && i > 0 && src[i-1] == '*' {
				comment = ""
			}
			continue
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case r == '\\' && quote != '`':
				escaped = true
			case r == quote:
				quote = 0
			}
			continue
		case r == '/' && i+1 < len(src) && (src[i+1] == '/' || src[i+1] == '*'):
			comment = src[i : i+2]
			continue
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			depth++
			if depth > MaxExprNesting {
				return pos, fmt.Sprintf("brackets nest more than %d deep", MaxExprNesting), false
			}
		case r == ')' || r == ']' || r == '}':
			depth = max(0, depth-1)
		}
		// A run of prefix operators (!!!!x, - - -x) recurses as
		// brackets do.
		switch r {
		case '!', '-', '+':
			unary++
			if unary > MaxExprNesting {
				return pos, fmt.Sprintf("more than %d operators in a row", MaxExprNesting), false
			}
		case ' ', '\t', '\n', '\r':
		default:
			unary = 0
		}
	}
	return 0, "", true
}

// budgetTicks makes every iteration of a predicate pay one step out of
// the VM's memory budget. expr has no step budget of its own; its memory
// budget is per run and also charged by the built-ins that return the
// memory they used, among them repeat(s, n), which charges len(s)*n.
// repeat(" ", 1) charges exactly one and allocates nothing, so a
// predicate body P becomes (repeat(" ", 1); P): same value, same type,
// one step. It must be the last patch, so the checks never see it.
//
// The body also calls clockName($env), which ends the run once the
// evaluation's time (EvalTime, LoadTime) is spent: budgetClock.
type budgetTicks struct{}

// clockName is the function budgetTicks calls at every iteration.
const clockName = "__budget_clock"

// errOutOfTime is what budgetClock ends an evaluation with.
var errOutOfTime = errors.New(timeMessage)

// budgetClock fails once the time runBudget gave the event in hand is
// past. expr passes the evaluation's env, the *Event runBudget runs on.
func budgetClock(params ...any) (any, error) {
	if len(params) == 1 {
		if ev, ok := params[0].(*event.Event); ok && !ev.EvalUntil.IsZero() && time.Now().After(ev.EvalUntil) {
			return nil, errOutOfTime
		}
	}
	return nil, nil
}

// Visit implements ast.Visitor.
func (budgetTicks) Visit(node *ast.Node) {
	p, ok := (*node).(*ast.PredicateNode)
	if !ok || p.Node == nil {
		return
	}
	tick := &ast.BuiltinNode{Name: "repeat", Arguments: []ast.Node{&ast.StringNode{Value: " "}, &ast.IntegerNode{Value: 1}}}
	env := &ast.IdentifierNode{Value: "$env"}
	clock := &ast.CallNode{Callee: &ast.IdentifierNode{Value: clockName}, Arguments: []ast.Node{env}}
	seq := &ast.SequenceNode{Nodes: []ast.Node{tick, clock, p.Node}}
	// Errors while ticking point at the predicate.
	for _, n := range []ast.Node{tick, tick.Arguments[0], tick.Arguments[1], env, clock, clock.Callee, seq} {
		n.SetLocation(p.Location())
	}
	p.Node = seq
}

// runBudget evaluates prog on ev within steps (EvalSteps on events) and
// stops its loops after until (never, when zero). An evaluation that runs
// out of steps says so in budgetMessage, one out of time in timeMessage,
// at the place it ran out.
func runBudget(machine *vm.VM, prog *vm.Program, ev *event.Event, steps uint, until time.Time) (any, error) {
	machine.MemoryBudget = steps
	defer func(was time.Time) { ev.EvalUntil = was }(ev.EvalUntil)
	ev.EvalUntil = until
	out, err := machine.Run(prog, ev)
	if err != nil && errors.Is(err, errOutOfTime) {
		var fe *file.Error
		if errors.As(err, &fe) {
			fe.Message = timeMessage
			return nil, fe
		}
		return nil, errOutOfTime
	}
	if err != nil && overBudget(err) {
		var fe *file.Error
		if errors.As(err, &fe) {
			fe.Message = budgetMessage
			return nil, fe
		}
		return nil, errors.New(budgetMessage)
	}
	return out, err
}

// overBudget reports whether err is expr's memory budget running out
// (the VM's own check or repeat's).
func overBudget(err error) bool {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message == "memory budget exceeded" || fe.Message == budgetMessage || fe.Message == spentMessage || fe.Message == timeMessage
	}
	return err.Error() == "memory budget exceeded" || errors.Is(err, errOutOfTime)
}

// probeEvent is an event with every closed field set, for probeBudget.
var probeEvent = event.Event{Severity: event.SeverityCritical, Source: event.SourceCMON, Kind: event.KindAlarm, Action: event.ActionNew}

// probeBudget runs prog once on a sample event: work that does not
// depend on the event (a loop nest over literal arrays) shows there, at
// load time, rather than on the first page. It returns the budget error,
// or nil; any other failure is the event's and is left to the run.
// Once the load's budget (m) is too low for a whole evaluation, nothing
// more is probed.
func probeBudget(prog *vm.Program, m *meter) *file.Error {
	if m.left < EvalSteps {
		return nil
	}
	var machine vm.VM
	ev := probeEvent
	_, err := m.run(&machine, prog, &ev, EvalSteps)
	var fe *file.Error
	if err != nil && overBudget(err) && errors.As(err, &fe) {
		return fe
	}
	return nil
}

// loopWork is the number of predicate iterations in n that its literal
// arrays and constant ranges fix, whatever the event: all(A, {any(B,
// ...)}) costs len(A)*(1+len(B)). An array only known at run time counts
// as one element here; the run-time budget holds it. The probe cannot
// see a loop nest behind a condition on the event (node != "" && ...):
// this can.
func loopWork(n ast.Node) float64 {
	switch n := n.(type) {
	case *ast.BuiltinNode:
		w := sumWork(n.Arguments...)
		if len(n.Arguments) >= 2 {
			if p, ok := n.Arguments[1].(*ast.PredicateNode); ok {
				size := literalLen(n.Arguments[0])
				w += size*(1+loopWork(p.Node)) - loopWork(p.Node)
				if n.Map != nil {
					w += size * loopWork(n.Map)
				}
			}
		}
		return w
	case *ast.PredicateNode:
		return loopWork(n.Node)
	case *ast.UnaryNode:
		return loopWork(n.Node)
	case *ast.BinaryNode:
		return sumWork(n.Left, n.Right)
	case *ast.ChainNode:
		return loopWork(n.Node)
	case *ast.MemberNode:
		return sumWork(n.Node, n.Property)
	case *ast.SliceNode:
		return sumWork(n.Node, n.From, n.To)
	case *ast.CallNode:
		return loopWork(n.Callee) + sumWork(n.Arguments...)
	case *ast.ConditionalNode:
		return sumWork(n.Cond, n.Exp1, n.Exp2)
	case *ast.VariableDeclaratorNode:
		return sumWork(n.Value, n.Expr)
	case *ast.SequenceNode:
		return sumWork(n.Nodes...)
	case *ast.ArrayNode:
		return sumWork(n.Nodes...)
	case *ast.MapNode:
		return sumWork(n.Pairs...)
	case *ast.PairNode:
		return sumWork(n.Key, n.Value)
	}
	return 0
}

func sumWork(nodes ...ast.Node) float64 {
	w := 0.0
	for _, n := range nodes {
		if n != nil {
			w += loopWork(n)
		}
	}
	return w
}

// literalLen is the length of a literal array or constant range (what
// expr folds them to, too), or 1 when only a run knows it.
func literalLen(n ast.Node) float64 {
	switch n := n.(type) {
	case *ast.ArrayNode:
		return float64(len(n.Nodes))
	case *ast.ConstantNode:
		if v := reflect.ValueOf(n.Value); v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
			return float64(v.Len())
		}
	case *ast.BinaryNode:
		from, ok1 := n.Left.(*ast.IntegerNode)
		to, ok2 := n.Right.(*ast.IntegerNode)
		if n.Operator == ".." && ok1 && ok2 {
			return float64(max(0, to.Value-from.Value+1))
		}
	}
	return 1
}
