package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainChannelCannotBeBuilt: explain shows what the run would do
// with a channel whose secret file is missing or unusable (issue 9, item
// 14): the run queues the delivery and exits 1, so explain says "would
// be queued, not sent", names the channel and the reason, puts the
// problem on stderr and exits 1 — never printing the secret.
func TestExplainChannelCannotBeBuilt(t *testing.T) {
	const badKey = "SHORTSECRETKEY" // not 32 characters: the channel refuses it
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrong, []byte(badKey+"\n"), 0o600)
	alarm := "../../examples/events/cmon/alarm-new-critical.json"
	data, _ := os.ReadFile(alarm)
	for name, keyFile := range map[string]string{
		"secret file missing":        filepath.Join(dir, "missing.key"),
		"secret file holds bad text": wrong,
	} {
		t.Run(name, func(t *testing.T) {
			policy := filepath.Join(t.TempDir(), "p.yaml")
			os.WriteFile(policy, []byte(`channels:
  pager: {type: pagerduty, routing_key_file: "`+keyFile+`"}
  local: {type: syslog, address: "udp://127.0.0.1:9"}
rules:
  - {name: all, when: 'true', notify: [pager, local]}
`), 0o644)
			env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(t.TempDir(), "state.db")}

			code, out, stderr := runInProcess(t, "", env, "explain", "--event", alarm)
			var pagerLine, localLine string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "pager (pagerduty)") {
					pagerLine = l
				}
				if strings.Contains(l, "local (syslog)") {
					localLine = l
				}
			}
			if code != 1 || !strings.Contains(pagerLine, `would be queued, not sent: channel "pager" cannot be built: pagerduty: routing_key_file`) {
				t.Errorf("explain: exit %d, pager line %q; want 1 and the delivery queued, not sent, with the reason\n%s", code, pagerLine, out)
			}
			if strings.Contains(localLine, "would be queued") {
				t.Errorf("a channel that builds is marked queued: %q", localLine)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `channel "pager" cannot be built`) {
				t.Errorf("explain stderr %q, want one line naming the channel", stderr)
			}

			code, out, _ = runInProcess(t, "", env, "explain", "--format", "json", "--event", alarm)
			var x struct {
				Problems []string
				Policy   map[string]any
			}
			if err := json.Unmarshal([]byte(out), &x); err != nil {
				t.Fatal(err)
			}
			// Fields scripts read stay, even when they no longer vary: the
			// snapshot cache is gone, its field is false.
			if s, ok := x.Policy["snapshot"]; !ok || s != false {
				t.Errorf("explain --format json: policy.snapshot = %v (present %v), want false", s, ok)
			}
			if code != 1 || len(x.Problems) != 1 || !strings.Contains(x.Problems[0], `channel "pager" cannot be built`) {
				t.Errorf("explain --format json: exit %d, problems %q", code, x.Problems)
			}

			// The run agrees: the delivery is queued, exit 1.
			code, _, runErr := runInProcess(t, string(data), env, "run")
			if code != 1 || !strings.Contains(runErr, `channel "pager"`) || !strings.Contains(runErr, "queued for retry") {
				t.Errorf("run: exit %d, stderr %q; want 1 with the delivery queued", code, runErr)
			}
			if all := out + stderr + runErr; strings.Contains(all, badKey) {
				t.Errorf("the secret was printed:\n%s", all)
			}
		})
	}
}

// TestExplainExitsAsTheRunWould: whatever makes the run exit 1 though
// the event went where it could — a rule failing on the event, the state
// unusable, a channel that cannot be built — makes explain say it on
// stderr and exit 1 too; a clean event exits 0 in both.
func TestExplainExitsAsTheRunWould(t *testing.T) {
	dir := t.TempDir()
	alarm := "../../examples/events/cmon/alarm-new-critical.json"
	data, _ := os.ReadFile(alarm)
	local := "channels:\n  l: {type: syslog, address: \"udp://127.0.0.1:9\"}\n"
	cases := []struct {
		name, policy, statePath, want string
		code                          int
	}{
		{"clean", local + "rules:\n  - {name: all, when: 'true', notify: [l]}\n", "", "", 0},
		{"rule fails", local + "rules:\n  - {name: broken, when: 'int(fields[\"message\"]) > 0', notify: [l]}\n  - {name: all, when: 'true', notify: [l]}\n", "", `rule "broken" failed`, 1},
		{"state unusable", local + "rules:\n  - {name: all, when: 'true', notify: [l]}\n", filepath.Join(dir, "missing", "state.db"), "state unusable", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			policy := filepath.Join(t.TempDir(), "p.yaml")
			os.WriteFile(policy, []byte(c.policy), 0o644)
			state := c.statePath
			if state == "" {
				state = filepath.Join(t.TempDir(), "state.db")
			}
			env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + state}
			code, _, stderr := runInProcess(t, "", env, "explain", "--event", alarm)
			if code != c.code || (c.want == "") != (stderr == "") || !strings.Contains(stderr, c.want) {
				t.Errorf("explain: exit %d, stderr %q; want %d and %q", code, stderr, c.code, c.want)
			}
			if runCode, _, runErr := runInProcess(t, string(data), env, "run"); runCode != c.code {
				t.Errorf("run: exit %d (%q), explain predicted %d", runCode, runErr, c.code)
			}
		})
	}
}
