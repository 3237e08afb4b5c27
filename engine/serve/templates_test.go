package serve

import (
	"testing"

	"notifier/engine"
	"notifier/engine/pipeline"
)

// A policy the engine loads through the real wiring decides with the
// templates that load compiled: the engine renders them as a run does.
func TestLoadedPolicyRendersItsTemplates(t *testing.T) {
	w := pipeline.NewWiring()
	w.LoadOptions() // a load starts here, with no templates yet
	l := (&Server{}).newLoaded("policy.yaml", &engine.Policy{}, w)
	if l.pipeline.Templates == nil || l.pipeline.Templates != w.Templates() {
		t.Errorf("the engine's pipeline has templates %p, its wiring's are %p", l.pipeline.Templates, w.Templates())
	}
	if l := (&Server{}).newLoaded("policy.yaml", &engine.Policy{}, wiring{}); l.pipeline.Templates != nil {
		t.Error("a wiring without templates gave some")
	}
}
