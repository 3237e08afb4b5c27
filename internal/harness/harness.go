// Package harness runs the real notifier binary the way its callers do —
// CMON with JSON on stdin, no arguments and an empty environment;
// Pacemaker with the alert in the environment and stdin on /dev/null —
// against local PagerDuty, Slack and syslog endpoints. The demo and the
// end-to-end tests share it, so what the demo shows is what CI proves.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"

	"notifier/engine/pacemaker"
	"notifier/internal/apitest"
)

// RoutingKey is the demo's PagerDuty integration key: 32 characters, as
// the real Events API requires.
const RoutingKey = "demo0routing0key0000000000000001"

// Harness owns the endpoints and the generated policy.
type Harness struct {
	Bin       string // the notifier binary
	Dir       string // where the policy and secret files live
	Config    string // the generated policy file
	State     string // the embedded state file the policy names
	PagerDuty *apitest.PagerDuty
	Slack     *apitest.Slack
	Syslog    *apitest.Syslog
}

// New starts the endpoints and writes a copy of policy whose channels
// point at them: every pagerduty channel at the local Events API, every
// slack channel at the local webhook, every syslog channel at the local
// RFC 5424 collector over TCP. Rules and settings are kept as they are.
func New(bin, policy, dir string) (*Harness, error) {
	h := &Harness{Bin: bin, Dir: dir, PagerDuty: apitest.NewPagerDuty(), Slack: apitest.NewSlack(), Syslog: apitest.NewSyslogTCP()}
	if err := h.writePolicy(policy); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Close stops the endpoints.
func (h *Harness) Close() {
	h.PagerDuty.Close()
	h.Slack.Close()
	h.Syslog.Close()
}

func (h *Harness) writePolicy(policy string) error {
	data, err := os.ReadFile(policy)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", policy, err)
	}
	keyFile := filepath.Join(h.Dir, "pagerduty.key")
	urlFile := filepath.Join(h.Dir, "slack.url")
	if err := os.WriteFile(keyFile, []byte(RoutingKey+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(urlFile, []byte(h.Slack.WebhookURL()+"\n"), 0o600); err != nil {
		return err
	}
	top := doc.Content[0]
	h.State = filepath.Join(h.Dir, "state.db")
	if err := setState(top, h.State); err != nil {
		return err
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "channels" {
			continue
		}
		chans := top.Content[i+1]
		for j := 1; j < len(chans.Content); j += 2 {
			var spec struct{ Type string }
			if err := chans.Content[j].Decode(&spec); err != nil {
				return err
			}
			var local map[string]string
			switch spec.Type {
			case "pagerduty":
				local = map[string]string{"type": "pagerduty", "routing_key_file": keyFile, "events_url": h.PagerDuty.URL()}
			case "slack":
				local = map[string]string{"type": "slack", "webhook_url_file": urlFile}
			case "syslog":
				local = map[string]string{"type": "syslog", "address": h.Syslog.Address()}
			default:
				return fmt.Errorf("%s: channel type %q has no local endpoint", policy, spec.Type)
			}
			if err := chans.Content[j].Encode(local); err != nil {
				return err
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

// setState points settings.state.path at path, adding settings if the
// policy has none: the harness's state lives in its own directory.
func setState(top *yaml.Node, path string) error {
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
	var st yaml.Node
	if err := st.Encode(map[string]string{"path": path}); err != nil {
		return err
	}
	settings.Content = append(settings.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "state"}, &st)
	return nil
}

// Result is one finished invocation.
type Result struct {
	Exit           int
	Stdout, Stderr string
}

// IsPacemakerEvent tells the example events apart by file name.
func IsPacemakerEvent(file string) bool { return filepath.Ext(file) == ".env" }

// Run invokes the binary for one example event as its real caller would.
func (h *Harness) Run(ctx context.Context, eventFile string) (Result, error) {
	if IsPacemakerEvent(eventFile) {
		return h.RunPacemaker(ctx, eventFile)
	}
	return h.RunCMON(ctx, eventFile)
}

// RunCMON runs the binary as CMON does: JSON on stdin, no arguments, an
// environment holding nothing but NOTIFIER_CONFIG.
func (h *Harness) RunCMON(ctx context.Context, eventFile string) (Result, error) {
	data, err := os.ReadFile(eventFile)
	if err != nil {
		return Result{}, err
	}
	cmd := exec.CommandContext(ctx, h.Bin)
	cmd.Env = []string{"NOTIFIER_CONFIG=" + h.Config}
	cmd.Stdin = bytes.NewReader(data)
	return run(cmd)
}

// RunPacemaker runs the binary as Pacemaker does: the alert in the
// environment (as captured, plus NOTIFIER_CONFIG as an instance
// attribute), no arguments, stdin on /dev/null.
func (h *Harness) RunPacemaker(ctx context.Context, eventFile string, extraEnv ...string) (Result, error) {
	data, err := os.ReadFile(eventFile)
	if err != nil {
		return Result{}, err
	}
	env, err := pacemaker.ParseEnvFile(data)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", eventFile, err)
	}
	cmd := exec.CommandContext(ctx, h.Bin)
	cmd.Env = append(envList(env), "NOTIFIER_CONFIG="+h.Config)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdin = nil // /dev/null
	return run(cmd)
}

// Explanation is the part of explain's JSON the harness reads.
type Explanation struct {
	Key        string `json:"key"`
	Summary    string `json:"summary"`
	Dropped    bool   `json:"dropped"`
	Ignored    string `json:"ignored"` // set when the input is deliberately not acted on
	Deliveries []struct {
		Channel string `json:"channel"`
		Type    string `json:"type"`
		Action  string `json:"action"`
		Rule    string `json:"rule"`
	} `json:"deliveries"`
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

func run(cmd *exec.Cmd) (Result, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.Exit = ee.ExitCode()
		return res, nil
	}
	return res, err
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
