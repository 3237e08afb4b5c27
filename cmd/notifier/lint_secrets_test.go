package main

import (
	"bytes"
	"encoding/json"
	"notifier/engine/policy"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLintCheckSecretsReadsContent: `lint --check-secrets` fails on a
// secret file the channel could not use (read and checked the way the
// channel reads it), at the option's position, and never prints the
// content.
func TestLintCheckSecretsReadsContent(t *testing.T) {
	const (
		goodKey  = "0123456789abcdef0123456789abcdef"
		splitKey = "0123456789abcdef\n123456789abcdef" // 32 bytes, a line break inside
	)
	tests := []struct {
		name   string
		option string // channel options, with FILE for the secret file
		setup  func(t *testing.T, path string)
		want   string // part of the one error; "" for none
	}{
		{"good routing key", "type: pagerduty, routing_key_file: FILE", write(goodKey + "\n"), ""},
		{"routing key with a line break", "type: pagerduty, routing_key_file: FILE", write(splitKey + "\n"), "line break"},
		{"routing key too short", "type: pagerduty, routing_key_file: FILE", write("R0123456789\n"), "must be 32 characters"},
		{"good webhook", "type: slack, webhook_url_file: FILE", write("https://hooks.slack.com/services/T0/B0/secretpath\n"), ""},
		{"webhook that does not parse", "type: slack, webhook_url_file: FILE", write("hooks.slack.com/services/T0/B0/secretpath\n"), "webhook URL"},
		{"token with two lines", "type: slack, token_file: FILE, channel: '#ops'", write("xoxb-1-secretpart\nxoxb-2-secretpart\n"), "line break"},
		{"not a bot token", "type: slack, token_file: FILE, channel: '#ops'", write("xapp-1-secretpart\n"), "not a Slack bot or user token"},
		{"a named pipe", "type: pagerduty, routing_key_file: FILE", fifo, "not a regular file"},
		{"a link to another user's file", "type: pagerduty, routing_key_file: FILE", foreignLink(goodKey), "another user"},
		{"syslog ca_file without a certificate", "type: syslog, address: 'tls://127.0.0.1:6514', ca_file: FILE", write("not a certificate\n"), "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			secret := filepath.Join(dir, "secret")
			tt.setup(t, secret)
			policyFile := filepath.Join(dir, "policy.yaml")
			src := "channels:\n  c: {" + strings.ReplaceAll(tt.option, "FILE", secret) + "}\nrules:\n  - name: all\n    when: \"true\"\n    notify: [c]\n"
			if err := os.WriteFile(policyFile, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			_ = run([]string{"lint", "--check-secrets", "--format", "json", policyFile}, nil, &stdout, &stderr, nil)
			var ps []policy.Problem
			if err := json.Unmarshal(stdout.Bytes(), &ps); err != nil {
				t.Fatalf("output is not JSON: %v\n%s%s", err, stdout.String(), stderr.String())
			}
			var found []policy.Problem
			for _, p := range ps {
				if p.Check == "secret-file" {
					found = append(found, p)
				}
			}
			out := stdout.String() + stderr.String()
			for _, part := range []string{"0123456789abcdef", "secretpart", "secretpath", "not a certificate"} {
				if strings.Contains(out, part) {
					t.Errorf("output shows the file's content (%q):\n%s", part, out)
				}
			}
			switch {
			case tt.want == "" && len(found) > 0:
				t.Errorf("unexpected findings: %+v", found)
			case tt.want != "" && (len(found) != 1 || !strings.Contains(found[0].Message, tt.want) || found[0].Severity != "error" || found[0].Line != 2):
				t.Errorf("findings %+v, want one error at line 2 containing %q", found, tt.want)
			}
		})
	}
}

func write(content string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func fifo(t *testing.T, path string) {
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// foreignLink makes path a link to a private file of another user; only
// root can give a file away.
func foreignLink(content string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to make a file of another user")
		}
		target := path + ".other"
		write(content)(t, target)
		if err := os.Chown(target, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
}
