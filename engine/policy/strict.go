package policy

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// DecodeNode decodes a YAML node into out (a pointer to a struct with yaml
// tags) strictly: unknown keys, duplicate keys and values of the wrong
// type are problems at their exact line and column, all of them reported.
// yaml.v3's own KnownFields reports only the first problem and only a
// line, which is not enough for an operator fixing a policy in CI. Keys
// listed in skip are accepted and left alone (the caller handles them).
func DecodeNode(file string, n *yaml.Node, out any, skip ...string) Problems {
	var ps Problems
	d := strictDecoder{sink: Sink{File: file, List: &ps}, skip: skip}
	d.decode(n, reflect.ValueOf(out).Elem(), "")
	return ps
}

type strictDecoder struct {
	sink Sink
	skip []string // top-level keys to ignore
}

var durationType = reflect.TypeFor[time.Duration]()

// KindName is how a YAML node kind reads in an error message.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (d *strictDecoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.Tag == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		d.slice(n, v, path)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			panic(fmt.Sprintf("policy: strict decode of %s is not supported", v.Type()))
		}
		d.mapping(n, v, path)
	case reflect.String:
		if !d.scalar(n, path, "a string") {
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		if !d.scalar(n, path, "an integer") {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil || n.Tag != "!!int" {
			d.sink.Errorf(n.Line, n.Column, "type", "%s: %s is not an integer", path, KindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if !d.scalar(n, path, "true or false") {
			return
		}
		if n.Tag != "!!bool" {
			d.sink.Errorf(n.Line, n.Column, "type", "%s: %s is not true or false", path, KindName(n))
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("policy: strict decode of %s is not supported", v.Type()))
	}
}

// scalar reports whether n is a non-null scalar, recording a problem if not.
func (d *strictDecoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.sink.Errorf(n.Line, n.Column, "type", "%s: want %s, got %s", path, want, KindName(n))
		return false
	}
	return true
}

func (d *strictDecoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if !d.scalar(n, path, "a duration like 30s or 1h") {
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil || dur < 0 {
		d.sink.Errorf(n.Line, n.Column, "duration", "%s: %q is not a duration (want e.g. 30s, 5m, 1h30m)", path, n.Value)
		return
	}
	v.SetInt(int64(dur))
}

func (d *strictDecoder) slice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.sink.Errorf(n.Line, n.Column, "type", "%s: want a list, got %s", path, KindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

func (d *strictDecoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.sink.Errorf(n.Line, n.Column, "type", "%s: want a mapping, got %s", strings.TrimPrefix(path, "."), KindName(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		sub := strings.TrimPrefix(path+"."+key, ".")
		if prev, dup := seen[key]; dup {
			d.sink.Errorf(k.Line, k.Column, "duplicate-key", "%s: key %q already defined at line %d", sub, key, prev.Line)
			continue
		}
		seen[key] = k
		if path == "" && slices.Contains(d.skip, key) {
			continue
		}
		idx, ok := fields[key]
		if !ok {
			d.sink.Errorf(k.Line, k.Column, "unknown-key", "%s: unknown key%s", sub, hint.Suggest(key, slices.Collect(maps.Keys(fields))))
			continue
		}
		d.decode(val, v.Field(idx), sub)
	}
}

// mapping decodes a mapping with keys of the author's choosing (a
// channel's custom details, the parts a policy test expects) into a map
// with string keys: each key a name, given once (a key given twice is a
// problem, as in a struct, rather than the last one silently winning),
// each value strictly of the map's element type. Null leaves the map
// nil.
func (d *strictDecoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.sink.Errorf(n.Line, n.Column, "type", "%s: want a mapping, got %s", strings.TrimPrefix(path, "."), KindName(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		sub := strings.TrimPrefix(path+"."+k.Value, ".")
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" || k.Tag == "!!merge" {
			d.sink.Errorf(k.Line, k.Column, "type", "%s: want a name as the key, got %s", strings.TrimPrefix(path, "."), KindName(k))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.sink.Errorf(k.Line, k.Column, "duplicate-key", "%s: key %q already defined at line %d", sub, k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		elem := reflect.New(v.Type().Elem()).Elem()
		before := len(*d.sink.List)
		if d.decode(val, elem, sub); len(*d.sink.List) == before { // what did not decode is not there
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
	}
	v.Set(m)
}

// yamlFields maps yaml key names to struct field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}
