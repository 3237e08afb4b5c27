package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"notifier/internal/apitest"
)

var notifierBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if notifierBuild.dir != "" {
		os.RemoveAll(notifierBuild.dir)
	}
	os.Exit(code)
}

// notifierBinary builds cmd/notifier once per test binary, as the
// end-to-end tests do, for the tests that run it.
func notifierBinary(t *testing.T) string {
	t.Helper()
	notifierBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "notifier-harness-")
		if err != nil {
			notifierBuild.err = err
			return
		}
		notifierBuild.dir = dir
		notifierBuild.bin = filepath.Join(dir, "notifier")
		build := exec.Command("go", "build", "-o", notifierBuild.bin, "../../cmd/notifier")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			notifierBuild.err = fmt.Errorf("building notifier: %v\n%s", err, out)
		}
	})
	if notifierBuild.err != nil {
		t.Fatal(notifierBuild.err)
	}
	return notifierBuild.bin
}

// sixChannels has one channel of each type, each pointing at a place
// that is not the harness's (which the harness must replace), with the
// options it must keep.
const sixChannels = `
channels:
  pager:
    type: pagerduty
    routing_key_file: /nonexistent/pagerduty.key
  ops:
    type: slack
    webhook_url_file: /nonexistent/slack.url
  local:
    type: syslog
    address: tcp://syslog.invalid:514
  hook:
    type: webhook
    url: https://hooks.invalid/alerts
    headers:
      - {name: X-Team, value: dba}
  teams:
    type: msteams
    webhook_url_file: /nonexistent/teams.url
    title: "Teams: {{ .summary }}"
  mail:
    type: email
    host: smtp.invalid
    port: 2525
    tls: implicit
    username: someone
    password_file: /nonexistent/smtp.password
    from: "Notifier <notifier@example.com>"
    to: [oncall@example.com]
    cc: [dba@example.com]
    subject: "[{{ upper .severity }}] {{ .summary }}"
rules:
  - name: everyone
    when: "true"
    notify: [pager, ops, local, hook, teams, mail]
`

// TestSixChannelTypes: a policy with a channel of each type goes through
// New and the real binary, and each local endpoint receives its message,
// with the options the harness keeps (headers, title, from, to, cc,
// subject) and none of those it replaces.
func TestSixChannelTypes(t *testing.T) {
	apitest.RequireMailpit(t)
	bin := notifierBinary(t)
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(sixChannels), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := New(bin, policy, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.Mail == nil {
		t.Fatal("a policy with an email channel started no mailpit")
	}
	cfg, err := os.ReadFile(h.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{".invalid", "/nonexistent/", "someone", "2525", "implicit"} {
		if strings.Contains(string(cfg), gone) {
			t.Errorf("the generated policy still has %q:\n%s", gone, cfg)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := h.Run(ctx, "../../examples/events/cmon/alarm-new-critical.json")
	if err != nil {
		t.Fatal(err)
	}
	if res.Exit != 0 {
		t.Fatalf("exit %d: %s", res.Exit, res.Stderr)
	}
	for _, secret := range []string{SMTPPassword, apitest.TeamsSignature, RoutingKey} {
		if strings.Contains(res.Stdout+res.Stderr, secret) {
			t.Errorf("the run printed a secret: %s%s", res.Stdout, res.Stderr)
		}
	}

	if got := Accepted(h.PagerDuty.Events()); len(got) != 1 || got[0].Event.EventAction != "trigger" {
		t.Errorf("PagerDuty accepted %s, want one trigger", DescribePagerDuty(got))
	}
	if got := h.Slack.Messages(); len(got) != 1 {
		t.Errorf("Slack received %d messages, want 1", len(got))
	}
	if got, err := h.Syslog.Wait(1, 10*time.Second); err != nil || len(got) != 1 {
		t.Errorf("syslog received %d, %v; want 1", len(got), err)
	}
	hooks := h.Webhook.Requests()
	if len(hooks) != 1 {
		t.Fatalf("webhook received %d requests, want 1", len(hooks))
	}
	var body map[string]any
	if r := hooks[0]; r.Path != WebhookPath || r.Status != http.StatusOK || r.Header.Get("X-Team") != "dba" || json.Unmarshal(r.Body, &body) != nil {
		t.Errorf("webhook request %s %s (answered %d), X-Team %q, body %s", r.Method, r.Path, r.Status, r.Header.Get("X-Team"), r.Body)
	}
	cards := h.Teams.Cards()
	if len(cards) != 1 || !strings.Contains(string(cards[0]), `"Teams: `) {
		t.Errorf("Teams accepted %d cards %s, want one with the policy's title; requests %+v", len(cards), cards, h.Teams.Requests())
	}
	mails, err := h.Mail.WaitMessages(1)
	if err != nil {
		t.Fatal(err)
	}
	m := mails[0]
	if subj := m.Header.Get("Subject"); !strings.HasPrefix(subj, "[CRITICAL] ") {
		t.Errorf("Subject %q, want the policy's template", subj)
	}
	if from, to, cc := m.Header.Get("From"), m.Header.Get("To"), m.Header.Get("Cc"); !strings.Contains(from, "notifier@example.com") || !strings.Contains(to, "oncall@example.com") || !strings.Contains(cc, "dba@example.com") {
		t.Errorf("From %q To %q Cc %q, want the policy's", from, to, cc)
	}

	// Close stops the endpoints, mailpit included (the deferred Close
	// then does nothing more).
	h.Close()
	if c, err := net.Dial("tcp", h.Mail.Addr()); err == nil {
		c.Close()
		t.Error("mailpit still accepts connections after Close")
	}
	if resp, err := http.Post(h.Teams.URL(), "application/json", strings.NewReader("{}")); err == nil {
		resp.Body.Close()
		t.Error("the Teams endpoint still answers after Close")
	}
}

// TestNoEmailNoMailpit: mailpit is started only for a policy with an
// email channel; the others' endpoints are always there, and Close
// stops them.
func TestNoEmailNoMailpit(t *testing.T) {
	h, err := New("notifier", "../../policies/default.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if h.Mail != nil {
		t.Error("a policy without an email channel started a mailpit")
	}
	if h.Webhook == nil || h.Teams == nil {
		t.Fatal("no webhook or Teams endpoint")
	}
	u := h.Webhook.URL()
	h.Close()
	if resp, err := http.Post(u, "text/plain", strings.NewReader("x")); err == nil {
		resp.Body.Close()
		t.Error("the webhook still answers after Close")
	}
}
