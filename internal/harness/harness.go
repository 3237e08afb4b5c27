// Package harness runs the real notifier binary the way its callers do —
// CMON with JSON on stdin, no arguments and an empty environment;
// Pacemaker with the alert in the environment and stdin on /dev/null —
// against local PagerDuty, Slack, syslog, webhook, Teams and SMTP
// (mailpit) endpoints. The demo and the end-to-end tests share it, so
// what the demo shows is what CI proves.
package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"

	"notifier/internal/apitest"
)

// RoutingKey is the demo's PagerDuty integration key: 32 characters, as
// the real Events API requires.
const RoutingKey = "demo0routing0key0000000000000001"

// SMTPUser and SMTPPassword are the SMTP AUTH account of the harness's
// mailpit: email channels log in with them, over STARTTLS.
const (
	SMTPUser     = "notifier@demo.example"
	SMTPPassword = "demo-smtp-password-0001"
)

// Harness owns the endpoints and the generated policy.
type Harness struct {
	Bin       string // the notifier binary
	Dir       string // where the policy and secret files live
	Config    string // the generated policy file
	State     string // the embedded state file the policy names
	Spool     string // the spool directory every invocation is given ($NOTIFIER_SPOOL)
	PagerDuty *apitest.PagerDuty
	Slack     *apitest.Slack
	Syslog    *apitest.Syslog
	Webhook   *apitest.Webhook // every webhook channel posts here, at WebhookPath
	Teams     *apitest.Teams
	// Mail is the SMTP server email channels send to: a mailpit started
	// only when the policy has an email channel (nil otherwise), with
	// STARTTLS required and SMTP AUTH as SMTPUser.
	Mail *apitest.Mailpit

	policy string // the policy the generated one was made from
	node   bool   // made by Node: the endpoints belong to another Harness
}

// Options change the state settings of the generated policy.
type Options struct {
	// StatePath is settings.state.path; empty means state.db in the
	// harness's directory. Tests of the fail-open path point it at a
	// directory that does not exist.
	StatePath string
	// RedisURL, when set, is settings.state.redis.url: windows, incidents
	// and silences are then shared with every harness naming the same
	// server, as cluster nodes share them.
	RedisURL string
}

// WebhookPath is the path of the URL every webhook channel is given.
const WebhookPath = "/notifier"

// New starts the endpoints and writes a copy of policy whose channels
// point at them: every pagerduty channel at the local Events API, every
// slack channel at the local webhook, every syslog channel at the local
// RFC 5424 collector over TCP, every webhook channel at h.Webhook, every
// msteams channel at h.Teams and every email channel at h.Mail (started
// for it). Rules and settings are kept as they are, but for
// settings.state, which points at state.db in dir. When the policy has
// an email channel and mailpit cannot be had, the error wraps
// apitest.ErrNoMailpit.
func New(bin, policy, dir string) (*Harness, error) {
	return NewWithOptions(bin, policy, dir, Options{})
}

// NewWithOptions is New with the state settings o.
func NewWithOptions(bin, policy, dir string, o Options) (*Harness, error) {
	h := &Harness{Bin: bin, Dir: dir, Spool: filepath.Join(dir, "spool"), policy: policy, PagerDuty: apitest.NewPagerDuty(), Slack: apitest.NewSlack(), Syslog: apitest.NewSyslogTCP(),
		Webhook: apitest.NewWebhook(), Teams: apitest.NewTeams()}
	if err := h.writePolicy(policy, o); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Node writes, in dir, another copy of the same policy that delivers to
// h's endpoints but keeps its own state as o says: another cluster node
// receiving the same alerts. Closing the node leaves h's endpoints
// running.
func (h *Harness) Node(dir string, o Options) (*Harness, error) {
	n := &Harness{Bin: h.Bin, Dir: dir, Spool: filepath.Join(dir, "spool"), policy: h.policy, PagerDuty: h.PagerDuty, Slack: h.Slack, Syslog: h.Syslog,
		Webhook: h.Webhook, Teams: h.Teams, Mail: h.Mail, node: true}
	if err := n.writePolicy(h.policy, o); err != nil {
		return nil, err
	}
	return n, nil
}

// Close stops the endpoints (a Node's Close does nothing: they are its
// parent's).
func (h *Harness) Close() {
	if h.node {
		return
	}
	h.PagerDuty.Close()
	h.Slack.Close()
	h.Syslog.Close()
	h.Webhook.Close()
	h.Teams.Close()
	if h.Mail != nil {
		h.Mail.Close()
	}
}

func (h *Harness) writePolicy(policy string, o Options) error {
	data, err := os.ReadFile(policy)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", policy, err)
	}
	files, err := h.writeSecrets()
	if err != nil {
		return err
	}
	top := doc.Content[0]
	h.State = o.StatePath
	if h.State == "" {
		h.State = filepath.Join(h.Dir, "state.db")
	}
	if err := setState(top, h.State, o.RedisURL); err != nil {
		return err
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "channels" {
			continue
		}
		chans := top.Content[i+1]
		for j := 1; j < len(chans.Content); j += 2 {
			if err := h.localChannel(chans.Content[j], files); err != nil {
				return fmt.Errorf("%s: channels.%s: %w", policy, chans.Content[j-1].Value, err)
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	h.Config = filepath.Join(h.Dir, "notifier.yaml")
	return os.WriteFile(h.Config, out, 0o644)
}

// setState points settings.state.path at path (and redis.url at
// redisURL, when set), adding settings if the policy has none: the
// harness's state lives in its own directory.
func setState(top *yaml.Node, path, redisURL string) error {
	var settings *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "settings" {
			settings = top.Content[i+1]
		}
	}
	if settings == nil {
		settings = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		top.Content = append([]*yaml.Node{{Kind: yaml.ScalarNode, Value: "settings"}, settings}, top.Content...)
	}
	for i := 0; i+1 < len(settings.Content); i += 2 {
		if settings.Content[i].Value == "state" {
			settings.Content = append(settings.Content[:i], settings.Content[i+2:]...)
			break
		}
	}
	spec := map[string]any{"path": path}
	if redisURL != "" {
		spec["redis"] = map[string]string{"url": redisURL}
	}
	var st yaml.Node
	if err := st.Encode(spec); err != nil {
		return err
	}
	settings.Content = append(settings.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "state"}, &st)
	return nil
}

// Explanation is the part of explain's JSON the harness reads.
type Explanation struct {
	Key        string            `json:"key"`
	Summary    string            `json:"summary"`
	Dropped    bool              `json:"dropped"`
	Ignored    string            `json:"ignored"` // set when the input is deliberately not acted on
	Deliveries []PlannedDelivery `json:"deliveries"`
	NotSent    []PlannedDelivery `json:"not_sent"`
}

// PlannedDelivery is one entry of explain's deliveries or not_sent.
type PlannedDelivery struct {
	Channel string `json:"channel"`
	Type    string `json:"type"`
	Action  string `json:"action"`
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	// Parts are the delivery's templates as rendered, by option.
	Parts map[string]string `json:"parts"`
}

// Explain asks the binary what it would do with eventFile.
func (h *Harness) Explain(ctx context.Context, eventFile string) (*Explanation, error) {
	cmd := exec.CommandContext(ctx, h.Bin, "explain", "--format", "json", "--event", eventFile, "--config", h.Config)
	res, err := run(cmd)
	if err != nil {
		return nil, err
	}
	if res.Exit != 0 {
		return nil, fmt.Errorf("explain %s: exit %d: %s", eventFile, res.Exit, res.Stderr)
	}
	var x Explanation
	if err := json.Unmarshal([]byte(res.Stdout), &x); err != nil {
		return nil, fmt.Errorf("explain %s: %w", eventFile, err)
	}
	return &x, nil
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Events lists the example events under dir: CMON JSON first, then the
// Pacemaker environments, each sorted by name.
func Events(dir string) ([]string, error) {
	var all []string
	for _, pattern := range []string{"cmon/*.json", "pacemaker/*.env"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, err
		}
		sort.Strings(m)
		all = append(all, m...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no example events under %s", dir)
	}
	return all, nil
}
