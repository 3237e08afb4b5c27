package main

import (
	"notifier/channels"
	"notifier/engine"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
)

// wiring is the command's pipeline.Wiring (the channel checks of a
// load, and the channels a command builds and closes once), under the
// names the commands use.
type wiring struct{ w *pipeline.Wiring }

func newWiring() *wiring { return &wiring{w: pipeline.NewWiring()} }

// loadOptions plugs the channel checks into the engine's loader.
func (w *wiring) loadOptions() policy.Options { return w.w.LoadOptions() }

// channel returns policy p's channel called name, built once per
// command.
func (w *wiring) channel(p *engine.Policy, name string) (channels.Channel, error) {
	return w.w.Channel(p, name)
}

// close closes every channel the command built.
func (w *wiring) close() { w.w.Close() }

// validationProblems: see pipeline.ValidationProblems.
func validationProblems(spec *policy.ChannelSpec, err error) policy.Problems {
	return pipeline.ValidationProblems(spec, err)
}
