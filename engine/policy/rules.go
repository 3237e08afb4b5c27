package policy

import (
	"strings"
	"time"

	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// checkRule checks what makes one rule unusable, but for its
// expressions (the compiler's).
func (l *loader) checkRule(r *Rule) {
	sink, label := r.Sink, r.Label()
	if r.Name == "" && !r.Has("name") && r.Node.Kind == yaml.MappingNode {
		sink.Errorf(r.Node.Line, r.Node.Column, "rule-name", "%s: name is missing (history and explain refer to rules by name)", label)
	}
	if !r.Mapping {
		return // DecodeNode reported it
	}
	if n, ok := r.keys["when"]; !ok {
		sink.Errorf(r.Node.Line, r.Node.Column, "rule-when", "rule %q: when is missing (write when: \"true\" to match everything)", label)
	} else if strings.TrimSpace(r.When) == "" && n.Kind == yaml.ScalarNode { // other kinds: DecodeNode reported them
		sink.Errorf(n.Line, n.Column, "rule-when", "rule %q: when is empty (write when: \"true\" to match everything)", label)
	}
	l.checkStateful(r, label)
	if r.Drop && len(r.Notify) > 0 {
		n := r.At("drop")
		sink.Errorf(n.Line, n.Column, "drop-notify", "rule %q: drop and notify together: a dropped event notifies nobody", label)
	}
	for i, ch := range r.Notify {
		if _, ok := l.parsed.Channels[ch]; !ok {
			n := ItemNode(r.At("notify"), i)
			sink.Errorf(n.Line, n.Column, "undefined-channel", "rule %q: channel %q is not defined%s", label, ch, hint.Suggest(ch, MapKeys(l.parsed.Channels)))
		}
	}
	l.checkTemplates(r, label)
	for _, key := range []string{"active_during", "muted_during"} {
		list := r.ActiveDuring
		if key == "muted_during" {
			list = r.MutedDuring
		}
		for i, w := range list {
			if !l.parsed.windowNames[w] {
				n := ItemNode(r.At(key), i)
				sink.Errorf(n.Line, n.Column, "undefined-window", "rule %q: %s: window %q is not defined%s", label, key, w, hint.Suggest(w, MapKeys(l.parsed.windowNames)))
			}
		}
	}
}

// checkStateful checks suppress and escalate.
func (l *loader) checkStateful(r *Rule, label string) {
	sink := r.Sink
	if s := r.Suppress; s != nil {
		n := r.At("suppress")
		if at := MappingValue(n, "for"); s.For <= 0 && !badDuration(at) {
			sink.Errorf(at.Line, at.Column, "suppress", "rule %q: suppress.for must be a duration above 0, like 30m", label)
		}
		if r.Drop {
			sink.Errorf(n.Line, n.Column, "drop-suppress", "rule %q: drop with suppress: a dropped event is never notified", label)
		}
	}
	if e := r.Escalate; e != nil {
		n := r.At("escalate")
		if e.After < 2 {
			at := MappingValue(n, "after")
			sink.Errorf(at.Line, at.Column, "escalate-after", "rule %q: escalate.after is %d; it must be 2 or more (the Nth occurrence escalates)", label, e.After)
		}
		if at := MappingValue(n, "within"); e.Within <= 0 && !badDuration(at) {
			sink.Errorf(at.Line, at.Column, "escalate-within", "rule %q: escalate.within must be a duration above 0, like 30m", label)
		}
		if at := MappingValue(n, "notify"); len(e.Notify) == 0 && at != n {
			sink.Errorf(at.Line, at.Column, "escalate-notify", "rule %q: escalate.notify is empty: name at least one channel", label)
		} else if len(e.Notify) == 0 {
			sink.Errorf(n.Line, n.Column, "escalate-notify", "rule %q: escalate.notify names no channel", label)
		}
		for i, ch := range e.Notify {
			if _, ok := l.parsed.Channels[ch]; !ok {
				at := ItemNode(MappingValue(n, "notify"), i)
				sink.Errorf(at.Line, at.Column, "undefined-channel", "rule %q: escalate: channel %q is not defined%s", label, ch, hint.Suggest(ch, MapKeys(l.parsed.Channels)))
			}
		}
		if r.Drop {
			sink.Errorf(n.Line, n.Column, "drop-escalate", "rule %q: drop with escalate: a dropped event is never notified", label)
		}
	}
	if f := r.Flapping; f != nil {
		n := r.At("flapping")
		if f.Changes < 2 {
			at := MappingValue(n, "changes")
			sink.Errorf(at.Line, at.Column, "flapping", "rule %q: flapping.changes is %d; it must be 2 or more (raised and cleared N times within `within`)", label, f.Changes)
		}
		for _, d := range []struct {
			key string
			v   time.Duration
		}{{"within", f.Within}, {"quiet", f.Quiet}} {
			if at := MappingValue(n, d.key); d.v <= 0 && !badDuration(at) {
				sink.Errorf(at.Line, at.Column, "flapping", "rule %q: flapping.%s must be a duration above 0, like 10m", label, d.key)
			}
		}
		if len(r.Notify) == 0 && r.Escalate == nil {
			sink.Errorf(n.Line, n.Column, "flapping", "rule %q: flapping on a rule that tells nobody (no notify, no escalate)", label)
		}
	}
	if g := r.Group; g != nil {
		n := r.At("group")
		if at := MappingValue(n, "by"); at == n {
			sink.Errorf(n.Line, n.Column, "group", "rule %q: group.by is missing: an expression giving the group key, like 'cluster' or 'controller + \"/\" + string(cluster_id)'", label)
		} else if strings.TrimSpace(g.By) == "" && at.Kind == yaml.ScalarNode {
			sink.Errorf(at.Line, at.Column, "group", "rule %q: group.by is empty", label)
		}
		if at := MappingValue(n, "interval"); g.Interval != nil && *g.Interval <= 0 {
			sink.Errorf(at.Line, at.Column, "group", "rule %q: group.interval must be a duration above 0, like 5m", label)
		}
		if len(r.Notify) == 0 {
			sink.Errorf(n.Line, n.Column, "group", "rule %q: group without notify: a group is a notification to the rule's channels", label)
		}
	}
}

// badDuration reports whether n is a value the strict decoder already
// reported as no duration at all, so it is not reported twice.
func badDuration(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return n.Kind != yaml.MappingNode
	}
	_, err := time.ParseDuration(n.Value)
	return err != nil
}
