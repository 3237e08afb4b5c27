package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
	"unsafe"

	"notifier/engine/policy"

	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"

	"github.com/expr-lang/expr/file"
)

// The snapshot's binary encoding: varints and length-prefixed strings in
// a fixed order. It is hand-written because the snapshot exists to be
// fast to load: encoding/gob builds its decoders by reflection in every
// new process, which cost more than the compilation it replaced.

var errShortSnapshot = errors.New("snapshot truncated")

type enc struct{ b []byte }

func (e *enc) uint(u uint64)  { e.b = binary.AppendUvarint(e.b, u) }
func (e *enc) int(i int64)    { e.b = binary.AppendVarint(e.b, i) }
func (e *enc) str(s string)   { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) bytes(b []byte) { e.uint(uint64(len(b))); e.b = append(e.b, b...) }
func (e *enc) bool(v bool) {
	if v {
		e.uint(1)
	} else {
		e.uint(0)
	}
}
func (e *enc) ints(v []int) {
	e.uint(uint64(len(v)))
	for _, i := range v {
		e.int(int64(i))
	}
}

// words writes ints as 8-byte little-endian words, 8-byte aligned (from
// the start of the encoding), so that the decoder can use them in place.
func (e *enc) words(v []int) {
	e.uint(uint64(len(v)))
	for len(e.b)%8 != 0 {
		e.b = append(e.b, 0)
	}
	for _, i := range v {
		e.b = binary.LittleEndian.AppendUint64(e.b, uint64(int64(i)))
	}
}

func (e *enc) strs(v []string) {
	e.uint(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}

type dec struct {
	b   []byte
	n   int // length of the whole input, for alignment
	err error
	// interned constants by their encoding: the same field or string
	// shows up in most rules, and the VM only reads constants.
	interned map[string]any
}

func (d *dec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortSnapshot
		return 0
	}
	d.b = d.b[n:]
	return u
}

func (d *dec) int() int64 {
	if d.err != nil {
		return 0
	}
	i, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortSnapshot
		return 0
	}
	d.b = d.b[n:]
	return i
}

// count reads a length and checks it against what is left, so a corrupt
// snapshot cannot make the decoder allocate without bound.
func (d *dec) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.err = errShortSnapshot
		return 0
	}
	return int(n)
}

func (d *dec) bytes() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// str shares the snapshot's buffer: decodeSnapshot's caller hands over a
// buffer it never touches again, and copying every string was a third of
// the load time.
func (d *dec) str() string {
	b := d.bytes()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
func (d *dec) bool() bool { return d.uint() == 1 }

func (d *dec) ints() []int {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(d.int())
	}
	return out
}

// nativeInts says []int has the words' layout: 64-bit little-endian.
var nativeInts = strconv.IntSize == 64 && binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// words reads enc.words. The bytecode's arguments are the bulk of a
// snapshot; on the usual 64-bit little-endian machine they are used in
// place, without a copy.
func (d *dec) words() []int {
	n := int(d.uint())
	if d.err != nil {
		return nil
	}
	pad := (8 - (d.n-len(d.b))%8) % 8
	if pad > len(d.b) || n > (len(d.b)-pad)/8 {
		d.err = errShortSnapshot
		return nil
	}
	d.b = d.b[pad:]
	raw := d.b[:n*8]
	d.b = d.b[n*8:]
	if n == 0 {
		return nil
	}
	if nativeInts && uintptr(unsafe.Pointer(&raw[0]))%8 == 0 {
		return unsafe.Slice((*int)(unsafe.Pointer(&raw[0])), n)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(int64(binary.LittleEndian.Uint64(raw[i*8:])))
	}
	return out
}

func (d *dec) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (e *enc) snapshot(s *snapshot) {
	e.str(s.Format)
	e.int(int64(s.Settings.Deadline))
	e.int(int64(s.Settings.Cluster.ID))
	e.str(s.Settings.Cluster.Name)
	e.str(s.Settings.StatePath)
	e.str(s.Settings.RedisURL)
	e.str(s.Settings.AuditLog)
	e.str(s.Settings.RedisPasswordFile)
	e.strs(s.Files)
	e.uint(uint64(len(s.Channels)))
	for _, c := range s.Channels {
		e.str(c.Name)
		e.str(c.Type)
		e.str(c.File)
		e.bytes(c.YAML)
		e.int(int64(c.Line))
		e.int(int64(c.Col))
	}
	e.uint(uint64(len(s.Windows)))
	for _, w := range s.Windows {
		e.str(w.Name)
		e.str(w.Spec.Timezone)
		e.strs(w.Spec.Weekdays)
		e.strs(w.Spec.Times)
	}
	e.uint(uint64(len(s.Rules)))
	for _, r := range s.Rules {
		e.str(r.Spec.Name)
		e.str(r.Spec.When)
		e.strs(r.Spec.Notify)
		e.bool(r.Spec.Drop)
		e.bool(r.Spec.Continue)
		e.strs(r.Spec.ActiveDuring)
		e.strs(r.Spec.MutedDuring)
		e.str(r.File)
		e.int(int64(r.Line))
		e.int(int64(r.Col))
		e.program(&r.Program)
		e.bool(r.Spec.Suppress != nil)
		if sup := r.Spec.Suppress; sup != nil {
			e.int(int64(sup.For))
			e.str(sup.Key)
			e.bool(r.Key != nil)
			if r.Key != nil {
				e.program(r.Key)
			}
		}
		e.bool(r.Spec.Escalate != nil)
		if esc := r.Spec.Escalate; esc != nil {
			e.int(int64(esc.After))
			e.int(int64(esc.Within))
			e.strs(esc.Notify)
		}
	}
}

func (e *enc) program(p *snapProgram) {
	e.bytes(p.Bytecode)
	e.words(p.Arguments)
	e.uint(uint64(len(p.Constants)))
	for _, c := range p.Constants {
		e.constant(c)
	}
	e.strs(p.Functions)
	e.strs(p.Variables)
}

func (e *enc) constant(c snapConst) {
	e.uint(uint64(c.Kind))
	e.str(c.S)
	e.int(c.I)
	e.uint(math.Float64bits(c.F))
	e.strs(c.Path)
	e.ints(c.Index)
	e.uint(uint64(len(c.List)))
	for _, item := range c.List {
		e.constant(item)
	}
}

func (d *dec) snapshot() *snapshot {
	s := &snapshot{Format: d.str()}
	if s.Format != snapshotFormat {
		d.err = errors.New("snapshot format differs")
		return s
	}
	s.Settings.Deadline = time.Duration(d.int())
	s.Settings.Cluster.ID = int(d.int())
	s.Settings.Cluster.Name = d.str()
	s.Settings.StatePath, s.Settings.RedisURL, s.Settings.AuditLog = d.str(), d.str(), d.str()
	s.Settings.RedisPasswordFile = d.str()
	s.Files = d.strs()
	s.Channels = make([]snapChannel, d.count())
	for i := range s.Channels {
		c := &s.Channels[i]
		c.Name, c.Type, c.File, c.YAML = d.str(), d.str(), d.str(), d.bytes()
		c.Line, c.Col = int(d.int()), int(d.int())
	}
	s.Windows = make([]snapWindow, d.count())
	for i := range s.Windows {
		w := &s.Windows[i]
		w.Name, w.Spec.Timezone, w.Spec.Weekdays, w.Spec.Times = d.str(), d.str(), d.strs(), d.strs()
	}
	return s
}

// rules decodes the rules straight into runnable programs (no
// intermediate form: this is the hot path of every run).
func (d *dec) rules(funcs map[string]vm.Function) []*Rule {
	rules := make([]*Rule, d.count())
	for i := range rules {
		r := &Rule{}
		r.Name, r.When, r.Notify = d.str(), d.str(), d.strs()
		r.Drop, r.Continue = d.bool(), d.bool()
		r.ActiveDuring, r.MutedDuring = d.strs(), d.strs()
		r.File, r.Line, r.Col = d.str(), int(d.int()), int(d.int())
		r.program = d.runnable(r.When, funcs)
		if d.bool() {
			r.Suppress = &policy.SuppressSpec{For: time.Duration(d.int()), Key: d.str()}
			if d.bool() {
				r.keyProg = d.runnable(r.Suppress.Key, funcs)
			}
		}
		if d.bool() {
			r.Escalate = &policy.EscalateSpec{After: int(d.int()), Within: time.Duration(d.int()), Notify: d.strs()}
		}
		rules[i] = r
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("snapshot has trailing bytes")
	}
	return rules
}

func (d *dec) runnable(src string, funcs map[string]vm.Function) *vm.Program {
	// vm.Opcode is a byte: the bytecode is used in place, like strings.
	raw := d.bytes()
	var code []vm.Opcode
	if len(raw) > 0 {
		code = unsafe.Slice((*vm.Opcode)(unsafe.Pointer(&raw[0])), len(raw))
	}
	args := d.words()
	consts := make([]any, d.count())
	for i := range consts {
		consts[i] = d.value(0)
	}
	fns := make([]vm.Function, d.count())
	for i := range fns {
		name := d.str()
		if fns[i] = funcs[name]; fns[i] == nil && d.err == nil {
			d.err = fmt.Errorf("%w: function %q", errNotCacheable, name)
		}
	}
	vars := d.count()
	for range vars {
		d.bytes() // names are for disassembly only
	}
	// No locations: they only place run-time errors, and Evaluate
	// recompiles a failing rule of a snapshot to report those exactly.
	return vm.NewProgram(file.NewSource(src), nil, nil, vars, consts, code, args, fns, nil, nil)
}

// skip advances past one constant without decoding it.
func (d *dec) skip(depth int) {
	if depth > 32 {
		d.err = errors.New("snapshot constants nested too deep")
		return
	}
	d.uint()
	d.bytes()
	d.int()
	d.uint()
	for n := d.count(); n > 0; n-- {
		d.bytes()
	}
	for n := d.count(); n > 0; n-- {
		d.int()
	}
	for n := d.count(); n > 0 && d.err == nil; n-- {
		d.skip(depth + 1)
	}
}

// value decodes one constant written by enc.constant. Identical
// constants (the same field in every rule) are decoded once and shared:
// their encoded bytes are the key.
func (d *dec) value(depth int) any {
	start := d.b
	d.skip(depth)
	if d.err != nil {
		return nil
	}
	raw := start[:len(start)-len(d.b)]
	key := unsafe.String(&raw[0], len(raw))
	if v, ok := d.interned[key]; ok {
		return v
	}
	rest := d.b
	d.b = start
	v := d.decodeValue(depth)
	d.b = rest
	if d.interned == nil {
		d.interned = map[string]any{}
	}
	d.interned[key] = v
	return v
}

func (d *dec) decodeValue(depth int) any {
	kind, str, i, f, path, index := d.uint(), d.str(), d.int(), math.Float64frombits(d.uint()), d.strs(), d.ints()
	n := d.count()
	var list []any
	if n > 0 {
		list = make([]any, n)
		for j := range list {
			list[j] = d.decodeValue(depth + 1)
		}
	}
	switch kind {
	case constNil:
		return nil
	case constString:
		return str
	case constInt:
		return int(i)
	case constFloat:
		return f
	case constBool:
		return i == 1
	case constField:
		return &runtime.Field{Path: path, Index: index}
	case constMethod:
		return &runtime.Method{Name: str, Index: int(i)}
	case constRegexp:
		re, err := regexp.Compile(str)
		if err != nil && d.err == nil {
			d.err = err
		}
		return re
	case constList:
		if list == nil {
			list = []any{}
		}
		return list
	case constSafe:
		if f := safeBuiltin(str); f != nil {
			return f
		}
		if d.err == nil {
			d.err = fmt.Errorf("snapshot: unknown built-in %q", str)
		}
		return nil
	case constSet:
		set := make(map[string]struct{}, len(path))
		for _, k := range path {
			set[k] = struct{}{}
		}
		return set
	}
	if d.err == nil {
		d.err = fmt.Errorf("snapshot: unknown constant kind %d", kind)
	}
	return nil
}
