package policy

import (
	"fmt"
	"slices"
	"strings"

	"notifier/engine/event"
	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// Inhibit is one entry of `inhibit` as decoded, with its nodes.
type Inhibit struct {
	InhibitSpec
	Node *yaml.Node
	Sink Sink
	// Decoded says the entry is a mapping that decoded: only such an
	// entry is compiled.
	Decoded bool
}

// At returns the value node of key, or the entry's own node.
func (in *Inhibit) At(key string) *yaml.Node { return MappingValue(in.Node, key) }

// Label is how problems name the entry.
func (in *Inhibit) Label() string {
	if in.Name == "" {
		return fmt.Sprintf("inhibit entry at line %d", in.Node.Line)
	}
	return fmt.Sprintf("inhibit %q", in.Name)
}

func (l *loader) parseInhibits(sink Sink, v *yaml.Node) {
	if v.Kind != yaml.SequenceNode {
		if v.Tag != "!!null" {
			sink.Errorf(v.Line, v.Column, "type", "inhibit: want a list of {name, source, target, equal}, got %s", KindName(v))
		}
		return
	}
	fields := event.PlainNames()
	for i, iv := range v.Content {
		in := &Inhibit{Node: iv, Sink: sink}
		ps := DecodeNode(sink.File, iv, &in.InhibitSpec)
		*l.problems = append(*l.problems, prefixPaths(ps, fmt.Sprintf("inhibit[%d].", i))...)
		if iv.Kind != yaml.MappingNode {
			continue // DecodeNode reported it
		}
		in.Decoded = len(ps) == 0
		label := in.Label()
		if in.Name == "" {
			sink.Errorf(iv.Line, iv.Column, "inhibit", "%s: name is missing (history and explain say what held an event by it)", label)
		} else if prev := l.inhibitAt(in.Name); prev != "" {
			n := in.At("name")
			sink.Errorf(n.Line, n.Column, "duplicate-inhibit", "inhibit %q: already defined at %s", in.Name, prev)
			in.Decoded = false
		}
		for _, key := range []string{"source", "target"} {
			n := in.At(key)
			text := in.Source
			if key == "target" {
				text = in.Target
			}
			if n == iv {
				sink.Errorf(iv.Line, iv.Column, "inhibit", "%s: %s is missing (an expression over the event)", label, key)
				in.Decoded = false
			} else if strings.TrimSpace(text) == "" && n.Kind == yaml.ScalarNode {
				sink.Errorf(n.Line, n.Column, "inhibit", "%s: %s is empty (an expression over the event)", label, key)
				in.Decoded = false
			}
		}
		for j, f := range in.Equal {
			if !slices.Contains(fields, f) {
				n := ItemNode(in.At("equal"), j)
				sink.Errorf(n.Line, n.Column, "inhibit", "%s: equal: %q is not an event field with one value%s", label, f, hint.Suggest(f, fields))
				in.Decoded = false
			}
		}
		l.parsed.Inhibits = append(l.parsed.Inhibits, in)
	}
}

// inhibitAt is where an inhibit entry of that name is already defined
// ("file:line"), or "".
func (l *loader) inhibitAt(name string) string {
	for _, in := range l.parsed.Inhibits {
		if in.Name == name {
			return fmt.Sprintf("%s:%d", in.Sink.File, in.Node.Line)
		}
	}
	return ""
}
