package engine

import (
	"bufio"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"notifier/engine/policy"

	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
	"go.yaml.in/yaml/v3"
)

// A snapshot is a compiled policy in a form that loads without parsing
// YAML or compiling expressions. notifier runs once per event, and for a
// large policy those two steps cost more than everything else the run
// does; the snapshot makes a run with an unchanged policy cost about as
// much as starting the process. It is only ever used by the very binary
// that wrote it for the very sources it was written from (see cache.go).

// snapshotFormat changes whenever the encoding below does.
const snapshotFormat = "notifier-policy-snapshot-4"

type snapshot struct {
	Format   string
	Settings policy.Settings
	Files    []string
	Channels []snapChannel
	Windows  []snapWindow
	Rules    []snapRule
}

type snapChannel struct {
	Name, Type, File string
	YAML             []byte // the channel's mapping, re-encoded
	Line, Col        int
}

type snapWindow struct {
	Name string
	Spec policy.WindowSpec
}

type snapRule struct {
	Spec      policy.RuleSpec
	File      string
	Line, Col int
	Program   snapProgram
	Key       *snapProgram // suppress.key, when given
}

type snapProgram struct {
	Bytecode  []byte
	Arguments []int
	Constants []snapConst
	Functions []string
	Variables []string // names of let variables, in slot order
}

// Kinds of constants the encoder understands; anything else makes the
// policy uncacheable (it still works: it is compiled on every run).
const (
	constNil = iota
	constString
	constInt
	constFloat
	constBool
	constField
	constMethod
	constRegexp
	constList
	constSet
	constSafe // one of expr's built-ins that charge the budget (see budgetTicks), by name
)

type snapConst struct {
	Kind  uint8
	S     string
	I     int64
	F     float64
	Path  []string
	Index []int
	List  []snapConst
}

var errNotCacheable = errors.New("policy cannot be snapshotted")

// encodeSnapshot encodes p. Every program is decoded again and compared,
// opcode by opcode and constant by constant (through expr's own
// disassembler), so a snapshot that would not behave like the original is
// never written.
func encodeSnapshot(p *Policy) ([]byte, error) {
	s := snapshot{Format: snapshotFormat, Settings: p.Settings, Files: p.Files}
	for _, name := range policy.MapKeys(p.Channels) {
		ch := p.Channels[name]
		y, err := yaml.Marshal(ch.Node)
		if err != nil {
			return nil, err
		}
		s.Channels = append(s.Channels, snapChannel{Name: name, Type: ch.Type, File: ch.File, YAML: y, Line: ch.Node.Line, Col: ch.Node.Column})
	}
	for _, name := range policy.MapKeys(p.Windows) {
		s.Windows = append(s.Windows, snapWindow{Name: name, Spec: p.Windows[name].spec})
	}
	funcs := newCompiler(p, nil).functions()
	for _, r := range p.Rules {
		sp, err := snapProgramOf(r.program, r.When, funcs)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.Name, err)
		}
		sr := snapRule{Spec: r.RuleSpec, File: r.File, Line: r.Line, Col: r.Col, Program: sp}
		if r.keyProg != nil {
			kp, err := snapProgramOf(r.keyProg, r.Suppress.Key, funcs)
			if err != nil {
				return nil, fmt.Errorf("rule %q: suppress.key: %w", r.Name, err)
			}
			sr.Key = &kp
		}
		s.Rules = append(s.Rules, sr)
	}
	var e enc
	e.snapshot(&s)
	return e.b, nil
}

// decodeSnapshot rebuilds a policy from encodeSnapshot's output.
func decodeSnapshot(data []byte) (*Policy, error) {
	d := dec{b: data, n: len(data)}
	s := d.snapshot()
	if d.err != nil {
		return nil, d.err
	}
	p := &Policy{FromSnapshot: true, Settings: s.Settings, Files: s.Files, Channels: map[string]*policy.ChannelSpec{}, Windows: map[string]*Window{}}
	for _, c := range s.Channels {
		p.Channels[c.Name] = policy.LazyChannel(c.Name, c.Type, c.File, c.YAML, c.Line, c.Col)
	}
	var ps policy.Problems
	blank := &yaml.Node{}
	for _, w := range s.Windows {
		p.Windows[w.Name] = compileWindow(&policy.WindowDef{Name: w.Name, Spec: w.Spec, Decoded: true, Node: blank, Timezone: blank, Weekdays: blank, Times: blank}, &ps)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	p.Rules = d.rules(newCompiler(p, nil).functions())
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// funcLine matches a disassembled call of a function from the program's
// function table: "12  OpCall2  <0>  in_window".
// Compiled on first use: every run pays package initialisation.
var funcLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\d+\s+Op(Call[0-3]|LoadFunc|Store|LoadVar)\s+<(\d+)>\s+(\S+)\s*$`)
})

// snapProgramOf encodes prog and proves the encoding by decoding it.
func snapProgramOf(prog *vm.Program, src string, funcs map[string]vm.Function) (snapProgram, error) {
	sp, err := encodeProgram(prog)
	if err != nil {
		return sp, err
	}
	var e enc
	e.program(&sp)
	d := dec{b: e.b, n: len(e.b)}
	back := d.runnable(src, funcs)
	if d.err != nil || len(d.b) != 0 || disassemble(back, sp) != prog.Disassemble() {
		return sp, fmt.Errorf("%w: round trip differs", errNotCacheable)
	}
	return sp, nil
}

func encodeProgram(prog *vm.Program) (snapProgram, error) {
	if prog == nil {
		return snapProgram{}, fmt.Errorf("%w: a rule without a program", errNotCacheable)
	}
	sp := snapProgram{Arguments: prog.Arguments}
	sp.Bytecode = make([]byte, len(prog.Bytecode))
	for i, op := range prog.Bytecode {
		sp.Bytecode[i] = byte(op)
	}
	for _, c := range prog.Constants {
		sc, err := encodeConst(c)
		if err != nil {
			return sp, err
		}
		sp.Constants = append(sp.Constants, sc)
	}
	// The function table and the let variables are not exported; their
	// names are in the disassembly, and the round trip in encodeSnapshot
	// proves them.
	sc := bufio.NewScanner(strings.NewReader(prog.Disassemble()))
	for sc.Scan() {
		m := funcLine().FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		list := &sp.Functions
		if m[1] == "Store" || m[1] == "LoadVar" {
			list = &sp.Variables
		}
		for len(*list) <= i {
			*list = append(*list, "")
		}
		(*list)[i] = m[3]
	}
	return sp, nil
}

func encodeConst(c any) (snapConst, error) {
	switch v := c.(type) {
	case nil:
		return snapConst{Kind: constNil}, nil
	case string:
		return snapConst{Kind: constString, S: v}, nil
	case int:
		return snapConst{Kind: constInt, I: int64(v)}, nil
	case float64:
		return snapConst{Kind: constFloat, F: v}, nil
	case bool:
		b := int64(0)
		if v {
			b = 1
		}
		return snapConst{Kind: constBool, I: b}, nil
	case *runtime.Field:
		return snapConst{Kind: constField, Path: v.Path, Index: v.Index}, nil
	case *runtime.Method:
		return snapConst{Kind: constMethod, S: v.Name, I: int64(v.Index)}, nil
	case *regexp.Regexp:
		return snapConst{Kind: constRegexp, S: v.String()}, nil
	case []any:
		out := snapConst{Kind: constList}
		for _, item := range v {
			ic, err := encodeConst(item)
			if err != nil {
				return out, err
			}
			out.List = append(out.List, ic)
		}
		return out, nil
	case map[string]struct{}:
		out := snapConst{Kind: constSet}
		for k := range v {
			out.Path = append(out.Path, k)
		}
		return out, nil
	}
	if name := safeBuiltinName(c); name != "" {
		return snapConst{Kind: constSafe, S: name}, nil
	}
	return snapConst{}, fmt.Errorf("%w: constant of type %T", errNotCacheable, c)
}

// disassemble is prog's disassembly with the function names that a
// decoded program does not carry (it has no debug info, to load faster).
func disassemble(prog *vm.Program, sp snapProgram) string {
	debug := map[string]string{}
	for i, n := range sp.Functions {
		debug[fmt.Sprintf("func_%d", i)] = n
	}
	for i, n := range sp.Variables {
		debug[fmt.Sprintf("var_%d", i)] = n
	}
	for i, c := range sp.Constants {
		if c.Kind == constSafe { // expr's own disassembly names them
			debug[fmt.Sprintf("const_%d", i)] = c.S
		}
	}
	funcs := make([]vm.Function, len(sp.Functions))
	return vm.NewProgram(prog.Source(), nil, nil, 0, prog.Constants, prog.Bytecode, prog.Arguments, funcs, debug, nil).Disassemble()
}

// safeBuiltinName names the expr built-in whose Safe implementation c
// is, or "": expr puts those in a program's constants, not its function
// table.
func safeBuiltinName(c any) string {
	f, ok := c.(func(...any) (any, uint, error))
	if !ok || f == nil {
		return ""
	}
	for _, b := range builtin.Builtins {
		if b.Safe != nil && reflect.ValueOf(b.Safe).Pointer() == reflect.ValueOf(f).Pointer() {
			return b.Name
		}
	}
	return ""
}

// safeBuiltin is the Safe implementation of the expr built-in name, or nil.
func safeBuiltin(name string) func(...any) (any, uint, error) {
	for _, b := range builtin.Builtins {
		if b.Name == name && b.Safe != nil {
			return b.Safe
		}
	}
	return nil
}

// functions maps every name a program's function table can hold to its
// implementation: ours first, then expr's built-ins.
func (c *compiler) functions() map[string]vm.Function {
	m := make(map[string]vm.Function, len(builtin.Builtins)+2)
	for _, b := range builtin.Builtins {
		if b.Func != nil {
			m[b.Name] = b.Func
		}
	}
	m["rank"] = c.rank
	m["in_window"] = c.inWindow
	m[clockName] = budgetClock
	return m
}
