package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/channels/registry"
	"notifier/engine"
	"notifier/engine/policy"
	"notifier/internal/tmplfake"
)

// fakeWiring is a Wiring that knows tmplfake besides the registry's
// types.
func fakeWiring() *Wiring {
	w := NewWiring()
	w.lookup = func(name string) (channels.Type, bool) {
		if name == tmplfake.Name {
			return tmplfake.Type, true
		}
		return registry.Lookup(name)
	}
	return w
}

// loadWith loads yaml through w, as a run does (Compile) or as lint
// does.
func loadWith(t *testing.T, w *Wiring, yaml string, lint bool) (*engine.Policy, policy.Problems) {
	t.Helper()
	srcs := []policy.Source{{Name: "policy.yaml", Data: []byte(yaml)}}
	if lint {
		return engine.Lint(srcs, w.LoadOptions())
	}
	return engine.Compile(srcs, w.LoadOptions())
}

// templateRig is a rig whose policy is loaded through a wiring that
// compiles its templates; its channels (pager, chat) are recorders.
func templateRig(t *testing.T, yaml string) *rig {
	t.Helper()
	r := newRig(t, testPolicy)
	w := fakeWiring()
	p, ps := loadWith(t, w, yaml, false)
	if p == nil {
		t.Fatalf("policy does not load: %v", ps)
	}
	r.pl.Policy, r.pl.Templates = p, w.Templates()
	return r
}

const templatePolicy = `
channels:
  pager:
    type: tmplfake
    summary: "{{ .severity | upper }} {{ .event_type }} on {{ .node }} ({{ .rule }} via {{ .channel }}, {{ .delivery }})"
    footer: 'runbook: https://runbooks.example/{{ .event_type | lower }}'
    links:
      - {href: "https://cc.example/clusters/{{ .cluster_id }}", text: "{{ default \"cluster\" .cluster }}"}
    details: {owner: dba, since: '{{ date "15:04" .time }}'}
  chat: {type: tmplfake}
rules:
  - name: critical
    when: severity == "critical"
    notify: [pager, chat]
    templates:
      pager:
        summary: "{{ .node }}: {{ .summary }}"
      chat:
        body: '{"node": {{ json .node }}, "members": {{ len .members }}}'
  - name: the-rest
    when: 'true'
    notify: [pager]
`

// The channel's templates, and a rule's override of some of them, are
// rendered into the message's Parts when the delivery is decided.
func TestTemplatesRenderIntoParts(t *testing.T) {
	r := templateRig(t, templatePolicy)
	rep := r.run(t, alarm("new", "warning"))
	if !rep.OK() {
		t.Fatalf("needs a person: %v", rep.NeedsPerson)
	}
	got := r.chans["pager"].messages()
	if len(got) != 1 {
		t.Fatalf("pager got %d messages", len(got))
	}
	want := map[string]string{
		"details.owner": "dba",
		"details.since": r.clock.Format("15:04"),
		"summary":       "WARNING MySqlDisconnected on db1 (the-rest via pager, message)",
		"footer":        "runbook: https://runbooks.example/mysqldisconnected",
		"links.0.href":  "https://cc.example/clusters/1",
		"links.0.text":  "prod",
	}
	if fmt.Sprint(got[0].Parts) != fmt.Sprint(want) {
		t.Errorf("parts:\n got %v\nwant %v", got[0].Parts, want)
	}
	if ds := got[0].PartsUnder("details"); len(ds) != 2 || ds[0].Name != "owner" || ds[1].Name != "since" {
		t.Errorf("details: %+v", ds)
	}

	// The rule's override replaces the channel's summary; the channel's
	// other templates stay. A channel without templates of its own gets
	// the rule's.
	r.clock = r.clock.Add(time.Minute)
	ev := alarm("new", "critical")
	ev.Key = "cmon/ctl/1/43"
	if rep := r.run(t, ev); !rep.OK() {
		t.Fatalf("needs a person: %v", rep.NeedsPerson)
	}
	got = r.chans["pager"].messages()
	if s := got[len(got)-1].Parts["summary"]; s != "db1: MySqlDisconnected on db1 (cluster prod)" {
		t.Errorf("overridden summary %q", s)
	}
	if f := got[len(got)-1].Parts["footer"]; !strings.HasPrefix(f, "runbook: ") {
		t.Errorf("the channel's footer is gone: %q", f)
	}
	chat := r.chans["chat"].messages()
	if len(chat) != 1 || fmt.Sprint(chat[0].Parts) != `map[body:{"node": "db1", "members": 1}]` {
		t.Errorf("chat: %+v", chat)
	}
}

// A template that fails at run time — an error, a blank required part,
// a JSON part that is not JSON — is left out: the channel sends its
// built-in text, the other parts still go, and the run needs a person
// (exit 1), saying channel, option and rule.
func TestTemplateFailureFallsBack(t *testing.T) {
	r := templateRig(t, `
channels:
  pager:
    type: tmplfake
    summary: "{{ .rsc }}"
    body: '{"text": "{{ .message }}"}'
    footer: "{{ humanize .message }}"
    links: [{href: "https://x.example/{{ .node }}"}]
rules:
  - {name: all, when: 'true', notify: [pager]}
`)
	ev := alarm("new", "critical")
	ev.Message = `disk "data" full`
	rep := r.run(t, ev)
	got := r.chans["pager"].messages()
	if len(got) != 1 || fmt.Sprint(got[0].Parts) != "map[links.0.href:https://x.example/db1]" {
		t.Fatalf("delivered %+v", got)
	}
	if got[0].Summary == "" {
		t.Error("the built-in summary is gone")
	}
	var options []string
	for _, err := range rep.NeedsPerson {
		var pe *PartError
		if !errors.As(err, &pe) {
			t.Errorf("needs a person: %v", err)
			continue
		}
		options = append(options, pe.Option)
		if pe.Channel != "pager" || pe.Rule != "all" || !strings.Contains(err.Error(), `channel "pager": template `+pe.Option+` (rule "all") failed`) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("problem %q", err)
		}
	}
	if strings.Join(options, ",") != "summary,body,footer" {
		t.Errorf("failed options %v, want summary,body,footer", options)
	}
	if len(r.notes) < 3 || !strings.Contains(strings.Join(r.notes, "\n"), "it rendered blank") {
		t.Errorf("notes: %q", r.notes)
	}
}

// What is queued keeps its rendered parts: the retry sends what was
// decided. Without state (fail open), the parts go out, and what is kept
// in the pending directory for the next run keeps them too.
func TestTemplatePartsQueuedAndFailOpen(t *testing.T) {
	r := templateRig(t, templatePolicy)
	r.unbuilt["pager"] = errors.New("routing key file unreadable")
	r.run(t, alarm("new", "warning"))
	out := r.outbox(t)
	if len(out) != 1 {
		t.Fatalf("outbox: %+v", out)
	}
	m, err := out[0].Message.Channels()
	if err != nil || !strings.HasPrefix(m.Parts["summary"], "WARNING MySqlDisconnected on db1") || len(m.Parts) != 6 {
		t.Errorf("queued parts %v, %v", m.Parts, err)
	}

	r2 := templateRig(t, templatePolicy)
	r2.store = unavailable{r2.store}
	r2.unbuilt["pager"] = errors.New("routing key file unreadable")
	rep := r2.run(t, alarm("new", "critical"))
	if !rep.FailedOpen {
		t.Fatal("did not fail open")
	}
	got := r2.chans["chat"].messages()
	if len(got) != 1 || got[0].Parts["body"] != `{"node": "db1", "members": 1}` {
		t.Errorf("failing open, chat got %+v", got)
	}
	kept, _ := os.ReadDir(PendingDir(r2.pl.StatePath))
	if len(kept) != 1 {
		t.Fatalf("pending directory holds %d files", len(kept))
	}
	data, err := os.ReadFile(filepath.Join(PendingDir(r2.pl.StatePath), kept[0].Name()))
	if err != nil || !strings.Contains(string(data), `"parts":{`) || !strings.Contains(string(data), `"summary":"db1: MySqlDisconnected on db1 (cluster prod)"`) {
		t.Errorf("kept %s, %v", data, err)
	}
}

// Decide (explain) renders each planned message's parts and says which
// templates fail, without needing a person.
func TestDecideRendersParts(t *testing.T) {
	r := templateRig(t, templatePolicy)
	rep := r.pl.Decide(context.Background(), alarm("new", "critical"))
	if len(rep.Messages) != len(rep.Plan.Send) || len(rep.Messages) != 2 || len(rep.PartErrs) != 0 || len(rep.NeedsPerson) != 0 {
		t.Fatalf("messages %+v, errors %v", rep.Messages, rep.PartErrs)
	}
	if rep.Messages[0].Parts["summary"] != "db1: MySqlDisconnected on db1 (cluster prod)" {
		t.Errorf("parts %v", rep.Messages[0].Parts)
	}
}

// A rule's override of a list option replaces the channel's whole list;
// a map merges by entry.
func TestRuleOverrideReplacesListsMergesMaps(t *testing.T) {
	r := templateRig(t, `
channels:
  pager:
    type: tmplfake
    links:
      - {href: "https://grafana.example/{{ .node }}", text: Grafana dashboard}
      - {href: "https://cc.example/{{ .cluster_id }}", text: ClusterControl}
    details: {owner: dba, runbook: general}
rules:
  - name: db
    when: 'true'
    notify: [pager]
    templates:
      pager:
        links: [{href: "https://runbooks.example/{{ .event_type }}"}]
        details: {runbook: db}
`)
	if rep := r.run(t, alarm("new", "critical")); !rep.OK() {
		t.Fatalf("needs a person: %v", rep.NeedsPerson)
	}
	got := r.chans["pager"].messages()
	want := "map[details.owner:dba details.runbook:db links.0.href:https://runbooks.example/MySqlDisconnected]"
	if len(got) != 1 || fmt.Sprint(got[0].Parts) != want {
		t.Errorf("parts %v\nwant %s", got, want)
	}
}

// A rule's empty list replaces the channel's list with nothing: `links:
// []` leaves out every link the channel's templates make.
func TestRuleOverrideEmptyListRemoves(t *testing.T) {
	r := templateRig(t, `
channels:
  pager:
    type: tmplfake
    links:
      - {href: "https://grafana.example/{{ .node }}", text: Grafana dashboard}
    details: {owner: dba}
rules:
  - name: db
    when: 'true'
    notify: [pager]
    templates:
      pager: {links: []}
`)
	if rep := r.run(t, alarm("new", "critical")); !rep.OK() {
		t.Fatalf("needs a person: %v", rep.NeedsPerson)
	}
	got := r.chans["pager"].messages()
	if want := "map[details.owner:dba]"; len(got) != 1 || fmt.Sprint(got[0].Parts) != want {
		t.Errorf("parts %v\nwant %s", got, want)
	}
}

// A delivery's templates together may take MaxDeliveryRender, however
// many there are (custom_details is a map): rendered inside the state
// transaction, they must not hold its lock long. Each of these 60 runs
// out of its own work budget (milliseconds each); the parts after the
// delivery's time is spent are not rendered at all, and say why.
func TestDeliveryRenderTimeBounded(t *testing.T) {
	heavy := `'` + strings.Repeat(`{{ range .fields }}{{ $y := upper . }}{{ end }}`, 20) + `'`
	var details strings.Builder
	for i := range 60 {
		fmt.Fprintf(&details, "      d%02d: %s\n", i, heavy)
	}
	r := templateRig(t, `
channels:
  pager:
    type: tmplfake
    details:
`+details.String()+`rules:
  - name: db
    when: 'true'
    notify: [pager]
`)
	ev := alarm("new", "critical")
	ev.Fields = map[string]string{}
	for i := range 1000 {
		ev.Fields[fmt.Sprintf("f%04d", i)] = strings.Repeat("x", 1024)
	}
	rep := r.run(t, ev)
	spent := 0
	for _, err := range rep.NeedsPerson {
		if errors.Is(err, errRenderSpent) {
			spent++
		}
	}
	if len(rep.NeedsPerson) != 60 || spent == 0 {
		t.Errorf("%d problems, %d of them parts left unrendered; want all 60 said, some left for time: %v", len(rep.NeedsPerson), spent, rep.NeedsPerson)
	}
	if got := r.chans["pager"].messages(); len(got) != 1 || len(got[0].Parts) != 0 {
		t.Errorf("delivered %d messages, parts %v; want the one, with the built-in texts", len(got), got)
	}
}
