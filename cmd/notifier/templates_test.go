package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"notifier/channels/registry"
	"notifier/engine/policy"
	"notifier/internal/tmplfake"
)

// withTemplateChannel registers tmplfake, a channel type with template
// options, for one test: the real channels' template options are their
// own packages' business, and this tests the wiring around them.
// Tests of this package do not run in parallel.
func withTemplateChannel(t *testing.T) {
	t.Helper()
	old := registry.Types
	registry.Types = append(slices.Clone(old), tmplfake.Type)
	t.Cleanup(func() { registry.Types = old })
}

// templateEnv is a policy of tmplfake channels recording to a file, and
// the environment a run of it needs.
func templateEnv(t *testing.T, yaml string) (env []string, record, path string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "sent.jsonl")
	path = filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "RECORD", record)), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"NOTIFIER_CONFIG=" + path, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db")}, record, path
}

const templatesPolicy = `
channels:
  pager:
    type: tmplfake
    record: RECORD
    summary: "{{ .severity | upper }}: {{ .name }} on {{ .cluster_id }}"
    footer: |
      runbook: https://runbooks.example/{{ .event_type | lower }}
      owner: dba
rules:
  - name: db
    when: 'true'
    notify: [pager]
    suppress: {for: 30m}
    templates:
      pager:
        summary: '{{ .event_type }} on cluster {{ default "?" .cluster }} ({{ .delivery }})'
`

// A run renders the policy's templates (the rule's override first) into
// the message the channel gets; explain shows the same parts, in text
// and JSON.
func TestTemplatesRunAndExplain(t *testing.T) {
	withTemplateChannel(t)
	env, record, _ := templateEnv(t, templatesPolicy)
	alarm, err := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	if err != nil {
		t.Fatal(err)
	}
	wantSummary := "MySqlDisconnected on cluster ? (message)" // tmplfake keeps no incidents
	wantFooter := "runbook: https://runbooks.example/mysqldisconnected\nowner: dba\n"

	code, stdout, stderr := runInProcess(t, string(alarm), env, "explain", "--format", "json")
	var x struct {
		Deliveries []struct {
			Channel string            `json:"channel"`
			Parts   map[string]string `json:"parts"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(stdout), &x); err != nil || code != 0 {
		t.Fatalf("explain: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if len(x.Deliveries) != 1 || x.Deliveries[0].Parts["summary"] != wantSummary || x.Deliveries[0].Parts["footer"] != wantFooter {
		t.Errorf("explain's parts: %+v", x.Deliveries)
	}
	code, stdout, _ = runInProcess(t, string(alarm), env, "explain")
	if code != 0 || !strings.Contains(stdout, "\n    summary: "+wantSummary+"\n") || !strings.Contains(stdout, "\n    footer: "+fmt.Sprintf("%q", wantFooter)+"\n") {
		t.Errorf("explain: exit %d\n%s", code, stdout)
	}

	code, _, stderr = runInProcess(t, string(alarm), env)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	sent, err := tmplfake.Recorded(record)
	if err != nil || len(sent) != 1 {
		t.Fatalf("sent %+v, %v", sent, err)
	}
	if sent[0].Parts["summary"] != wantSummary || sent[0].Parts["footer"] != wantFooter || len(sent[0].Parts) != 2 {
		t.Errorf("the channel got parts %q", sent[0].Parts)
	}
}

// A template that fails at run time: the channel gets the message
// without that part (its built-in text), and the run exits 1 with one
// line naming channel, option, rule and the error.
func TestTemplateFailureExitsOne(t *testing.T) {
	withTemplateChannel(t)
	env, record, _ := templateEnv(t, `
channels:
  pager: {type: tmplfake, record: RECORD, summary: "{{ humanize .fields.nothing }}", footer: "{{ .node }} down"}
rules:
  - {name: db, when: 'true', notify: [pager]}
`)
	alarm, _ := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	code, _, stderr := runInProcess(t, string(alarm), env)
	if code != exitProblem {
		t.Errorf("exit %d, want %d\n%s", code, exitProblem, stderr)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "template") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `notifier: channel "pager": template summary (rule "db") failed, its built-in text is sent instead: `) ||
		!strings.Contains(lines[0], "humanize") {
		t.Errorf("stderr:\n%s", stderr)
	}
	sent, err := tmplfake.Recorded(record)
	if err != nil || len(sent) != 1 || fmt.Sprint(sent[0].Parts) != "map[footer: down]" {
		t.Errorf("sent %+v, %v", sent, err)
	}
	if len(sent) == 1 && sent[0].Summary == "" {
		t.Error("no built-in summary")
	}
}

// Lint places every template problem at the character it is about, in
// every style of YAML scalar, and renders each template with an event
// of every source and kind, so one that would fail at run time fails
// lint.
func TestLintTemplates(t *testing.T) {
	withTemplateChannel(t)
	_, _, path := templateEnv(t, `
channels:
  plain:
    type: tmplfake
    summary: {{ .sevrity }}
  dq: {type: tmplfake, summary: "\u00e9\t\"{{ .nod }}\""}
  sq: {type: tmplfake, summary: 'it''s {{ .nod }}'}
  block:
    type: tmplfake
    footer: |
      line one
        {{ .nod }}
  folded:
    type: tmplfake
    footer: >-
      first
      {{ range 1000 }}x{{ end }}
  runtime:
    type: tmplfake
    summary: "{{ .rsc }}"
    body: '{"text": "{{ .message }}"}'
    footer: "x {{ humanize .message }}"
rules:
  - name: all
    when: 'true'
    notify: [plain, dq, sq, block, folded, runtime]
    templates:
      runtime:
        links: [{href: "{{ bogus }}"}]
        record: /tmp/x
      sq: {summry: x}
`)
	code, stdout, stderr := runInProcess(t, "", nil, "lint", "--format", "json", path)
	var ps []policy.Problem
	if err := json.Unmarshal([]byte(stdout), &ps); err != nil || code != exitProblem {
		t.Fatalf("exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%d:%d %s %s", p.Line, p.Col, p.Severity, p.Check))
		if strings.Contains(p.Message, "\n") {
			t.Errorf("not one line: %q", p.Message)
		}
	}
	// plain is no template at all: YAML reads {{ as a flow mapping.
	want := []string{
		"5:14 error type",         // plain: {{ .sevrity }} is a YAML mapping
		"6:48 error template",     // dq: after the escapes
		"7:44 error template",     // sq: after ''
		"12:13 error template",    // block: second line, indented
		"17:16 error template",    // folded: the range
		"29:28 error template",    // override: bogus
		"30:17 error template",    // override: record is no template
		"31:12 error unknown-key", // override: summry
		"20:15 error template",    // runtime: .rsc blank for a cmon alarm
		"21:12 error template",    // runtime: a message with quotes is no JSON
		"22:19 error template",    // runtime: humanize fails, at the call
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n got %s\nwant %s\n%s", strings.Join(got, ", "), strings.Join(want, ", "), stdout)
	}
	for _, p := range ps {
		if p.Line == 20 && !strings.Contains(p.Message, "fails for a cmon alarm raise") {
			t.Errorf("runtime: %s", p.Message)
		}
	}
}

// A policy test can expect what a delivery's templates render; a
// template that fails fails the step, as it makes a run exit 1.
func TestPolicyTestExpectsParts(t *testing.T) {
	withTemplateChannel(t)
	env, _, path := templateEnv(t, templatesPolicy)
	alarm, err := filepath.Abs("../../examples/events/cmon/alarm-new-critical.json")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, parts string) string {
		test := filepath.Join(filepath.Dir(path), name)
		os.WriteFile(test, []byte(`policy: policy.yaml
tests:
  - name: parts
    steps:
      - cmon_file: `+alarm+`
        expect:
          deliveries: [{channel: pager, parts: `+parts+`}]
`), 0o644)
		return test
	}
	good := write("good_test.yaml", `{summary: "MySqlDisconnected on cluster ? (message)", footer: "runbook: https://runbooks.example/mysqldisconnected\nowner: dba\n"}`)
	if code, stdout, stderr := runInProcess(t, "", env, "test", good); code != 0 {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	bad := write("bad_test.yaml", `{summary: "something else"}`)
	code, stdout, stderr := runInProcess(t, "", env, "test", bad)
	if code != exitProblem || !strings.Contains(stdout+stderr, `want: pager summary="something else"`) ||
		!strings.Contains(stdout+stderr, `summary="MySqlDisconnected on cluster ? (message)"`) {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	os.WriteFile(path, []byte(strings.Replace(templatesPolicy, "{{ .delivery }}", "{{ humanize .message }}", 1)), 0o644)
	code, stdout, stderr = runInProcess(t, "", env, "test", good)
	if code != exitProblem || !strings.Contains(stdout+stderr, `template summary (rule "db") failed`) {
		t.Errorf("a failing template: exit %d\n%s%s", code, stdout, stderr)
	}
}
