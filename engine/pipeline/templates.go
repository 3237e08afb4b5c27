package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"notifier/channels"
	"notifier/channels/template"
	"notifier/engine/event"
	"notifier/engine/policy"

	"go.yaml.in/yaml/v3"
)

// Templates are a policy's compiled message templates: each channel's
// (its config's template options), and each rule's overrides of them
// (`templates: {CHANNEL: {OPTION: TEXT}}`). The Wiring's load fills
// them; a Pipeline renders them into each message's Parts.
type Templates struct {
	channel map[string][]*compiled            // by channel
	rule    map[string]map[string][]*compiled // by rule, then channel
	types   map[string]string                 // each channel's type, by channel
}

// compiled is one template option, compiled, with where it was written.
type compiled struct {
	option string
	// list is the outermost list option is an item of ("links" for
	// "links.0.href"), "" for none: a rule's override of a list
	// replaces the channel's whole list (see forDelivery).
	list     string
	required bool
	json     bool
	t        *template.Template
	// where it was written, for lint's findings
	label string // "channels.pager.summary", `rule "db": templates.pager.summary`
	file  string
	data  []byte
	node  *yaml.Node
}

func newTemplates() *Templates {
	return &Templates{channel: map[string][]*compiled{}, rule: map[string]map[string][]*compiled{}, types: map[string]string{}}
}

// eventNames are the names a template may use of an event.
var eventNames = sync.OnceValue(event.Names)

// compileOptions compiles the template options of cfg that are written,
// each placed in file at the node of its option below root; label
// prefixes the option in messages ("channels.pager").
func compileOptions(cfg channels.Config, file string, data []byte, root *yaml.Node, label string) ([]*compiled, policy.Problems) {
	var out []*compiled
	var ps policy.Problems
	for _, tp := range cfg.Templates() {
		if tp.Text == nil || *tp.Text == "" {
			continue
		}
		c := &compiled{option: tp.Option, list: listOf(root, tp.Option), required: tp.Required, json: tp.JSON,
			label: label + "." + tp.Option, file: file, data: data, node: optionNode(root, tp.Option)}
		t, err := template.Compile(tp.Option, *tp.Text, eventNames())
		if err != nil {
			var tps template.Problems
			if !errors.As(err, &tps) {
				tps = template.Problems{{Message: err.Error()}}
			}
			for _, p := range tps {
				ps = append(ps, c.problemAt(*tp.Text, p.Offset, "error", p.Message))
			}
			continue
		}
		c.t = t
		out = append(out, c)
	}
	return out, ps
}

// problemAt is a problem about c at byte offset off of its text, placed
// where that byte is written in the YAML (plain, quoted or block).
func (c *compiled) problemAt(text string, off int, severity, msg string) policy.Problem {
	off = min(max(off, 0), len(text))
	line, col := c.node.Line, c.node.Column
	if c.node.Kind == yaml.ScalarNode && c.node.Value == text {
		line, col = policy.ScalarPos(c.node, policy.SplitLines(c.data), utf8.RuneCountInString(text[:off]))
	}
	return policy.Problem{File: c.file, Line: line, Col: col, Severity: severity, Check: "template",
		Message: fmt.Sprintf("%s: template: %s", c.label, channels.OneLine(msg))}
}

// optionNode is the node of a dotted option ("custom_details.runbook",
// "links.0.href") below root, or the deepest one found.
func optionNode(root *yaml.Node, option string) *yaml.Node {
	return optionAt(root, strings.Split(option, "."), false)
}

// listOf is the outermost list a dotted option is an item of below
// root, as written ("links" for "links.0.href"), or "" when none is on
// its path (a map key that reads as a number is no list index).
func listOf(root *yaml.Node, option string) string {
	n := root
	parts := strings.Split(option, ".")
	for i, part := range parts {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch n.Kind {
		case yaml.SequenceNode:
			return strings.Join(parts[:i], ".")
		case yaml.MappingNode:
			next := policy.MappingValue(n, part)
			if next == n {
				return ""
			}
			n = next
		default:
			return ""
		}
	}
	return ""
}

// leafOptions are the dotted paths of every value below n that is not a
// mapping or a list: the options a rule's override writes.
func leafOptions(n *yaml.Node, prefix string, out map[string]*yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			leafOptions(n.Content[i+1], prefix+n.Content[i].Value+".", out)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			leafOptions(item, prefix+strconv.Itoa(i)+".", out)
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			leafOptions(n.Alias, prefix, out)
		}
	default:
		out[strings.TrimSuffix(prefix, ".")] = n
	}
}

// compileRule decodes rule r's override of spec's templates (node, a
// mapping of options) as a config of the channel's type: only its
// template options may be written; each is compiled.
func compileRule(t channels.Type, r *policy.Rule, spec *policy.ChannelSpec, node *yaml.Node) ([]*compiled, policy.Problems) {
	label := fmt.Sprintf("rule %q: templates.%s", r.Label(), spec.Name)
	cfg := t.NewConfig()
	ps := policy.DecodeNode(r.File, node, cfg)
	var said []string // the options the decoder said something about
	for i := range ps {
		path, _, _ := strings.Cut(ps[i].Message, ":")
		said = append(said, path)
		ps[i].Message = label + "." + ps[i].Message
	}
	// What did decode is checked and compiled all the same: every
	// problem is said at once.
	known := map[string]bool{}
	var names []string
	for _, tp := range cfg.Templates() {
		known[tp.Option] = true
		names = append(names, tp.Option)
	}
	leaves := map[string]*yaml.Node{}
	leafOptions(node, "", leaves)
	for _, opt := range slices.Sorted(maps.Keys(leaves)) {
		n := leaves[opt]
		if known[opt] || slices.ContainsFunc(said, func(p string) bool { return opt == p || strings.HasPrefix(opt, p+".") }) {
			continue
		}
		want := "it has none"
		if len(names) > 0 {
			want = "they are " + strings.Join(names, ", ")
		}
		ps = append(ps, policy.Problem{File: r.File, Line: n.Line, Col: n.Column, Severity: "error", Check: "template",
			Message: fmt.Sprintf("%s.%s: not a template option of a %s channel (%s): a rule overrides only templates", label, opt, spec.Type, want)})
	}
	cs, tps := compileOptions(cfg, r.File, r.Sink.Data, node, label)
	if ps = append(ps, tps...); len(ps) > 0 {
		return nil, ps
	}
	if ps = checkOverride(t, r, spec, node, cfg, label); len(ps) > 0 {
		return nil, ps
	}
	return append(cs, emptyLists(node, "")...), nil
}

// emptyLists are markers for the lists an override writes empty
// (`links: []`): a list is replaced whole, by nothing then, so each
// marker takes the place of the channel's items of its list and renders
// nothing.
func emptyLists(n *yaml.Node, prefix string) []*compiled {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var out []*compiled
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, emptyLists(n.Content[i+1], prefix+n.Content[i].Value+".")...)
		}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			list := strings.TrimSuffix(prefix, ".")
			out = append(out, &compiled{option: list, list: list})
		}
	}
	return out
}

// forDelivery is the templates a message of rule to channel renders: the
// rule's overrides, and the channel's options the rule does not
// override. A map merges by entry (a rule's custom_details.runbook
// leaves the channel's other details); a list is replaced whole (a
// rule's links are the links, none of the channel's is merged into
// them item by item).
func (ts *Templates) forDelivery(rule, channel string) []*compiled {
	own, over := ts.channel[channel], ts.rule[rule][channel]
	if len(over) == 0 {
		return own
	}
	out := slices.Clone(over)
	for _, c := range own {
		if !slices.ContainsFunc(over, func(o *compiled) bool { return o.option == c.option || (c.list != "" && o.list == c.list) }) {
			out = append(out, c)
		}
	}
	return out
}

// MaxDeliveryRender bounds the time one delivery's templates may take
// together (each has its own work budget as well, see
// channels/template.MaxWork).
const MaxDeliveryRender = 100 * time.Millisecond

// errRenderSpent is a part not rendered because the delivery's parts
// before it took MaxDeliveryRender.
var errRenderSpent = fmt.Errorf("not rendered: this delivery's templates took their %v", MaxDeliveryRender)

// PartError is a template that failed for one message: its part is left
// out, and the channel sends its built-in text instead.
type PartError struct {
	Channel, Option, Rule string
	Err                   error
}

// Error says channel, option, rule and why, in one line.
func (e *PartError) Error() string {
	return fmt.Sprintf("channel %q: template %s (rule %q) failed, its built-in text is sent instead: %s",
		e.Channel, e.Option, e.Rule, channels.OneLine(e.Err.Error()))
}

// Unwrap is why the template failed.
func (e *PartError) Unwrap() error { return e.Err }

// render renders the templates of m's delivery to channel, rule's
// overrides first, for ev: the parts that rendered, and an error for
// each that did not — a render error, a blank Required part, not one
// JSON value for a JSON part. rule is the delivery's rule, but for a
// resolve the rule that told the channel (m.Rule is "resolve"), "" for
// the channel's templates alone. Nil receiver: no templates.
func (ts *Templates) render(ev *event.Event, m *channels.Message, channel, rule string, members []*event.Event) (map[string]string, []error) {
	if ts == nil {
		return nil, nil
	}
	list := ts.forDelivery(rule, channel)
	if len(list) == 0 {
		return nil, nil
	}
	if rule == "" {
		rule = m.Rule // as Data names it
	}
	data := Data(ev, m, channel, rule, members...)
	var parts map[string]string
	var errs []error
	// Rendering happens inside the state transaction: each part has its
	// work budget, and a delivery's parts together this much time, so
	// that a channel with many heavy templates (custom_details is a map)
	// cannot hold the lock long. What is left when it is spent is sent
	// with the built-in text, and said.
	spent := time.Now().Add(MaxDeliveryRender)
	for _, c := range list {
		if c.t == nil {
			continue // an empty list's marker: nothing to render
		}
		if time.Now().After(spent) {
			errs = append(errs, &PartError{Channel: channel, Option: c.option, Rule: rule, Err: errRenderSpent})
			continue
		}
		out, err := c.renderChecked(data)
		if err != nil {
			errs = append(errs, &PartError{Channel: channel, Option: c.option, Rule: rule, Err: err})
			continue
		}
		if parts == nil {
			parts = map[string]string{}
		}
		parts[c.option] = out
	}
	return parts, errs
}

// renderChecked renders c and checks what a part must be.
func (c *compiled) renderChecked(data map[string]any) (string, error) {
	out, err := c.t.Render(data)
	switch {
	case err != nil:
		return "", err
	case c.required && strings.TrimSpace(out) == "":
		return "", errors.New("it rendered blank")
	case c.json && !json.Valid([]byte(out)):
		return "", fmt.Errorf("it rendered no valid JSON value: %.80q", out)
	case c.json && !utf8.ValidString(out):
		// json.Valid passes invalid bytes inside a string, which RFC 8259
		// does not (a channel sends its built-in body instead): a text
		// pasted without the json function, from an event that carried
		// them (Pacemaker's environment is not checked).
		return "", fmt.Errorf("it rendered JSON that is not valid UTF-8 (write the text with the json function): %.80q", out)
	}
	return out, nil
}

// fieldIndex is, for each name of event.Names, its field's index.
var fieldIndex = sync.OnceValue(func() []int {
	t := reflect.TypeFor[event.Event]()
	var idx []int
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("expr") != "-" {
			idx = append(idx, i)
		}
	}
	return idx
})

// Data is what a template of m's delivery to channel sees: ev's fields
// by their policy names, and rule, channel, delivery (trigger, message,
// resolve), suppressed, summary and members: a digest's alerts (each
// with the fields of its event, open first, the most severe first; ev
// is the first), or the event alone. rule is the rule whose templates
// render it — for a resolve, the rule that told the channel, not m.Rule
// ("resolve"), so that a resolve says what its trigger said — or "" for
// m.Rule.
func Data(ev *event.Event, m *channels.Message, channel, rule string, members ...*event.Event) map[string]any {
	member := fieldsOf(ev)
	data := make(map[string]any, len(member)+len(template.Notification))
	maps.Copy(data, member)
	list := []map[string]any{member}
	if len(members) > 0 {
		list = make([]map[string]any, len(members))
		for i, mev := range members {
			list[i] = fieldsOf(mev)
		}
	}
	if rule == "" {
		rule = m.Rule
	}
	data["rule"], data["channel"], data["delivery"] = rule, channel, string(m.Action)
	data["suppressed"], data["summary"], data[template.Members] = m.Suppressed, m.Summary, list
	return data
}

// fieldsOf is ev's fields by their policy names.
func fieldsOf(ev *event.Event) map[string]any {
	names, v := eventNames(), reflect.ValueOf(ev).Elem()
	member := make(map[string]any, len(names))
	for i, fi := range fieldIndex() {
		member[names[i]] = v.Field(fi).Interface()
	}
	return member
}
