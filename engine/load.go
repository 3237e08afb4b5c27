package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"notifier/engine/event"
	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// Source is one policy file's name and content.
type Source struct {
	Name string
	Data []byte
}

// LoadOptions lets the caller check what the engine does not understand.
type LoadOptions struct {
	// CheckChannel validates one channel's type and options. It is where
	// the concrete channel packages are wired in (cmd/notifier). Nil
	// accepts any channel.
	CheckChannel func(spec *ChannelSpec) Problems
	// CheckSecretFile, when set (lint --check-secrets), says what keeps
	// a secret file of the settings (settings.state.redis.password_file)
	// from being used; each reason becomes a secret-file error there.
	CheckSecretFile func(path string) []string
}

// ReadSources reads a policy path: a file, or a directory meaning every
// *.yaml and *.yml in it in lexical order.
func ReadSources(path string) ([]Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("policy %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		if files, err = policyFiles(path); err != nil {
			return nil, err
		}
	}
	srcs := make([]Source, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return nil, fmt.Errorf("policy %w (is it readable by the user running notifier?)", err)
			}
			return nil, fmt.Errorf("policy %w", err)
		}
		srcs = append(srcs, Source{Name: f, Data: data})
	}
	return srcs, nil
}

// policyFiles lists the policy files of a directory in lexical order.
func policyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy %w", err)
	}
	var files []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("policy directory %s: no *.yaml or *.yml files", dir)
	}
	return files, nil
}

// Load reads and compiles the policy at path (file or directory).
func Load(path string, opts LoadOptions) (*Policy, Problems, error) {
	srcs, err := ReadSources(path)
	if err != nil {
		return nil, nil, err
	}
	p, ps := Compile(srcs, opts)
	return p, ps, nil
}

// Compile parses and checks policy sources in order: channels and windows
// merge (a name defined twice is an error), rules concatenate, at most one
// source has settings. It returns every problem found; the policy is nil
// when any of them is an error.
func Compile(srcs []Source, opts LoadOptions) (*Policy, Problems) {
	var ps Problems
	p := &Policy{
		Settings: Settings{Deadline: DefaultDeadline},
		Channels: map[string]*ChannelSpec{},
		Windows:  map[string]*Window{},
	}
	l := loader{policy: p, opts: opts, problems: &ps, defined: map[string]string{}}
	var rules []ruleNode
	for _, src := range srcs {
		p.Files = append(p.Files, src.Name)
		rules = append(rules, l.parseFile(src)...)
	}
	c := newCompiler(p)
	names := map[string]ruleNode{}
	var stopper *ruleNode // the first rule that matches everything and ends evaluation
	stopperConstant := false
	for _, rn := range rules {
		if prev, dup := names[rn.rule.Name]; dup && rn.rule.Name != "" {
			rn.sink.errorf(rn.name.Line, rn.name.Column, "duplicate-rule", "rule %q already defined at %s:%d", rn.rule.Name, prev.sink.file, prev.node.Line)
		} else {
			names[rn.rule.Name] = rn
		}
		truth, constant := l.checkRule(rn, c)
		if stopper != nil {
			errorf := rn.sink.errorf
			if !stopperConstant {
				errorf = rn.sink.lateErrorf // decided by closedTruth, newer than the format
			}
			errorf(rn.node.Line, rn.node.Column, "unreachable-rule", "rule %q can never match: rule %q at %s:%d matches every event and ends evaluation (no continue, or drop)",
				rn.rule.Name, stopper.rule.Name, stopper.sink.file, stopper.node.Line)
		} else if truth == truthAlways && (!rn.rule.Continue || rn.rule.Drop) {
			stopper, stopperConstant = &rn, constant
		}
		p.Rules = append(p.Rules, rn.rule)
	}
	if len(p.Rules) == 0 && len(ps.Blocking()) == 0 {
		// An empty or truncated file must not silently drop every alarm.
		ps = append(ps, Problem{File: p.Files[len(p.Files)-1], Line: 1, Col: 1, Severity: "error", Check: "no-rules",
			Message: "the policy has no rules: every event would reach nobody"})
	}
	if len(ps.Blocking()) == 0 {
		// With errors, "unused" is mostly their echo (a misspelt notify,
		// a rule that did not parse): it is said once they are fixed.
		l.checkUnused(c)
	}
	ps = applyIgnores(l.ignores, ps)
	sortProblems(ps, p.Files)
	// A node reached through two aliases is checked twice: said once.
	ps = slices.CompactFunc(ps, func(a, b Problem) bool { return a == b })
	if len(ps.Blocking()) > 0 {
		return nil, ps
	}
	return p, ps
}

// sortProblems orders problems by file (in load order), line and column,
// so an operator reads them top to bottom.
func sortProblems(ps Problems, files []string) {
	order := make(map[string]int, len(files))
	for i, f := range files {
		order[f] = i
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

type loader struct {
	policy       *Policy
	opts         LoadOptions
	problems     *Problems
	defined      map[string]string // "channels.x" -> "file:line" of its definition
	defs         []definition      // channels and windows in the order defined
	settingsFrom string
	ignores      []*ignoreDirective // notifier:ignore comments, every file's
}

// definition is where a channel or window is defined, so lint can point
// at the ones nothing uses.
type definition struct {
	section string // "channels" or "windows"
	key     *yaml.Node
	sink    problemSink
}

type ruleNode struct {
	rule *Rule
	node *yaml.Node
	name *yaml.Node
	sink problemSink
	keys map[string]*yaml.Node // value nodes by key
	// broken: the rule did not decode, so what it lacks may be a typo
	// already reported.
	broken bool
}

func (l *loader) parseFile(src Source) []ruleNode {
	sink := problemSink{file: src.Name, data: src.Data, list: l.problems}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(src.Data)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, errIsEOF) || strings.TrimSpace(string(src.Data)) == "" {
			return nil // an empty file is an empty policy
		}
		line, col, msg := YAMLSyntaxError(src.Data, err)
		sink.errorf(line, col, "yaml", "%s", msg)
		return nil
	}
	l.ignores = append(l.ignores, parseIgnores(src, &doc, l.problems)...)
	if err := expandAliases(&doc); err != nil {
		sink.errorf(err.line, err.col, "yaml", "%s", err.msg)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		sink.errorf(extra.Line, extra.Column, "yaml", "more than one YAML document in one policy file")
	}
	if len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		if top.Tag == "!!null" {
			return nil
		}
		sink.errorf(top.Line, top.Column, "type", "a policy file is a mapping with settings, channels, windows and rules; got %s", kindName(top))
		return nil
	}
	var rules []ruleNode
	seen := map[string]int{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			sink.errorf(k.Line, k.Column, "duplicate-key", "%s: key %q already defined at line %d", k.Value, k.Value, prev)
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
		default:
			sink.errorf(k.Line, k.Column, "unknown-key", "%s: unknown key%s", k.Value, hint.Suggest(k.Value, []string{"settings", "channels", "windows", "rules"}))
		}
	}
	return rules
}

func (l *loader) parseSettings(sink problemSink, k, v *yaml.Node) {
	here := fmt.Sprintf("%s:%d", sink.file, k.Line)
	if l.settingsFrom != "" {
		sink.errorf(k.Line, k.Column, "duplicate-settings", "settings: already given at %s; only one policy file may have settings", l.settingsFrom)
		return
	}
	l.settingsFrom = here
	var spec SettingsSpec
	ps := DecodeNode(sink.file, v, &spec)
	*l.problems = append(*l.problems, prefixPaths(ps, "settings.")...)
	s := &l.policy.Settings
	if spec.Deadline > 0 {
		s.Deadline = spec.Deadline
		if spec.Deadline < time.Second {
			// 20ms for 20s: every run would time out before the state is
			// written or a page is queued.
			n := valueNode(v, "deadline")
			sink.lateErrorf(n.Line, n.Column, "deadline", "settings.deadline: %s is too short to record and deliver anything; want 1s or more (default %s)", spec.Deadline, DefaultDeadline)
		}
		if spec.Deadline >= 30e9 {
			n := valueNode(v, "deadline")
			sink.warnf(n.Line, n.Column, "deadline", "settings.deadline: %s is not below Pacemaker's default 30s alert timeout; Pacemaker kills the agent at its timeout", spec.Deadline)
		}
	} else if n := valueNode(v, "deadline"); n != v && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		if d, err := time.ParseDuration(n.Value); err == nil && d == 0 {
			sink.errorf(n.Line, n.Column, "deadline", "settings.deadline: must be more than 0")
		}
	}
	if spec.Cluster.ID < 0 {
		n := valueNode(valueNode(v, "cluster"), "id")
		sink.errorf(n.Line, n.Column, "type", "settings.cluster.id: %d is negative", spec.Cluster.ID)
	}
	s.Cluster = event.ClusterDefaults{ID: spec.Cluster.ID, Name: spec.Cluster.Name}
	s.StatePath, s.RedisURL, s.AuditLog = spec.State.Path, spec.State.Redis.URL, spec.AuditLog
	s.RedisPasswordFile = spec.State.Redis.PasswordFile
	// Relative paths are the policy file's, as *_file options are: runs
	// start anywhere (Pacemaker's in /var/lib/pacemaker/cores, the flush
	// timer in /, an operator's silence in a home directory), and they
	// must all find one state.
	for _, path := range []*string{&s.StatePath, &s.AuditLog, &s.RedisPasswordFile} {
		if *path != "" && !filepath.IsAbs(*path) {
			*path = filepath.Join(filepath.Dir(sink.file), *path)
		}
	}
	if s.RedisURL != "" && !strings.HasPrefix(s.RedisURL, "redis://") && !strings.HasPrefix(s.RedisURL, "rediss://") && !strings.HasPrefix(s.RedisURL, "unix://") {
		n := MappingValue(MappingValue(MappingValue(v, "state"), "redis"), "url")
		sink.errorf(n.Line, n.Column, "redis-url", "settings.state.redis.url: want redis://host:port/db, rediss:// or unix://")
	}
	redis := MappingValue(MappingValue(v, "state"), "redis")
	if redisURLHasPassword(s.RedisURL) {
		n := MappingValue(redis, "url")
		sink.warnf(n.Line, n.Column, "inline-secret", "settings.state.redis.url: password given inline: it is in the policy file and every copy of it; use settings.state.redis.password_file (mode 0640)")
	}
	if s.RedisPasswordFile != "" && l.opts.CheckSecretFile != nil {
		n := MappingValue(redis, "password_file")
		for _, e := range l.opts.CheckSecretFile(s.RedisPasswordFile) {
			sink.errorf(n.Line, n.Column, "secret-file", "settings.state.redis.password_file: %s", e)
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

func (l *loader) define(sink problemSink, section string, k *yaml.Node) bool {
	id := section + "." + k.Value
	if prev, dup := l.defined[id]; dup {
		sink.errorf(k.Line, k.Column, "duplicate-"+strings.TrimSuffix(section, "s"), "%s: already defined at %s", id, prev)
		return false
	}
	l.defined[id] = fmt.Sprintf("%s:%d", sink.file, k.Line)
	l.defs = append(l.defs, definition{section: section, key: k, sink: sink})
	return true
}

// named calls fn for each newly defined name of a section that maps
// names to definitions (channels, windows).
func (l *loader) named(sink problemSink, section string, v *yaml.Node, fn func(k, def *yaml.Node)) {
	if v.Kind != yaml.MappingNode {
		if v.Tag != "!!null" {
			sink.errorf(v.Line, v.Column, "type", "%s: want a mapping of %s names, got %s", section, strings.TrimSuffix(section, "s"), kindName(v))
		}
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		if l.define(sink, section, v.Content[i]) {
			fn(v.Content[i], v.Content[i+1])
		}
	}
}

func (l *loader) parseChannels(sink problemSink, v *yaml.Node) {
	l.named(sink, "channels", v, func(k, cv *yaml.Node) {
		if cv.Kind != yaml.MappingNode {
			sink.errorf(cv.Line, cv.Column, "type", "channels.%s: want a mapping with a type, got %s", k.Value, kindName(cv))
			return
		}
		t := valueNode(cv, "type")
		if t == cv || t.Kind != yaml.ScalarNode || t.Value == "" {
			sink.errorf(k.Line, k.Column, "channel-type", "channels.%s: type is missing (pagerduty, slack or syslog)", k.Value)
			// Defined all the same: the rules naming it are not wrong.
			l.policy.Channels[k.Value] = &ChannelSpec{Name: k.Value, File: sink.file, Node: cv}
			return
		}
		spec := &ChannelSpec{Name: k.Value, Type: t.Value, File: sink.file, Node: cv}
		if l.opts.CheckChannel != nil {
			*l.problems = append(*l.problems, l.opts.CheckChannel(spec)...)
		}
		l.policy.Channels[k.Value] = spec
	})
}

func (l *loader) parseWindows(sink problemSink, v *yaml.Node) {
	l.named(sink, "windows", v, func(k, wv *yaml.Node) {
		var spec WindowSpec
		ps := DecodeNode(sink.file, wv, &spec)
		*l.problems = append(*l.problems, prefixPaths(ps, "windows."+k.Value+".")...)
		if len(ps) > 0 {
			// Defined all the same, so the rules naming it are not
			// reported too; the policy does not load anyway.
			l.policy.Windows[k.Value] = &Window{Name: k.Value}
			return
		}
		nodes := &windowNodes{self: wv, timezone: valueNode(wv, "timezone"), weekdays: valueNode(wv, "weekdays"), times: valueNode(wv, "times")}
		l.policy.Windows[k.Value] = compileWindow(k.Value, spec, nodes, sink)
	})
}

func (l *loader) parseRules(sink problemSink, v *yaml.Node) []ruleNode {
	if v.Kind != yaml.SequenceNode {
		if v.Tag != "!!null" {
			sink.errorf(v.Line, v.Column, "type", "rules: want a list of rules, got %s", kindName(v))
		}
		return nil
	}
	out := make([]ruleNode, 0, len(v.Content))
	for i, rv := range v.Content {
		r := &Rule{File: sink.file, Line: rv.Line, Col: rv.Column}
		ps := DecodeNode(sink.file, rv, &r.RuleSpec)
		*l.problems = append(*l.problems, prefixPaths(ps, fmt.Sprintf("rules[%d].", i))...)
		rn := ruleNode{rule: r, node: rv, sink: sink, keys: map[string]*yaml.Node{}, broken: len(ps) > 0}
		if rv.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(rv.Content); j += 2 {
				rn.keys[rv.Content[j].Value] = rv.Content[j+1]
			}
		}
		rn.name = rn.at("name")
		out = append(out, rn)
	}
	return out
}

// at returns the value node of key, or the rule's own node.
func (rn ruleNode) at(key string) *yaml.Node {
	if n, ok := rn.keys[key]; ok {
		return n
	}
	return rn.node
}

// checkRule checks one rule and returns its condition's truth over every
// event (conditionTruth), for the unreachable-rule check.
func (l *loader) checkRule(rn ruleNode, c *compiler) (truth int, constant bool) {
	r, sink := rn.rule, rn.sink
	label := r.Name
	if label == "" {
		label = fmt.Sprintf("rule at line %d", rn.node.Line)
		if _, ok := rn.keys["name"]; !ok && rn.node.Kind == yaml.MappingNode {
			sink.errorf(rn.node.Line, rn.node.Column, "rule-name", "%s: name is missing (history and explain refer to rules by name)", label)
		}
	}
	if rn.node.Kind != yaml.MappingNode {
		if rn.node.Kind == yaml.ScalarNode || rn.node.Kind == yaml.SequenceNode {
			return truthUnknown, false // DecodeNode reported it
		}
	}
	if n, ok := rn.keys["when"]; !ok {
		sink.errorf(rn.node.Line, rn.node.Column, "rule-when", "rule %q: when is missing (write when: \"true\" to match everything)", label)
	} else if strings.TrimSpace(r.When) == "" {
		if n.Kind == yaml.ScalarNode { // other kinds: DecodeNode reported them
			sink.errorf(n.Line, n.Column, "rule-when", "rule %q: when is empty (write when: \"true\" to match everything)", label)
		}
	} else {
		r.program = c.compileRule(r.When, n, sink)
		truth, constant = conditionTruth(r.program, &c.load)
		if truth == truthNever && constant {
			sink.warnf(n.Line, n.Column, "disabled-rule", "rule %q is disabled: its condition is always false", label)
		} else if truth == truthNever {
			sink.lateErrorf(n.Line, n.Column, "never-matches", "rule %q can never match: its condition reads only severity, source, kind and action, and is false for every value they take", label)
		}
	}
	l.checkStateful(rn, c, label)
	if r.Drop && r.Continue {
		n := rn.at("continue")
		sink.warnf(n.Line, n.Column, "drop-continue", "rule %q: continue has no effect with drop: a drop ends evaluation", label)
	}
	if r.Drop && len(r.Notify) > 0 {
		n := rn.at("drop")
		sink.errorf(n.Line, n.Column, "drop-notify", "rule %q: drop and notify together: a dropped event notifies nobody", label)
	}
	if !r.Drop && len(r.Notify) == 0 && r.Escalate == nil && !rn.broken {
		if n, written := rn.keys["notify"]; written {
			// notify: [] — the list is there, and empty: say so there.
			sink.warnf(n.Line, n.Column, "notifies-nobody", "rule %q: notify is empty: name at least one channel, or drop: true", label)
		} else {
			sink.warnf(rn.node.Line, rn.node.Column, "notifies-nobody", "rule %q notifies nobody: add notify, or drop: true", label)
		}
	}
	for i, ch := range r.Notify {
		if _, ok := l.policy.Channels[ch]; !ok {
			n := itemNode(rn.at("notify"), i)
			sink.errorf(n.Line, n.Column, "undefined-channel", "rule %q: channel %q is not defined%s", label, ch, hint.Suggest(ch, mapKeys(l.policy.Channels)))
		}
	}
	for _, key := range []string{"active_during", "muted_during"} {
		list := r.ActiveDuring
		if key == "muted_during" {
			list = r.MutedDuring
		}
		for i, w := range list {
			win, ok := l.policy.Windows[w]
			switch {
			case !ok:
				n := itemNode(rn.at(key), i)
				sink.errorf(n.Line, n.Column, "undefined-window", "rule %q: %s: window %q is not defined%s", label, key, w, hint.Suggest(w, mapKeys(l.policy.Windows)))
			case key == "muted_during" && win.Always():
				n := itemNode(rn.at(key), i)
				sink.lateErrorf(n.Line, n.Column, "always-muted", "rule %q: muted_during: window %q holds every minute of the week, so the rule never tells anyone", label, w)
			}
		}
	}
	return truth, constant
}

// checkUnused warns about channels and windows no rule refers to: often a
// rule meant to use them names something else.
func (l *loader) checkUnused(c *compiler) {
	used := map[string]bool{}
	for _, r := range l.policy.Rules {
		for _, ch := range r.Notify {
			used["channels."+ch] = true
		}
		if r.Escalate != nil {
			for _, ch := range r.Escalate.Notify {
				used["channels."+ch] = true
			}
		}
		for _, w := range slices.Concat(r.ActiveDuring, r.MutedDuring) {
			used["windows."+w] = true
		}
	}
	for w := range c.windows {
		used["windows."+w] = true
	}
	for _, d := range l.defs {
		if !used[d.section+"."+d.key.Value] {
			what := strings.TrimSuffix(d.section, "s")
			d.sink.warnf(d.key.Line, d.key.Column, "unused-"+what, "%s.%s: no rule uses this %s", d.section, d.key.Value, what)
		}
	}
}

// checkStateful checks suppress and escalate.
func (l *loader) checkStateful(rn ruleNode, c *compiler, label string) {
	r, sink := rn.rule, rn.sink
	if s := r.Suppress; s != nil {
		n := rn.at("suppress")
		if at := MappingValue(n, "for"); s.For <= 0 && !badDuration(at) {
			sink.errorf(at.Line, at.Column, "suppress", "rule %q: suppress.for must be a duration above 0, like 30m", label)
		}
		if strings.TrimSpace(s.Key) != "" {
			r.keyProg = c.compileKey(s.Key, MappingValue(n, "key"), sink)
		}
		if r.Drop {
			sink.errorf(n.Line, n.Column, "drop-suppress", "rule %q: drop with suppress: a dropped event is never notified", label)
		}
	}
	if e := r.Escalate; e != nil {
		n := rn.at("escalate")
		if e.After < 2 {
			at := MappingValue(n, "after")
			sink.errorf(at.Line, at.Column, "escalate-after", "rule %q: escalate.after is %d; it must be 2 or more (the Nth occurrence escalates)", label, e.After)
		}
		if at := MappingValue(n, "within"); e.Within <= 0 && !badDuration(at) {
			sink.errorf(at.Line, at.Column, "escalate-within", "rule %q: escalate.within must be a duration above 0, like 30m", label)
		} else if e.Within > 0 && e.Within < time.Minute && e.After >= 2 {
			sink.warnf(at.Line, at.Column, "escalate-within", "rule %q: escalate.within is %s: %d occurrences so close together are rare, so this may never escalate (30s for 30m?)", label, e.Within, e.After)
		}
		if at := MappingValue(n, "notify"); len(e.Notify) == 0 && at != n {
			sink.errorf(at.Line, at.Column, "escalate-notify", "rule %q: escalate.notify is empty: name at least one channel", label)
		} else if len(e.Notify) == 0 {
			sink.errorf(n.Line, n.Column, "escalate-notify", "rule %q: escalate.notify names no channel", label)
		}
		for i, ch := range e.Notify {
			if _, ok := l.policy.Channels[ch]; !ok {
				at := itemNode(MappingValue(n, "notify"), i)
				sink.errorf(at.Line, at.Column, "undefined-channel", "rule %q: escalate: channel %q is not defined%s", label, ch, hint.Suggest(ch, mapKeys(l.policy.Channels)))
			}
		}
		if r.Drop {
			sink.errorf(n.Line, n.Column, "drop-escalate", "rule %q: drop with escalate: a dropped event is never notified", label)
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

// mapKeys returns m's keys, sorted.
func mapKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// MappingValue returns the value of key in mapping n, or n itself when
// absent, so that a problem about the key has a position either way.
func MappingValue(n *yaml.Node, key string) *yaml.Node { return valueNode(n, key) }

// valueNode returns the value of key in mapping n, or n itself when absent
// (so a problem about a missing key points at the mapping).
func valueNode(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return n
}

// itemNode returns item i of sequence n, or n itself.
func itemNode(n *yaml.Node, i int) *yaml.Node {
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

type windowNodes struct{ self, timezone, weekdays, times *yaml.Node }

func (w *windowNodes) weekday(i int) *yaml.Node { return itemNode(w.weekdays, i) }
func (w *windowNodes) time(i int) *yaml.Node    { return itemNode(w.times, i) }
