package serve

import (
	"errors"
	"path/filepath"
	"testing"

	"notifier/engine"
	"notifier/engine/pipeline"
	"notifier/engine/spool"
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

// What needed a person in a decision or a flush (a template that
// failed: an invocation would exit 1) is counted against the policy it
// was decided with, for `notifier status`, with the last one's line;
// a policy loaded again starts from zero.
func TestStatusCountsProblems(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.Open(filepath.Join(dir, "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	l := &loaded{path: "p.yaml"}
	s := &Server{cfg: Config{Policies: []string{"p.yaml"}, Spool: sp}, policies: map[string]*policyState{"p.yaml": {cur: l}}}
	s.needsPerson(l, &pipeline.Report{})
	s.needsPerson(l, nil)
	if p := s.Status().Policies[0]; p.Problems != 0 || p.LastProblem != "" || !p.LastProblemAt.IsZero() {
		t.Fatalf("no problems yet, status says %+v", p)
	}
	s.needsPerson(l, &pipeline.Report{NeedsPerson: []error{errors.New("one"), errors.New("two\nlines")}})
	s.needsPerson(l, &pipeline.Report{NeedsPerson: []error{errors.New(`channel "pager": template summary (rule "r") failed`)}})
	p := s.Status().Policies[0]
	if p.Problems != 3 || p.LastProblem != `channel "pager": template summary (rule "r") failed` || p.LastProblemAt.IsZero() {
		t.Errorf("status says %+v, want 3 problems, the last the template's", p)
	}
	s.policies["p.yaml"].cur = &loaded{path: "p.yaml"}
	if p := s.Status().Policies[0]; p.Problems != 0 {
		t.Errorf("a policy loaded again still has %d problems", p.Problems)
	}
}
