package pipeline

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"notifier/channels"
	"notifier/channels/registry"
	"notifier/engine"
	"notifier/engine/policy"

	"go.yaml.in/yaml/v3"
)

// CheckChannel decodes spec's options strictly into a config of type t
// and validates it (no I/O). A relative file option becomes relative to
// the policy file.
func CheckChannel(t channels.Type, spec *policy.ChannelSpec) (channels.Config, policy.Problems) {
	cfg := t.NewConfig()
	ps := policy.DecodeNode(spec.File, spec.Node, cfg, policy.ChannelKeys...)
	for i := range ps {
		ps[i].Message = "channels." + spec.Name + "." + ps[i].Message
	}
	if len(ps) > 0 {
		return nil, ps
	}
	channels.ResolveFiles(cfg, filepath.Dir(spec.File))
	if err := cfg.Validate(); err != nil {
		return nil, ValidationProblems(spec, err)
	}
	return cfg, nil
}

// ValidationProblems turns a channel's Validate error into one problem
// per line (errors.Join), each at the option it names when the option is
// written — "address ...", "routing_key: ..." — else at the channel.
func ValidationProblems(spec *policy.ChannelSpec, err error) policy.Problems {
	var ps policy.Problems
	for _, msg := range strings.Split(err.Error(), "\n") {
		at := spec.Node
		rest := strings.TrimPrefix(msg, spec.Type+": ")
		if end := strings.IndexAny(rest, ": "); end > 0 {
			if n := policy.MappingValue(spec.Node, rest[:end]); n != spec.Node {
				at = n
			}
		}
		ps = append(ps, policy.Problem{File: spec.File, Line: at.Line, Col: at.Column, Severity: "error", Check: "channel",
			Message: fmt.Sprintf("channels.%s: %s", spec.Name, msg)})
	}
	return ps
}

// Wiring connects a policy to the channel implementations
// (channels/registry): it remembers each checked channel's decoded
// config, so that only the channels delivered to are built, and holds
// one channels.Set: every path that delivers (run, fail open, flush) or
// only builds (explain) gets its channels from it, and Close closes them
// all once. A command uses one Wiring; the engine one per loaded policy.
type Wiring struct {
	configs   map[string]channels.Config
	templates *Templates // the last load's
	// lookup finds a channel type: registry.Lookup (tests add fakes).
	lookup func(name string) (channels.Type, bool)

	mu  sync.Mutex
	set *channels.Set // made by the first Channel call
}

// NewWiring returns a Wiring with nothing checked or built yet.
func NewWiring() *Wiring {
	return &Wiring{configs: map[string]channels.Config{}, templates: newTemplates(), lookup: registry.Lookup}
}

// Fork is a new Wiring with w's checked channel configurations and none
// of its channels: it builds and closes its own.
func (w *Wiring) Fork() *Wiring {
	return &Wiring{configs: w.configs, templates: w.templates, lookup: w.lookup}
}

// LoadOptions plugs the channel checks into the engine's loader, and
// the compiling of the templates (the channels' and the rules'
// overrides: Templates). A load through them must finish before Channel
// or Templates is called; each load starts with no templates.
func (w *Wiring) LoadOptions() policy.Options {
	ts := newTemplates()
	w.templates = ts
	return policy.Options{CheckChannel: func(spec *policy.ChannelSpec) policy.Problems {
		t, ok := w.lookup(spec.Type)
		if !ok {
			n := policy.MappingValue(spec.Node, "type")
			return policy.Problems{{File: spec.File, Line: n.Line, Col: n.Column, Severity: "error", Check: "channel-type",
				Message: fmt.Sprintf("channels.%s.type: unknown channel type %q (want one of %v)", spec.Name, spec.Type, registry.Names())}}
		}
		ts.types[spec.Name] = spec.Type
		cfg, ps := CheckChannel(t, spec)
		if cfg != nil {
			w.configs[spec.Name] = cfg
			cs, tps := compileOptions(cfg, spec.File, spec.Data, spec.Node, "channels."+spec.Name)
			ts.channel[spec.Name] = cs
			ps = append(ps, tps...)
		}
		return ps
	}, CheckTemplates: func(r *policy.Rule, spec *policy.ChannelSpec, node *yaml.Node) policy.Problems {
		t, ok := w.lookup(spec.Type)
		if !ok {
			return nil // said at the channel
		}
		cs, ps := compileRule(t, r, spec, node)
		if ts.rule[r.Name] == nil {
			ts.rule[r.Name] = map[string][]*compiled{}
		}
		ts.rule[r.Name][spec.Name] = cs
		return ps
	}, ChannelTypes: registry.Names()}
}

// Templates are the templates the last load through LoadOptions
// compiled, for Pipeline.Templates.
func (w *Wiring) Templates() *Templates { return w.templates }

// Config is the config the load checked for the channel called name,
// if it was valid.
func (w *Wiring) Config(name string) (channels.Config, bool) {
	cfg, ok := w.configs[name]
	return cfg, ok
}

// errChannelGone is a delivery to a channel the policy no longer has.
var errChannelGone = errors.New("no longer in the policy (renamed or removed?)")

// Channel returns policy p's channel called name, built once. A Wiring
// serves one policy, the one its first call names.
func (w *Wiring) Channel(p *engine.Policy, name string) (channels.Channel, error) {
	w.mu.Lock()
	if w.set == nil {
		w.set = channels.NewSet(func(name string) (channels.Channel, error) { return w.build(p, name) })
	}
	set := w.set
	w.mu.Unlock()
	return set.Get(name)
}

// Close closes every channel built. An error closing one (syslog's
// local socket) comes after its deliveries were made and changes nothing
// about them, so it is not reported.
func (w *Wiring) Close() error {
	w.mu.Lock()
	set := w.set
	w.mu.Unlock()
	if set != nil {
		_ = set.Close()
	}
	return nil
}

// build makes the named channel of policy p, from the config its load
// checked, or decoded here when it has none (a policy not loaded through
// this wiring).
func (w *Wiring) build(p *engine.Policy, name string) (channels.Channel, error) {
	spec, ok := p.Channels[name]
	if !ok { // an entry queued before the policy changed
		return nil, errChannelGone
	}
	t, ok := w.lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("channels.%s: unknown channel type %q", name, spec.Type)
	}
	cfg, ok := w.configs[name]
	if !ok {
		var ps policy.Problems
		if cfg, ps = CheckChannel(t, spec); len(ps) > 0 {
			return nil, ps
		}
	}
	return t.New(cfg)
}
