package template

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"text/template/parse"
	"time"
)

// MaxWork is the work one render may do, in steps: a step is about one
// value the template evaluates (a field, a variable, a constant, a
// function call), one turn of a range, one write of output, or
// BytesPerStep bytes a function reads or makes. Renders happen inside
// the state transaction, so no template and no event may make one cost
// more than some tens of milliseconds of CPU; a digest of 1,000 members
// with a few fields each takes less than half of it (TestBudgetFitsDigest).
const MaxWork = 250_000

// BytesPerStep is how many bytes a function reads or makes for a step;
// each entry of a map or list it reads is a step more (printing one
// sorts and reflects: it costs as much as a value evaluated).
const BytesPerStep = 16

// turnSteps is what a turn of a range costs besides its body: the
// element reflected, and a map's keys sorted.
const turnSteps = 4

// MaxRenderTime bounds a render's wall-clock time too, checked with the
// steps: a backstop for work the steps would undercount, far above what
// MaxWork allows on a loaded machine.
const MaxRenderTime = time.Second

var errBudget = fmt.Errorf("template exceeds its work budget of %d steps: it does too much for this event (a long loop, or big values in one)", MaxWork)

var errDeadline = fmt.Errorf("template exceeds its work budget: it ran for over %v", MaxRenderTime)

// IsOverBudget says err is Render's error for a render stopped by its
// work budget (MaxWork, MaxRenderTime).
func IsOverBudget(err error) bool { return errors.Is(err, errBudget) || errors.Is(err, errDeadline) }

// budget is what is left of one render's work. Not safe for concurrent
// use: each render has its own.
type budget struct {
	left     int
	deadline time.Time // none when zero: for tests that count steps only
	// check is the left at which the clock is read next: reading it at
	// every step would cost as much as the steps.
	check int
}

// clockEvery is how many steps go between readings of the clock.
const clockEvery = 512

func newBudget() *budget {
	return &budget{left: MaxWork, deadline: time.Now().Add(MaxRenderTime), check: MaxWork - clockEvery}
}

// spend takes n steps, or says the budget is spent.
func (b *budget) spend(n int) error {
	b.left -= n
	if b.left < 0 {
		b.left = -1 // stays spent: a later spend fails too
		return errBudget
	}
	if b.left <= b.check {
		b.check = b.left - clockEvery
		if !b.deadline.IsZero() && time.Now().After(b.deadline) {
			b.left = -1
			return errDeadline
		}
	}
	return nil
}

// bytes takes a step for a call and one per BytesPerStep bytes.
func (b *budget) bytes(n int) error { return b.spend(1 + n/BytesPerStep) }

// read takes a step for a call and the steps for what its arguments
// print as (size), before the function does any work with them.
func (b *budget) read(args ...any) error {
	n := 0
	for _, a := range args {
		n += cost(a)
	}
	return b.bytes(n)
}

// cost is size(v), plus for each entry of a list BytesPerStep, of a map
// mapEntrySteps steps: printing one sorts its keys and reflects each.
func cost(v any) int {
	n := size(v)
	switch v := v.(type) {
	case map[string]string:
		n += len(v) * mapEntrySteps * BytesPerStep
	case map[string]any:
		n += len(v) * mapEntrySteps * BytesPerStep
		for _, e := range v {
			n += cost(e) - size(e)
		}
	case []any:
		n += len(v) * BytesPerStep
		for _, e := range v {
			n += cost(e) - size(e)
		}
	case []map[string]any:
		n += len(v) * BytesPerStep
		for _, e := range v {
			n += cost(e) - size(e)
		}
	case []string:
		n += len(v) * BytesPerStep
	}
	return n
}

// mapEntrySteps is what an entry of a map costs to print or range over:
// its key sorted with the others and both reflected.
const mapEntrySteps = 8

// ranged takes the steps of a range over v before it starts (a map's
// keys are sorted first: mapEntrySteps each) and gives v as it is.
func (b *budget) ranged(v reflect.Value) (reflect.Value, error) {
	if u, _ := indirect(v); u.Kind() == reflect.Map {
		if err := b.spend(u.Len() * mapEntrySteps); err != nil {
			return reflect.Value{}, err
		}
	}
	return v, nil
}

// values is read for text/template's reflect.Value arguments.
func (b *budget) values(args ...reflect.Value) error {
	n := 0
	for _, a := range args {
		if a.IsValid() && a.CanInterface() {
			n += cost(a.Interface())
		}
	}
	return b.bytes(n)
}

// stepFunc and rangeFunc are the functions that take a range's steps
// at the start of each turn and before it starts: not names a template
// can call (the checker knows no such function), so only the calls
// instrument inserts use them.
const (
	stepFunc  = "_step"
	rangeFunc = "_range"
)

// instrument makes tree count its own work: each range's body starts
// with a call of stepFunc taking the body's weight, so a turn costs
// what it evaluates whatever the body calls. It returns the weight of
// the rest: what the template evaluates outside every range's body.
func instrument(tree *parse.Tree) int {
	if tree.Root == nil {
		return 0
	}
	return listWeight(tree, tree.Root)
}

// listWeight is the number of nodes l evaluates, but for the bodies of
// its ranges, which it instruments (each turn takes its own).
func listWeight(tree *parse.Tree, l *parse.ListNode) int {
	if l == nil {
		return 0
	}
	w := 0
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			w += 1 + pipeWeight(n.Pipe)
		case *parse.IfNode:
			w += 1 + pipeWeight(n.Pipe) + listWeight(tree, n.List) + listWeight(tree, n.ElseList)
		case *parse.WithNode:
			w += 1 + pipeWeight(n.Pipe) + listWeight(tree, n.List) + listWeight(tree, n.ElseList)
		case *parse.RangeNode:
			w += 1 + pipeWeight(n.Pipe) + listWeight(tree, n.ElseList)
			body := turnSteps + listWeight(tree, n.List)
			n.List.Nodes = append([]parse.Node{stepNode(tree, n.Position(), n.Line, body)}, n.List.Nodes...)
			// range X becomes range X | _range: a function of a
			// reflect.Value returning it is the identity to
			// text/template (evalCall unwraps the result), and the
			// range's variables are declared from the pipeline's
			// value as before.
			pos := n.Pipe.Position()
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos,
				Args: []parse.Node{parse.NewIdentifier(rangeFunc).SetTree(tree).SetPos(pos)}})
		case *parse.ListNode:
			w += listWeight(tree, n)
		default: // text, comment, break, continue
			w++
		}
	}
	return w
}

func pipeWeight(p *parse.PipeNode) int {
	if p == nil {
		return 0
	}
	w := len(p.Decl)
	for _, c := range p.Cmds {
		w++
		for _, a := range c.Args {
			w += argWeight(a)
		}
	}
	return w
}

func argWeight(n parse.Node) int {
	switch n := n.(type) {
	case *parse.FieldNode:
		return len(n.Ident)
	case *parse.VariableNode:
		return len(n.Ident)
	case *parse.ChainNode:
		return argWeight(n.Node) + len(n.Field)
	case *parse.PipeNode:
		return pipeWeight(n)
	}
	return 1
}

// stepNode is the action {{ _step weight }} at pos.
func stepNode(tree *parse.Tree, pos parse.Pos, line, weight int) parse.Node {
	num := &parse.NumberNode{NodeType: parse.NodeNumber, Pos: pos, IsInt: true, Int64: int64(weight), Text: strconv.Itoa(weight)}
	num.IsUint, num.Uint64 = true, uint64(weight)
	num.IsFloat, num.Float64 = true, float64(weight)
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{parse.NewIdentifier(stepFunc).SetTree(tree).SetPos(pos), num}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Line: line, Cmds: []*parse.CommandNode{cmd}}
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Line: line, Pipe: pipe}
}
