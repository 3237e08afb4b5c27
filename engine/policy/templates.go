package policy

import (
	"slices"

	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// checkTemplates checks a rule's `templates`: a mapping of channel names
// to the template options the rule writes in place of the channel's
// own. This package knows no channel type, so the options themselves
// are Options.CheckTemplates'.
func (l *loader) checkTemplates(r *Rule, label string) {
	n, ok := r.keys["templates"]
	if !ok || n.Tag == "!!null" {
		return
	}
	sink := r.Sink
	if n.Kind != yaml.MappingNode {
		sink.Errorf(n.Line, n.Column, "type", "rule %q: templates: want a mapping of channel names to template options, got %s", label, KindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		spec, defined := l.parsed.Channels[k.Value]
		if !defined {
			sink.Errorf(k.Line, k.Column, "undefined-channel", "rule %q: templates: channel %q is not defined%s", label, k.Value, hint.Suggest(k.Value, MapKeys(l.parsed.Channels)))
			continue
		}
		if !slices.Contains(r.Notify, k.Value) && (r.Escalate == nil || !slices.Contains(r.Escalate.Notify, k.Value)) {
			lint := Sink{File: sink.File, Data: sink.Data, List: &l.parsed.lint}
			lint.Warnf(k.Line, k.Column, "template-channel", "rule %q: templates.%s: the rule does not notify %s: these templates are never used", label, k.Value, k.Value)
		}
		if v.Kind != yaml.MappingNode {
			if v.Tag != "!!null" {
				sink.Errorf(v.Line, v.Column, "type", "rule %q: templates.%s: want a mapping of template options, got %s", label, k.Value, KindName(v))
			}
			continue
		}
		if l.opts.CheckTemplates != nil && spec.Type != "" {
			*l.problems = append(*l.problems, l.opts.CheckTemplates(r, spec, v)...)
		}
	}
}
