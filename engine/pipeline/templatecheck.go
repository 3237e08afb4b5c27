package pipeline

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"notifier/channels"
	"notifier/engine/policy"

	"go.yaml.in/yaml/v3"
)

// checkOverride validates rule r's override of spec's templates (over,
// decoded alone from node) as the channel validates its own options: on
// the channel's config with the override written onto it (overlay), so
// a syslog field's name or a Teams fact's name is checked wherever it is
// written. A channel that is not valid by itself is said at the channel,
// not here. Each problem is placed at the option it names in node.
func checkOverride(t channels.Type, r *policy.Rule, spec *policy.ChannelSpec, node *yaml.Node, over channels.Config, label string) policy.Problems {
	cfg := t.NewConfig()
	if ps := policy.DecodeNode(spec.File, spec.Node, cfg, "type"); len(ps) > 0 {
		return nil
	}
	channels.ResolveFiles(cfg, filepath.Dir(spec.File))
	if cfg.Validate() != nil {
		return nil
	}
	overlay(reflect.ValueOf(cfg), reflect.ValueOf(over))
	err := cfg.Validate()
	if err == nil {
		return nil
	}
	var ps policy.Problems
	for _, msg := range strings.Split(err.Error(), "\n") {
		msg = strings.TrimPrefix(msg, spec.Type+": ")
		at := node
		if end := strings.Index(msg, ":"); end > 0 {
			at = writtenAt(node, strings.Split(indexRE().ReplaceAllString(msg[:end], ".$1"), "."))
		}
		ps = append(ps, policy.Problem{File: r.File, Line: at.Line, Col: at.Column, Severity: "error", Check: "channel",
			Message: fmt.Sprintf("%s: %s", label, msg)})
	}
	return ps
}

// writtenAt is where the dotted option path is written below n: the key
// of its entry in a mapping (a name may hold dots: "facts.a.b" is the
// fact "a.b"), the item of a list, or the deepest node found.
func writtenAt(n *yaml.Node, path []string) *yaml.Node { return optionAt(n, path, true) }

// optionAt walks the dotted option path below n as writtenAt says, and
// gives a mapping entry's key (key) or its value.
func optionAt(n *yaml.Node, path []string, key bool) *yaml.Node {
	if len(path) == 0 {
		return n
	}
	switch n.Kind {
	case yaml.MappingNode:
		for j := len(path); j > 0; j-- {
			name := strings.Join(path[:j], ".")
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value != name {
					continue
				}
				if j == len(path) && key {
					return n.Content[i]
				}
				return optionAt(n.Content[i+1], path[j:], key)
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(path[0]); err == nil && i >= 0 && i < len(n.Content) {
			return optionAt(n.Content[i], path[1:], key)
		}
	}
	return n
}

// indexRE is a list index as a channel's message writes it ("links[0]"),
// for the dotted path of an option ("links.0"). Compiled on first use:
// every run would pay for it at start-up.
var indexRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[(\d+)\]`) })

// overlay writes onto dst what src — a rule's override, decoded alone
// into a config of the same type — sets, as the override is used at run
// time (forDelivery): a map entry by entry, a list whole, any other
// value that is not zero.
func overlay(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		if dst.IsNil() {
			dst.Set(src)
			return
		}
		overlay(dst.Elem(), src.Elem())
	case reflect.Struct:
		for i := range src.NumField() {
			if dst.Field(i).CanSet() {
				overlay(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Map:
		if src.Len() == 0 {
			return
		}
		if dst.IsNil() {
			dst.Set(reflect.MakeMapWithSize(dst.Type(), src.Len()))
		}
		for it := src.MapRange(); it.Next(); {
			dst.SetMapIndex(it.Key(), it.Value())
		}
	case reflect.Slice:
		if !src.IsNil() {
			dst.Set(src)
		}
	default:
		if !src.IsZero() {
			dst.Set(src)
		}
	}
}
