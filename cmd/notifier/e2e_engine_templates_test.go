//go:build e2e

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/internal/harness"
)

// TestE2EEngineTemplates: the engine renders templates as a run does —
// the channel's, a rule's override, the telling rule's on the resolve —
// and a template that fails there sends the built-in text and is counted
// in `notifier status` (the drop has long exited 0: the log and status
// are what say it).
func TestE2EEngineTemplates(t *testing.T) {
	policy := strings.Replace(templatedPolicy, "OVERRIDE\n",
		"    templates: {pager: {summary: '{{ if eq .delivery \"resolve\" }}cleared{{ else }}db: {{ .name }}{{ end }}'}}\n", 1)
	// newEngineRig begins the settings (the audit log): the policy's own
	// go on below them.
	policy = strings.Replace(policy, "\nsettings:\n", "", 1)
	r := newEngineRig(t, policy)
	st := r.startEngine(t)
	for i, name := range []string{"cmon/alarm-new-critical.json", "cmon/alarm-remove-critical.json"} {
		data, err := os.ReadFile(filepath.Join(examples, name))
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.h.StartCMONWith(testCtx(t), data, r.invocation(t, i))
		if err != nil {
			t.Fatal(err)
		}
		if res, err := p.Wait(); err != nil || res.Exit != 0 {
			t.Fatalf("%s: exit %d, %v: %s", name, res.Exit, err, res.Stderr)
		}
		r.waitIdle(t, true)
	}
	if after := r.status(t); after.Claimed != st.Claimed+2 {
		t.Errorf("the engine claimed %d of the 2 events", after.Claimed-st.Claimed)
	}
	got := harness.Accepted(r.h.PagerDuty.Events())
	if len(got) != 2 || got[0].Event.Payload == nil || got[1].Event.EventAction != "resolve" {
		t.Fatalf("PagerDuty accepted %s; want a trigger and its resolve", harness.DescribePagerDuty(got))
	}
	if s := got[0].Event.Payload.Summary; s != "db: MySQL server disconnected" {
		t.Errorf("the engine's trigger summary = %q, want rule db's template", s)
	}
	checkLinks(t, got[0].Event, [2]string{"https://wiki.example.net/runbooks/mysqldisconnected", "Runbook: MySqlDisconnected"})
	if p := r.status(t).Policies[0]; p.Problems != 0 {
		t.Errorf("status counts %d problems (%s), want none", p.Problems, p.LastProblem)
	}
}

// TestE2EEngineTemplateFails: a template that fails in the engine sends
// the built-in text, the engine's log names channel, option and rule,
// and `notifier status` is unhealthy, counting it.
func TestE2EEngineTemplateFails(t *testing.T) {
	policy := strings.Replace(templatedPolicy, "OVERRIDE\n",
		"    templates: {pager: {summary: '{{ with .node }}{{ slice . 0 3 | upper }}: {{ end }}{{ .name }}'}}\n", 1)
	r := newEngineRig(t, strings.Replace(policy, "\nsettings:\n", "", 1))
	r.startEngine(t)
	data, err := os.ReadFile(filepath.Join(examples, "cmon/alarm-new-critical.json"))
	if err != nil {
		t.Fatal(err)
	}
	short := strings.Replace(string(data), `"hostname":""`, `"hostname":"db"`, 1) // shorter than slice wants
	p, err := r.h.StartCMONWith(testCtx(t), []byte(short), r.invocation(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := p.Wait(); err != nil || res.Exit != 0 {
		t.Fatalf("exit %d, %v: %s (the engine took it: the drop exits 0)", res.Exit, err, res.Stderr)
	}
	r.waitIdle(t, true)
	got := harness.Accepted(r.h.PagerDuty.Events())
	// The built-in summary (the template's would begin "DB: ").
	if len(got) != 1 || got[0].Event.Payload == nil || strings.HasPrefix(got[0].Event.Payload.Summary, "DB") ||
		!strings.HasPrefix(got[0].Event.Payload.Summary, "MySQL server disconnected") {
		t.Fatalf("PagerDuty accepted %s; want one trigger with the built-in summary", harness.DescribePagerDuty(got))
	}
	if !strings.Contains(r.engine.Stderr(), `channel "pager": template summary (rule "db") failed`) {
		t.Errorf("the engine's log does not say which template failed:\n%s", tail(r.engine.Stderr(), 20))
	}
	if p := r.status(t).Policies[0]; p.Problems != 1 || !strings.Contains(p.LastProblem, "slice") {
		t.Errorf("status: %d problems, the last %q; want the template's", p.Problems, p.LastProblem)
	}
	res, err := r.h.CommandEnv(testCtx(t), r.env, "status")
	if err != nil || res.Exit != 1 || !strings.Contains(res.Stderr, "1 problem(s) needed a person") || !strings.Contains(res.Stdout, "engine_policy_problems: 1") {
		t.Errorf("notifier status: exit %d, %v\n%s%s", res.Exit, err, res.Stdout, res.Stderr)
	}
}
