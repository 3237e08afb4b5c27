package template

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template/parse"
	"time"

	"notifier/internal/hint"
)

// kind is what the checker knows of a value: enough to say which names
// below it exist and whether it may be ranged over.
type kind int

const (
	kindAny     kind = iota // not known: anything goes, nothing ranges
	kindRoot                // the notification: event fields and Notification
	kindMember              // one member: event fields
	kindMembers             // the list of members
	kindFields              // the raw fields: any name, each a string
	kindTime                // a time.Time: its methods
	kindValue               // a string, number or bool: no names below it
)

// scope is the dot and the variables in effect.
type scope struct {
	dot  kind
	vars map[string]kind
	// in is what the innermost range ranges over (kindAny outside one):
	// a range nests only over fields inside one over members, so the
	// work is at most members times fields.
	in kind
}

// with is s with its variables copied, for a nested control structure
// (its variables end with it).
func (s scope) with(dot kind) scope {
	vars := make(map[string]kind, len(s.vars))
	for k, v := range s.vars {
		vars[k] = v
	}
	return scope{dot: dot, vars: vars, in: s.in}
}

type checker struct {
	text     string
	event    map[string]bool
	eventAll []string
	problems Problems
}

func newChecker(text string, event []string) *checker {
	c := &checker{text: text, event: map[string]bool{}, eventAll: event}
	for _, n := range event {
		c.event[n] = true
	}
	return c
}

func (c *checker) problem(off int, format string, args ...any) {
	c.problems = append(c.problems, Problem{Offset: max(0, min(off, len(c.text))), Message: fmt.Sprintf(format, args...)})
}

func (ps Problems) sorted() Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Offset - b.Offset })
	return ps
}

func (c *checker) list(l *parse.ListNode, s scope) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		c.node(n, s)
	}
}

func (c *checker) node(n parse.Node, s scope) {
	switch n := n.(type) {
	case *parse.ActionNode:
		c.pipe(n.Pipe, s)
	case *parse.IfNode:
		inner := s.with(s.dot)
		c.pipe(n.Pipe, inner)
		c.list(n.List, inner)
		c.list(n.ElseList, s.with(s.dot))
	case *parse.WithNode:
		inner := s.with(s.dot)
		k := c.pipe(n.Pipe, inner)
		inner.dot = k
		c.list(n.List, inner)
		c.list(n.ElseList, s.with(s.dot))
	case *parse.RangeNode:
		c.rangeNode(n, s)
	case *parse.TemplateNode:
		c.problem(int(n.Position()), "template and block are not allowed: a template is one piece of text")
	case *parse.ListNode:
		c.list(n, s)
	}
	// Text, comments, break and continue need nothing.
}

// rangeNode allows ranging over the members or the raw fields only:
// what is bounded by the event. A number (Go 1.22's range 1000000000),
// a function or anything else could loop without bound.
func (c *checker) rangeNode(n *parse.RangeNode, s scope) {
	inner := s.with(s.dot)
	decl := n.Pipe.Decl
	n.Pipe.Decl = nil // checked below, with the element's kind
	k := c.pipe(n.Pipe, inner)
	n.Pipe.Decl = decl
	elem, key := kindAny, kindValue
	switch k {
	case kindMembers:
		elem = kindMember
	case kindFields:
		elem = kindValue
	default:
		c.problem(int(n.Pipe.Position()), "range is only over .members or .fields: anything else could loop without bound")
	}
	if s.in != kindAny && !(s.in == kindMembers && k == kindFields) {
		c.problem(int(n.Pipe.Position()), "range inside a range is only over .fields inside a range over .members: nested loops multiply")
	}
	inner.in = k
	switch len(decl) {
	case 1:
		inner.vars[decl[0].Ident[0]] = elem
	case 2:
		inner.vars[decl[0].Ident[0]] = key
		inner.vars[decl[1].Ident[0]] = elem
	}
	inner.dot = elem
	c.list(n.List, inner)
	c.list(n.ElseList, s.with(s.dot))
}

// pipe checks a pipeline and returns the kind of its result, declaring
// or assigning its variables in s.
func (c *checker) pipe(p *parse.PipeNode, s scope) kind {
	if p == nil {
		return kindAny
	}
	k := kindAny
	for i, cmd := range p.Cmds {
		k = c.command(cmd, s, i > 0)
	}
	for _, v := range p.Decl {
		name := v.Ident[0]
		if old, ok := s.vars[name]; ok && p.IsAssign && rangeable(old) && old != k {
			// A loop could run a range over the variable after the
			// assignment (range $x ... {{ $x = 1000000000 }}).
			c.problem(int(v.Position()), "%s holds .members or .fields: it may not be given anything else", name)
		}
		s.vars[name] = k
	}
	return k
}

// command checks one command of a pipeline; piped says the previous
// command's result is its last argument.
func (c *checker) command(cmd *parse.CommandNode, s scope, piped bool) kind {
	if len(cmd.Args) == 0 {
		return kindAny
	}
	first := cmd.Args[0]
	if id, ok := first.(*parse.IdentifierNode); ok {
		nargs := len(cmd.Args) - 1
		if piped {
			nargs++
		}
		argKinds := make([]kind, 0, len(cmd.Args)-1)
		for _, a := range cmd.Args[1:] {
			argKinds = append(argKinds, c.arg(a, s))
		}
		return c.call(id, nargs, argKinds)
	}
	if len(cmd.Args) > 1 {
		c.problem(int(cmd.Args[1].Position()), "%s is not a function: it takes no arguments", strings.TrimSpace(first.String()))
	} else if piped {
		// A method given the piped value ("x" | .time.Format) would do
		// work no budget counts.
		name, off := strings.TrimSpace(first.String()), int(first.Position())
		if i := strings.LastIndex(c.text[:min(len(c.text), off+len(name))], name); i >= 0 {
			off = i // a field's position is its last name's
		}
		c.problem(off, "%s is not a function: nothing may be piped into it", name)
	}
	return c.arg(first, s)
}

// arg checks an operand and returns its kind.
func (c *checker) arg(n parse.Node, s scope) kind {
	switch n := n.(type) {
	case *parse.DotNode:
		return s.dot
	case *parse.FieldNode:
		return c.fields(s.dot, n.Ident, int(n.Position()))
	case *parse.VariableNode:
		k, ok := s.vars[n.Ident[0]]
		if !ok {
			k = kindAny // the parser rejects undefined variables
		}
		return c.fields(k, n.Ident[1:], int(n.Position())+len(strings.Join(n.Ident, ".")))
	case *parse.ChainNode:
		k := kindAny
		if p, ok := n.Node.(*parse.PipeNode); ok {
			k = c.pipe(p, s.with(s.dot))
		} else {
			k = c.arg(n.Node, s)
		}
		return c.fields(k, n.Field, chainFieldOffset(c.text, n))
	case *parse.PipeNode:
		return c.pipe(n, s.with(s.dot))
	case *parse.IdentifierNode:
		return c.call(n, 0, nil)
	case *parse.StringNode, *parse.NumberNode, *parse.BoolNode, *parse.NilNode:
		return kindValue
	}
	return kindAny
}

// chainFieldOffset is where the fields of a chain (x).a.b start: after
// the closing parenthesis.
func chainFieldOffset(text string, n *parse.ChainNode) int {
	off := int(n.Position())
	if i := strings.IndexByte(text[min(off, len(text)):], ')'); i >= 0 {
		return off + i + 1
	}
	return off
}

// fields resolves .a.b.c below a value of kind k; near is the node's
// position, which text/template puts at or after the chain's start.
func (c *checker) fields(k kind, idents []string, near int) kind {
	if len(idents) == 0 {
		return k
	}
	joined := "." + strings.Join(idents, ".")
	at := near
	if i := strings.LastIndex(c.text[:min(len(c.text), near+len(joined))], joined); i >= 0 {
		at = i
	} else if i := strings.Index(c.text[min(near, len(c.text)):], joined); i >= 0 {
		at = near + i
	}
	for _, id := range idents {
		k = c.field(k, id, at+1)
		at += 1 + len(id)
	}
	return k
}

var timeType = reflect.TypeFor[time.Time]()

func (c *checker) field(k kind, id string, at int) kind {
	switch k {
	case kindRoot, kindMember:
		if c.event[id] {
			return eventKind(id)
		}
		if k == kindRoot && slices.Contains(Notification, id) {
			if id == Members {
				return kindMembers
			}
			return kindValue
		}
		what := "unknown field"
		names := c.eventAll
		if k == kindRoot {
			names = append(slices.Clone(c.eventAll), Notification...)
		} else if slices.Contains(Notification, id) {
			what = "a member has no field"
		}
		c.problem(at, "%s %q%s", what, id, hint.Suggest(id, names))
		return kindAny
	case kindFields:
		return kindValue
	case kindTime:
		m, ok := timeType.MethodByName(id)
		if !ok {
			c.problem(at, "a time has no method %q (see Go's time.Time: Unix, UTC, Format...)", id)
			return kindAny
		}
		if m.Type.NumOut() > 0 && m.Type.Out(0) == timeType {
			return kindTime
		}
		return kindValue
	case kindMembers:
		c.problem(at, "%q: .members is a list: range over it, or index it (index .members 0)", id)
		return kindAny
	case kindValue:
		c.problem(at, "%q: not a field of a value (a string, number or bool has none)", id)
		return kindAny
	}
	return kindAny
}

// rangeable says a range may go over a value of kind k.
func rangeable(k kind) bool { return k == kindMembers || k == kindFields }

// eventKind is the kind of an event field.
func eventKind(name string) kind {
	switch name {
	case RawFields:
		return kindFields
	case Time:
		return kindTime
	}
	return kindValue
}
