package channels

import (
	"maps"
	"slices"
	"strings"
)

// Template is one option of a channel's config whose value is a
// message template (text/template over the event's fields by their
// policy names: `{{ .severity | upper }} on {{ .node }}`). A config lists
// its templates (Config.Templates); the pipeline compiles them with the
// policy, lets a rule override them, renders them for each delivery
// into Message.Parts, and the channel uses a rendered part in place of
// its built-in text. A template that fails to render leaves its part
// out, so the channel falls back to its built-in text (never an empty
// or lost message), and the run says so.
type Template struct {
	// Option is the option's YAML path in the channel's config, dotted:
	// "summary", "custom_details.runbook", "links.0.href". It is the key
	// of the rendered text in Message.Parts, and how lint finds the
	// template's position in the policy file.
	Option string
	// Text points at the config's field holding the template ("" when not
	// written: the channel's built-in text is used).
	Text *string
	// Required parts must not render blank (a summary, a subject): a blank
	// result counts as a failure, and the built-in text is sent.
	Required bool
	// JSON parts must render one valid JSON value (a webhook body); what
	// does not parse counts as a failure.
	JSON bool
}

// MapTemplates appends to ts a template for each entry of m (a map
// option such as Slack's fields), as "option.name", in name order.
func MapTemplates(ts []Template, option string, m map[string]string) []Template {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		text := m[name]
		ts = append(ts, Template{Option: option + "." + name, Text: &text})
	}
	return ts
}

// Part is one rendered template of a message.
type Part struct {
	Name  string // the option, with the prefix PartsUnder was given cut off
	Value string
}

// Part returns the text the policy's template for option rendered for
// this message; ok is false when the policy has no such template or it
// failed to render: the channel then sends its built-in text.
func (m *Message) Part(option string) (text string, ok bool) {
	text, ok = m.Parts[option]
	return text, ok
}

// PartOr is Part, or def when the message has no such part.
func (m *Message) PartOr(option, def string) string {
	if text, ok := m.Parts[option]; ok {
		return text
	}
	return def
}

// PartsUnder returns the rendered parts below prefix ("custom_details"
// gives "custom_details.runbook" as "runbook"), sorted by name, so a
// map or list option of templates is read back in a stable order.
func (m *Message) PartsUnder(prefix string) []Part {
	var out []Part
	for k, v := range m.Parts {
		if rest, ok := strings.CutPrefix(k, prefix+"."); ok && rest != "" {
			out = append(out, Part{Name: rest, Value: v})
		}
	}
	slices.SortFunc(out, func(a, b Part) int { return strings.Compare(a.Name, b.Name) })
	return out
}
