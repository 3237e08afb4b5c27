package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"notifier/channels"
	"notifier/channels/pagerduty"
	"notifier/channels/slack"
	"notifier/channels/syslog"
	"notifier/engine"
)

// channelType connects a policy `type:` to a channel package: check
// decodes and validates the YAML options (no I/O), build makes the
// channel (reads secrets). Adding a channel is one package plus one entry
// in channelTypes.
type channelType struct {
	config reflect.Type // C, the options as written: for `notifier schema`
	check  func(spec *engine.ChannelSpec) (any, engine.Problems)
	build  func(cfg any) (channels.Channel, error)
}

// validator is a channel package's config: decoded strictly, then checked.
type validator interface{ Validate() error }

// typed builds a channelType for config C whose pointer validates.
func typed[C any, PC interface {
	*C
	validator
}, N channels.Channel](newFn func(C) (N, error)) channelType {
	return channelType{
		config: reflect.TypeFor[C](),
		check: func(spec *engine.ChannelSpec) (any, engine.Problems) {
			var cfg C
			ps := engine.DecodeNode(spec.File, spec.Node, &cfg, "type")
			for i := range ps {
				ps[i].Message = "channels." + spec.Name + "." + ps[i].Message
			}
			if len(ps) > 0 {
				return nil, ps
			}
			resolveFiles(&cfg, filepath.Dir(spec.File))
			if err := PC(&cfg).Validate(); err != nil {
				return nil, validationProblems(spec, err)
			}
			return cfg, nil
		},
		build: func(cfg any) (channels.Channel, error) {
			return newFn(cfg.(C))
		},
	}
}

// validationProblems turns a channel's Validate error into one problem
// per line (errors.Join), each at the option it names when the option is
// written — "address ...", "routing_key: ..." — else at the channel.
func validationProblems(spec *engine.ChannelSpec, err error) engine.Problems {
	var ps engine.Problems
	for _, msg := range strings.Split(err.Error(), "\n") {
		at := spec.Node
		rest := strings.TrimPrefix(msg, spec.Type+": ")
		if end := strings.IndexAny(rest, ": "); end > 0 {
			if n := engine.MappingValue(spec.Node, rest[:end]); n != spec.Node {
				at = n
			}
		}
		ps = append(ps, engine.Problem{File: spec.File, Line: at.Line, Col: at.Column, Severity: "error", Check: "channel",
			Message: fmt.Sprintf("channels.%s: %s", spec.Name, msg)})
	}
	return ps
}

// resolveFiles makes every relative *_file option (routing_key_file,
// ca_file, ...) relative to the policy file that names it, not to the
// working directory: Pacemaker runs agents in /var/lib/pacemaker/cores.
func resolveFiles(cfg any, base string) {
	v := reflect.ValueOf(cfg).Elem()
	for i := range v.NumField() {
		tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		f := v.Field(i)
		if strings.HasSuffix(tag, "_file") && f.Kind() == reflect.String && f.String() != "" && !filepath.IsAbs(f.String()) {
			f.SetString(filepath.Join(base, f.String()))
		}
	}
}

var channelTypes = map[string]channelType{
	"pagerduty": typed(pagerduty.New),
	"slack":     typed(slack.New),
	"syslog":    typed(syslog.New),
}

func channelTypeNames() []string {
	names := make([]string, 0, len(channelTypes))
	for n := range channelTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// wiring remembers each checked channel's decoded config, so a run builds
// only the channels it delivers to.
type wiring struct {
	configs map[string]any
}

func newWiring() *wiring { return &wiring{configs: map[string]any{}} }

// loadOptions plugs the channel checks into the engine's loader.
func (w *wiring) loadOptions() engine.LoadOptions {
	return engine.LoadOptions{CheckChannel: func(spec *engine.ChannelSpec) engine.Problems {
		ct, ok := channelTypes[spec.Type]
		if !ok {
			n := engine.MappingValue(spec.Node, "type")
			return engine.Problems{{File: spec.File, Line: n.Line, Col: n.Column, Severity: "error", Check: "channel-type",
				Message: fmt.Sprintf("channels.%s.type: unknown channel type %q (want one of %v)", spec.Name, spec.Type, channelTypeNames())}}
		}
		cfg, ps := ct.check(spec)
		if cfg != nil {
			w.configs[spec.Name] = cfg
		}
		return ps
	}}
}

// errChannelGone is a delivery to a channel the policy no longer has.
var errChannelGone = errors.New("no longer in the policy (renamed or removed?)")

// build makes the named channel of policy p. A policy loaded from a
// snapshot was checked when the snapshot was made; its channels' options
// are decoded here, only for the channels a run uses.
func (w *wiring) build(p *engine.Policy, name string) (channels.Channel, error) {
	spec, ok := p.Channels[name]
	if !ok { // an entry queued before the policy changed
		return nil, errChannelGone
	}
	ct, ok := channelTypes[spec.Type]
	if !ok {
		return nil, fmt.Errorf("channels.%s: unknown channel type %q", name, spec.Type)
	}
	cfg, ok := w.configs[name]
	if !ok {
		if _, err := spec.Mapping(); err != nil {
			return nil, err
		}
		var ps engine.Problems
		if cfg, ps = ct.check(spec); len(ps) > 0 {
			return nil, ps
		}
	}
	return ct.build(cfg)
}
