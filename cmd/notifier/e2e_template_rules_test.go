package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"notifier/internal/apitest"
	"notifier/internal/harness"
)

// hookReceiver is a webhook receiver on 127.0.0.1 that keeps every body.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// binaryEnv writes policy (URL_FILE replaced by a file holding url) and
// is the environment the built binary runs it with.
func binaryEnv(t *testing.T, policy, url string) []string {
	t.Helper()
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "hook.url")
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(urlFile, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(policy, "URL_FILE", urlFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"NOTIFIER_CONFIG=" + path, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db"),
		"NOTIFIER_SPOOL=" + filepath.Join(dir, "spool")}
}

// runBinary runs the built binary as CMON does, with the example event
// file on stdin.
func runBinary(t *testing.T, env []string, eventFile string) (int, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examples, eventFile))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(testCtx(t), binary)
	cmd.Env, cmd.Stdin = env, bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// A resolve renders with the templates of the rule that told the
// channel, as its trigger did: a receiver that parses the rule's body
// gets the resolve in the same shape, and closes the incident.
func TestE2EResolveUsesTheRulesTemplates(t *testing.T) {
	hook := newHookReceiver(t)
	env := binaryEnv(t, `
channels:
  hook: {type: webhook, url_file: URL_FILE}
rules:
  - name: resolve
    when: 'node == "elsewhere"'
    notify: [hook]
    templates:
      hook: {body: '{"wrong": "the rule named resolve"}'}
  - name: db
    when: 'true'
    notify: [hook]
    templates:
      hook:
        body: '{"custom": "v2", "rule": {{ json .rule }}, "delivery": {{ json .delivery }}, "key": {{ json .key }}}'
`, hook.srv.URL)
	for _, f := range []string{"cmon/alarm-new-critical.json", "cmon/alarm-remove-critical.json"} {
		if code, stderr := runBinary(t, env, f); code != 0 {
			t.Fatalf("%s: exit %d\n%s", f, code, stderr)
		}
	}
	got := hook.received()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d bodies, want a message and its resolve: %q", len(got), got)
	}
	for i, want := range []string{"message", "resolve"} {
		var b struct{ Custom, Rule, Delivery, Key string }
		if err := json.Unmarshal([]byte(got[i]), &b); err != nil || b.Custom != "v2" || b.Rule != "db" || b.Delivery != want || b.Key == "" {
			t.Errorf("body %d: %s (%v); want the rule db's body for a %s", i, got[i], err, want)
		}
	}
}

// A JSON part that is not valid UTF-8 — an event text pasted without
// the json function, from a Pacemaker environment carrying such bytes —
// is a failed template: the webhook sends its default body, and the run
// exits 1 saying so, instead of the receiver silently getting another
// shape.
func TestE2EJSONPartNotUTF8ExitsOne(t *testing.T) {
	hook := newHookReceiver(t)
	env := binaryEnv(t, `
channels:
  hook: {type: webhook, url_file: URL_FILE, body: '{"desc": "{{ .desc }}"}'}
rules:
  - {name: all, when: 'true', notify: [hook]}
`, hook.srv.URL)
	cmd := exec.CommandContext(testCtx(t), binary)
	cmd.Env = append(env, "CRM_alert_version=2.1.5", "CRM_alert_kind=node", "CRM_alert_node=db2", "CRM_alert_nodeid=2",
		"CRM_alert_desc=lost \xff\xfe", "CRM_alert_recipient=", "CRM_alert_node_sequence=3", "CRM_alert_timestamp_epoch=1772373909",
		"CRM_alert_timestamp_usec=000001")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitProblem {
		t.Errorf("exit %v, want %d\n%s", err, exitProblem, stderr.String())
	}
	if !strings.Contains(stderr.String(), `channel "hook": template body (rule "all") failed`) || !strings.Contains(stderr.String(), "UTF-8") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	got := hook.received()
	if len(got) != 1 || !strings.Contains(got[0], `"version":1`) {
		t.Errorf("the receiver got %q, want the default body", got)
	}
}

// A rule's links replace the channel's: PagerDuty gets the rule's list,
// not the channel's with its first item's href replaced.
func TestE2ERuleLinksReplaceTheChannels(t *testing.T) {
	pd := apitest.NewPagerDuty()
	t.Cleanup(pd.Close)
	env := binaryEnv(t, `
channels:
  pager:
    type: pagerduty
    routing_key_file: URL_FILE
    events_url: `+pd.URL()+`
    links:
      - {href: "https://grafana.example/d/{{ .node }}", text: Grafana dashboard}
      - {href: "https://cc.example/clusters/{{ .cluster_id }}", text: ClusterControl}
rules:
  - name: db
    when: 'true'
    notify: [pager]
    templates:
      pager:
        links: [{href: "https://runbooks.example/{{ .event_type }}"}]
`, harness.RoutingKey)
	if code, stderr := runBinary(t, env, "cmon/alarm-new-critical.json"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	got := pd.Events()
	if len(got) != 1 {
		t.Fatalf("PagerDuty got %d events", len(got))
	}
	if l := got[0].Event.Links; fmt.Sprint(l) != "[map[href:https://runbooks.example/MySqlDisconnected]]" {
		t.Errorf("links %v, want the rule's one link", l)
	}
}

// A rule's override is validated as the channel validates its own
// options: a syslog field's or a Teams fact's name that the channel
// refuses is refused in a rule's templates too, at the name, instead of
// being dropped at run time.
func TestE2ELintValidatesRuleOverrides(t *testing.T) {
	env := binaryEnv(t, `
channels:
  log: {type: syslog, address: "udp://127.0.0.1:514"}
  teams: {type: msteams, webhook_url_file: URL_FILE}
rules:
  - name: db
    when: 'true'
    notify: [log, teams]
    templates:
      log:
        fields: {key: x, "bad name": y}
      teams:
        facts: {"a.b": x}
`, "https://example.invalid/hook")
	cmd := exec.CommandContext(testCtx(t), binary, "lint", "--format", "json")
	cmd.Env = env
	out, err := cmd.Output()
	var ps []struct {
		Line, Col int
		Check     string
		Message   string
	}
	if jerr := json.Unmarshal(out, &ps); jerr != nil {
		t.Fatalf("%v, %v\n%s", err, jerr, out)
	}
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%d:%d %s", p.Line, p.Col, p.Message))
	}
	want := []string{
		`11:18 rule "db": templates.log: fields.key: the line's own key: correlation relies on it`,
		`11:26 rule "db": templates.log: fields.bad name: a name is letters, digits, '_' and '-' only`,
		`13:17 rule "db": templates.teams: facts.a.b: a fact's name cannot hold a dot`,
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitProblem || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exit %v, findings:\n%s\nwant\n%s", err, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Lint renders each template as the run does: as the delivery each
// channel gets (a Teams channel gets a message, never a trigger; a
// resolve for a clear) and with the name of each rule that uses it. A
// title that is blank for every message fails lint; a summary of the
// rule's name passes.
func TestE2ELintRendersAsTheRunDoes(t *testing.T) {
	env := binaryEnv(t, `
channels:
  pager: {type: pagerduty, routing_key_file: URL_FILE, summary: '{{ .rule }}'}
  teams:
    type: msteams
    webhook_url_file: URL_FILE
    title: '{{ if eq .delivery "resolve" }}RESOLVED {{ .node }}{{ else if eq .delivery "trigger" }}FIRING {{ .node }}{{ end }}'
rules:
  - {name: db, when: 'true', notify: [pager, teams]}
`, "x")
	cmd := exec.CommandContext(testCtx(t), binary, "lint", "--format", "json")
	cmd.Env = env
	out, err := cmd.Output()
	var ps []struct {
		Line, Col int
		Message   string
	}
	if jerr := json.Unmarshal(out, &ps); jerr != nil {
		t.Fatalf("%v, %v\n%s", err, jerr, out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitProblem || len(ps) != 1 || ps[0].Line != 7 ||
		!strings.Contains(ps[0].Message, `channels.teams.title: template: fails for a cmon alarm raise as a message of rule "db"`) ||
		!strings.Contains(ps[0].Message, "rendered blank") {
		t.Errorf("exit %v, findings %+v", err, ps)
	}
}
