package policy

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"notifier/engine/event"
	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// Options lets the caller check what this package does not understand.
type Options struct {
	// CheckChannel validates one channel's type and options. It is where
	// the concrete channel packages are wired in (cmd/notifier). Nil
	// accepts any channel.
	CheckChannel func(spec *ChannelSpec) Problems
	// ChannelTypes names the channel types there are, for the error about
	// a channel without a type; nil names none.
	ChannelTypes []string
	// CheckSecretFile, when set (lint --check-secrets), says what keeps
	// a secret file of the settings (settings.state.redis.password_file)
	// from being used; each reason becomes a secret-file error there.
	CheckSecretFile func(path string) []string
	// CheckTemplates checks a rule's template options for one channel
	// (`templates: {CHANNEL: {OPTION: TEXT}}`): node is the mapping of
	// options, decoded per spec's type. Nil accepts any.
	CheckTemplates func(r *Rule, spec *ChannelSpec, node *yaml.Node) Problems
	// Lint keeps what Parsed.Lint needs besides the policy: the ignore
	// directives. A run's load leaves it false.
	Lint bool
}

// Parsed is a policy's files decoded and checked for everything that
// makes it unusable without compiling an expression. It keeps the YAML
// nodes, so a compiler and lint can point at the places they judge.
type Parsed struct {
	Files    []string // the files, in order
	Settings Settings
	Channels map[string]*ChannelSpec
	Windows  []*WindowDef // in the order defined
	Rules    []*Rule      // every file's, in order
	Inhibits []*Inhibit   // every file's `inhibit` entries, in order

	settings     *settingsAt
	defs         []definition       // channels and windows in the order defined
	ignores      []*ignoreDirective // notifier:ignore comments, every file's
	lint         Problems           // what lint says that parsing found
	defined      map[string]string  // "channels.x" -> "file:line" of its definition
	windowNames  map[string]bool
	settingsFrom string
}

// WindowDef is one entry of `windows` as decoded, with its nodes.
type WindowDef struct {
	Name string
	Spec WindowSpec
	// Decoded is false when the spec did not decode (the problems are
	// said): the window is defined all the same, so the rules naming it
	// are not reported too.
	Decoded                         bool
	Sink                            Sink
	Node, Timezone, Weekdays, Times *yaml.Node
}

// Weekday is the node of weekday i, for a problem's position.
func (w *WindowDef) Weekday(i int) *yaml.Node { return ItemNode(w.Weekdays, i) }

// Time is the node of time range i, for a problem's position.
func (w *WindowDef) Time(i int) *yaml.Node { return ItemNode(w.Times, i) }

// Rule is one entry of `rules` as decoded, with its nodes.
type Rule struct {
	RuleSpec
	File      string
	Line, Col int
	Node      *yaml.Node
	Sink      Sink
	// Mapping says the rule is a mapping: one that is not was reported
	// and has nothing more to check.
	Mapping bool
	keys    map[string]*yaml.Node // value nodes by key
	// broken: the rule did not decode, so what it lacks may be a typo
	// already reported.
	broken bool
}

// At returns the value node of key, or the rule's own node.
func (r *Rule) At(key string) *yaml.Node {
	if n, ok := r.keys[key]; ok {
		return n
	}
	return r.Node
}

// Has reports whether the rule writes key.
func (r *Rule) Has(key string) bool {
	_, ok := r.keys[key]
	return ok
}

// Label is how problems name the rule.
func (r *Rule) Label() string {
	if r.Name == "" {
		return fmt.Sprintf("rule at line %d", r.Node.Line)
	}
	return r.Name
}

// settingsAt is the settings section as written, for lint.
type settingsAt struct {
	spec SettingsSpec
	node *yaml.Node
	sink Sink
}

// definition is where a channel or window is defined, so lint can point
// at the ones nothing uses.
type definition struct {
	section string // "channels" or "windows"
	key     *yaml.Node
	sink    Sink
}

// Parse decodes policy sources in order: channels and windows merge (a
// name defined twice is an error), rules concatenate, at most one source
// has settings. It returns every problem that makes the policy unusable
// and that needs no compiled expression; lint's other findings are
// Parsed.Lint's.
func Parse(srcs []Source, opts Options) (*Parsed, Problems) {
	var ps Problems
	p := &Parsed{
		Settings:    Settings{Deadline: DefaultDeadline, DedupWindow: DefaultDedupWindow},
		Channels:    map[string]*ChannelSpec{},
		defined:     map[string]string{},
		windowNames: map[string]bool{},
	}
	l := loader{parsed: p, opts: opts, problems: &ps}
	for _, src := range srcs {
		p.Files = append(p.Files, src.Name)
		p.Rules = append(p.Rules, l.parseFile(src)...)
	}
	names := map[string]*Rule{}
	for _, r := range p.Rules {
		if prev, dup := names[r.Name]; dup && r.Name != "" {
			at := r.At("name")
			r.Sink.Errorf(at.Line, at.Column, "duplicate-rule", "rule %q already defined at %s:%d", r.Name, prev.Sink.File, prev.Node.Line)
		} else {
			names[r.Name] = r
		}
		l.checkRule(r)
	}
	l.checkSelfAlert()
	return p, ps
}

// NoRules is the error of a policy without rules, when it has no other
// (errors that leave no rule are said first): an empty or truncated file
// must not silently drop every alarm.
func (p *Parsed) NoRules(ps Problems) Problems {
	if len(p.Rules) > 0 || len(ps.Errors()) > 0 {
		return nil
	}
	return Problems{{File: p.Files[len(p.Files)-1], Line: 1, Col: 1, Severity: "error", Check: "no-rules",
		Message: "the policy has no rules: every event would reach nobody"}}
}

type loader struct {
	parsed   *Parsed
	opts     Options
	problems *Problems
}

func (l *loader) parseFile(src Source) []*Rule {
	sink := Sink{File: src.Name, Data: src.Data, List: l.problems}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(src.Data)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) || strings.TrimSpace(string(src.Data)) == "" {
			return nil // an empty file is an empty policy
		}
		line, col, msg := YAMLSyntaxError(src.Data, err)
		sink.Errorf(line, col, "yaml", "%s", msg)
		return nil
	}
	if l.opts.Lint {
		l.parsed.ignores = append(l.parsed.ignores, parseIgnores(src, &doc, &l.parsed.lint)...)
	}
	if err := expandAliases(&doc); err != nil {
		sink.Errorf(err.line, err.col, "yaml", "%s", err.msg)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		sink.Errorf(extra.Line, extra.Column, "yaml", "more than one YAML document in one policy file")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		if top.Tag == "!!null" {
			return nil
		}
		sink.Errorf(top.Line, top.Column, "type", "a policy file is a mapping with settings, channels, windows and rules; got %s", KindName(top))
		return nil
	}
	var rules []*Rule
	seen := map[string]int{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			sink.Errorf(k.Line, k.Column, "duplicate-key", "%s: key %q already defined at line %d", k.Value, k.Value, prev)
			continue
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "settings":
			l.parseSettings(sink, k, v)
		case "channels":
			l.parseChannels(sink, v)
		case "windows":
			l.parseWindows(sink, v)
		case "rules":
			rules = append(rules, l.parseRules(sink, v)...)
		case "inhibit":
			l.parseInhibits(sink, v)
		default:
			sink.Errorf(k.Line, k.Column, "unknown-key", "%s: unknown key%s", k.Value, hint.Suggest(k.Value, []string{"settings", "channels", "windows", "inhibit", "rules"}))
		}
	}
	return rules
}

func (l *loader) parseSettings(sink Sink, k, v *yaml.Node) {
	here := fmt.Sprintf("%s:%d", sink.File, k.Line)
	if l.parsed.settingsFrom != "" {
		sink.Errorf(k.Line, k.Column, "duplicate-settings", "settings: already given at %s; only one policy file may have settings", l.parsed.settingsFrom)
		return
	}
	l.parsed.settingsFrom = here
	var spec SettingsSpec
	ps := DecodeNode(sink.File, v, &spec)
	*l.problems = append(*l.problems, prefixPaths(ps, "settings.")...)
	l.parsed.settings = &settingsAt{spec: spec, node: v, sink: sink}
	s := &l.parsed.Settings
	if spec.Deadline > 0 {
		s.Deadline = spec.Deadline
	} else if n := MappingValue(v, "deadline"); n != v && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		if d, err := time.ParseDuration(n.Value); err == nil && d == 0 {
			sink.Errorf(n.Line, n.Column, "deadline", "settings.deadline: must be more than 0")
		}
	}
	if spec.Cluster.ID < 0 {
		n := MappingValue(MappingValue(v, "cluster"), "id")
		sink.Errorf(n.Line, n.Column, "type", "settings.cluster.id: %d is negative", spec.Cluster.ID)
	}
	s.Cluster = event.ClusterDefaults{ID: spec.Cluster.ID, Name: spec.Cluster.Name}
	s.StatePath, s.RedisURL, s.AuditLog = spec.State.Path, spec.State.Redis.URL, spec.AuditLog
	s.RedisPasswordFile = spec.State.Redis.PasswordFile
	if spec.DedupWindow != nil { // the decoder refuses a negative one
		s.DedupWindow = *spec.DedupWindow
	}
	l.parseMetrics(sink, v, spec.Metrics)
	l.parseSelfAlert(sink, v, spec.SelfAlert)
	// Relative paths are the policy file's, as *_file options are: runs
	// start anywhere (Pacemaker's in /var/lib/pacemaker/cores, the flush
	// timer in /, an operator's silence in a home directory), and they
	// must all find one state.
	for _, path := range []*string{&s.StatePath, &s.AuditLog, &s.RedisPasswordFile, &s.Metrics.Textfile} {
		if *path != "" && !filepath.IsAbs(*path) {
			*path = filepath.Join(filepath.Dir(sink.File), *path)
		}
	}
	if s.RedisURL != "" && !strings.HasPrefix(s.RedisURL, "redis://") && !strings.HasPrefix(s.RedisURL, "rediss://") && !strings.HasPrefix(s.RedisURL, "unix://") {
		n := MappingValue(MappingValue(MappingValue(v, "state"), "redis"), "url")
		sink.Errorf(n.Line, n.Column, "redis-url", "settings.state.redis.url: want redis://host:port/db, rediss:// or unix://")
	}
	if s.RedisPasswordFile != "" && l.opts.CheckSecretFile != nil {
		n := MappingValue(MappingValue(MappingValue(v, "state"), "redis"), "password_file")
		for _, e := range l.opts.CheckSecretFile(s.RedisPasswordFile) {
			sink.Errorf(n.Line, n.Column, "secret-file", "settings.state.redis.password_file: %s", e)
		}
	}
}

// redisURLHasPassword reports whether a Redis URL carries a password in
// its user info (redis://:pw@host, redis://user:pw@host), found the way
// the store finds it, without parsing the rest, so a URL that does not
// parse is still caught. unix:// URLs take it as ?password=.
func redisURLHasPassword(raw string) bool {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return false
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		if vals, err := url.ParseQuery(rest[q+1:]); err == nil && vals.Get("password") != "" {
			return true
		}
	}
	if scheme == "unix" {
		return false
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return false
	}
	_, pw, _ := strings.Cut(rest[:at], ":")
	return pw != ""
}

// prefixPaths makes DecodeNode's paths absolute within the file.
func prefixPaths(ps Problems, prefix string) Problems {
	for i := range ps {
		ps[i].Message = prefix + ps[i].Message
	}
	return ps
}

func (l *loader) define(sink Sink, section string, k *yaml.Node) bool {
	id := section + "." + k.Value
	if prev, dup := l.parsed.defined[id]; dup {
		sink.Errorf(k.Line, k.Column, "duplicate-"+strings.TrimSuffix(section, "s"), "%s: already defined at %s", id, prev)
		return false
	}
	l.parsed.defined[id] = fmt.Sprintf("%s:%d", sink.File, k.Line)
	l.parsed.defs = append(l.parsed.defs, definition{section: section, key: k, sink: sink})
	return true
}

// named calls fn for each newly defined name of a section that maps
// names to definitions (channels, windows).
func (l *loader) named(sink Sink, section string, v *yaml.Node, fn func(k, def *yaml.Node)) {
	if v.Kind != yaml.MappingNode {
		if v.Tag != "!!null" {
			sink.Errorf(v.Line, v.Column, "type", "%s: want a mapping of %s names, got %s", section, strings.TrimSuffix(section, "s"), KindName(v))
		}
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if l.define(sink, section, v.Content[i]) {
			fn(v.Content[i], v.Content[i+1])
		}
	}
}

func (l *loader) parseChannels(sink Sink, v *yaml.Node) {
	l.named(sink, "channels", v, func(k, cv *yaml.Node) {
		if cv.Kind != yaml.MappingNode {
			sink.Errorf(cv.Line, cv.Column, "type", "channels.%s: want a mapping with a type, got %s", k.Value, KindName(cv))
			return
		}
		t := MappingValue(cv, "type")
		if t == cv || t.Kind != yaml.ScalarNode || t.Value == "" {
			types := ""
			if len(l.opts.ChannelTypes) > 0 {
				types = " (one of " + strings.Join(l.opts.ChannelTypes, ", ") + ")"
			}
			sink.Errorf(k.Line, k.Column, "channel-type", "channels.%s: type is missing%s", k.Value, types)
			// Defined all the same: the rules naming it are not wrong.
			l.parsed.Channels[k.Value] = &ChannelSpec{Name: k.Value, File: sink.File, Data: sink.Data, Node: cv}
			return
		}
		spec := &ChannelSpec{Name: k.Value, Type: t.Value, File: sink.File, Data: sink.Data, Node: cv}
		spec.Rate = l.parseRate(sink, k.Value, cv)
		if l.opts.CheckChannel != nil {
			*l.problems = append(*l.problems, l.opts.CheckChannel(spec)...)
		}
		l.parsed.Channels[k.Value] = spec
	})
}

// parseRate decodes a channel's `rate`, if it has one.
func (l *loader) parseRate(sink Sink, name string, cv *yaml.Node) *RateSpec {
	n := MappingValue(cv, "rate")
	if n == cv {
		return nil
	}
	var r RateSpec
	ps := DecodeNode(sink.File, n, &r)
	*l.problems = append(*l.problems, prefixPaths(ps, "channels."+name+".rate.")...)
	if len(ps) > 0 {
		return nil
	}
	ok := true
	if at := MappingValue(n, "max"); r.Max < 1 {
		sink.Errorf(at.Line, at.Column, "rate", "channels.%s: rate.max must be 1 or more (what is over it is held, then sent as one digest)", name)
		ok = false
	}
	if at := MappingValue(n, "per"); r.Per <= 0 && !badDuration(at) {
		sink.Errorf(at.Line, at.Column, "rate", "channels.%s: rate.per must be a duration above 0, like 1m", name)
		ok = false
	}
	if !ok {
		return nil
	}
	return &r
}

func (l *loader) parseWindows(sink Sink, v *yaml.Node) {
	l.named(sink, "windows", v, func(k, wv *yaml.Node) {
		w := &WindowDef{Name: k.Value, Sink: sink, Node: wv,
			Timezone: MappingValue(wv, "timezone"), Weekdays: MappingValue(wv, "weekdays"), Times: MappingValue(wv, "times")}
		ps := DecodeNode(sink.File, wv, &w.Spec)
		*l.problems = append(*l.problems, prefixPaths(ps, "windows."+k.Value+".")...)
		w.Decoded = len(ps) == 0
		l.parsed.Windows = append(l.parsed.Windows, w)
		l.parsed.windowNames[k.Value] = true
	})
}

func (l *loader) parseRules(sink Sink, v *yaml.Node) []*Rule {
	if v.Kind != yaml.SequenceNode {
		if v.Tag != "!!null" {
			sink.Errorf(v.Line, v.Column, "type", "rules: want a list of rules, got %s", KindName(v))
		}
		return nil
	}
	out := make([]*Rule, 0, len(v.Content))
	for i, rv := range v.Content {
		r := &Rule{File: sink.File, Line: rv.Line, Col: rv.Column, Node: rv, Sink: sink, keys: map[string]*yaml.Node{}}
		ps := DecodeNode(sink.File, rv, &r.RuleSpec, "templates") // see checkTemplates
		*l.problems = append(*l.problems, prefixPaths(ps, fmt.Sprintf("rules[%d].", i))...)
		r.broken = len(ps) > 0
		if rv.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(rv.Content); j += 2 {
				r.keys[rv.Content[j].Value] = rv.Content[j+1]
			}
		}
		r.Mapping = rv.Kind != yaml.ScalarNode && rv.Kind != yaml.SequenceNode
		out = append(out, r)
	}
	return out
}
