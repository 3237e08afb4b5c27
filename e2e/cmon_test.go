//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCMONPluginDir runs the installed binary the way CMON runs plugins:
// in a plugin_dir, every executable there run as root with one JSON
// message on stdin, no arguments, an empty environment (so the default
// /etc/notifier/notifier.yaml) — for every example CMON message. A file
// beside it that is not executable is not run and does no harm. What
// reached PagerDuty, Slack and syslog is what `notifier explain` said
// beforehand, message by message.
//
// It runs both ways: without an engine, and with the installed `notifier
// serve` running as the packages' user for the default policy, which
// must decide every alarm and deliver exactly the same. The plugin is a
// link to notifier-drop, as the examples install it, or a copy of
// notifier with nothing but its exec bits, each way.
func TestCMONPluginDir(t *testing.T) {
	for _, v := range []struct {
		plugin string
		engine bool
	}{
		{installed, false},
		{installedDrop, false},
		{installedDrop, true},
		{installed, true},
	} {
		t.Run(describeMode(filepath.Base(v.plugin), v.engine), func(t *testing.T) {
			cmonRound(t, v.plugin, v.engine)
		})
	}
}

func cmonRound(t *testing.T, plugin string, withEngine bool) {
	e := newEndpoints(t)
	name := "e2e-cmon-" + filepath.Base(plugin)
	if withEngine {
		name += "-engine"
	}
	policy, _ := policySetup(t, name, e)
	// CMON finds the policy at the default path: put the test's there for
	// the duration, and the package's conffile back afterwards.
	const conf = "/etc/notifier/notifier.yaml"
	orig, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(conf, orig, 0o644) })
	data, _ := os.ReadFile(policy)
	if err := os.WriteFile(conf, data, 0o644); err != nil {
		t.Fatal(err)
	}

	plugins := t.TempDir()
	if plugin == installedDrop {
		// As the examples install it: notifier-drop execs the notifier
		// beside its own executable, the link's target.
		if err := os.Symlink(installedDrop, filepath.Join(plugins, "notifier")); err != nil {
			t.Fatal(err)
		}
	} else {
		bin, _ := os.ReadFile(plugin)
		if err := os.WriteFile(filepath.Join(plugins, "notifier"), bin, 0o111); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(plugins, "notifier"), 0o111) // exec only: not even readable
	}
	os.WriteFile(filepath.Join(plugins, "README.txt"), []byte("#!/bin/sh\necho this must not run >&2\nexit 3\n"), 0o644)
	var eng *e2eEngine
	if withEngine {
		eng = startEngine(t, conf)
	}

	messages, _ := filepath.Glob(filepath.Join(repo, "examples", "events", "cmon", "*.json"))
	if len(messages) < 5 {
		t.Fatalf("only %d example CMON messages", len(messages))
	}
	for _, msg := range messages {
		name := filepath.Base(msg)
		predicted, ignored := explain(t, msg)
		pdBefore, slackBefore, syslogBefore := len(e.pd.Events()), len(e.slack.Messages()), len(rsyslog.matching("local.log"))
		var claimedBefore uint64
		if withEngine {
			claimedBefore = eng.idle(t).Claimed
		}
		input, _ := os.ReadFile(msg)
		ran := runPlugins(t, plugins, input)
		if len(ran) != 1 || ran[0] != "notifier" {
			t.Fatalf("%s: the plugin runner ran %v, want only notifier", name, ran)
		}
		want := map[string]int{}
		for _, d := range predicted {
			want[d]++
		}
		counts := func() map[string]int {
			return map[string]int{
				"pagerduty": len(e.pd.Events()) - pdBefore,
				"slack":     len(e.slack.Messages()) - slackBefore,
				"syslog":    len(rsyslog.matching("local.log")) - syslogBefore,
			}
		}
		// With the engine the plugin exits once its alarm is spooled and
		// claimed: the deliveries follow.
		waitFor(t, 10*time.Second, name+": the predicted deliveries", func() bool {
			got := counts()
			return got["pagerduty"] >= want["pagerduty"] && got["slack"] >= want["slack"] && got["syslog"] >= want["syslog"]
		})
		if withEngine {
			wantClaimed := claimedBefore + 1
			if ignored != "" {
				wantClaimed = claimedBefore // not an alarm: nothing to spool
			}
			if st := eng.idle(t); st.Claimed != wantClaimed {
				t.Errorf("%s: the engine claimed %d entries, want %d (ignored: %q)", name, st.Claimed-claimedBefore, wantClaimed-claimedBefore, ignored)
			}
		} else {
			spoolIdle(t)
		}
		got := counts()
		for _, ch := range []string{"pagerduty", "slack", "syslog"} {
			if got[ch] != want[ch] {
				t.Errorf("%s: %s received %d, explain predicted %d (%v)", name, ch, got[ch], want[ch], predicted)
			}
		}
	}
	// The examples raise, update and clear a critical alarm and raise
	// warnings: the comparison above was not vacuous.
	if len(e.pd.Events()) < 2 || len(e.slack.Messages()) < 1 {
		t.Errorf("PagerDuty got %d requests and Slack %d messages: want a trigger and a resolve, and a warning", len(e.pd.Events()), len(e.slack.Messages()))
	}
	for _, r := range e.pd.Events() {
		if r.Status != 202 {
			t.Errorf("PagerDuty answered %d: %v", r.Status, r.Errors)
		}
	}
	if withEngine {
		st, err := eng.Status()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the engine (uid %d) claimed %d of %d messages (the others are not alarms)", eng.uid, st.Claimed, len(messages))
		eng.stop(t)
	}
}

// explain returns the channel types `notifier explain` says an event
// would be delivered to, as root with the default config, the state as it
// is now, and why it is ignored (not an alarm), if it is.
func explain(t *testing.T, event string) ([]string, string) {
	t.Helper()
	res := notifier(t, []string{}, "explain", "--event", event, "--format", "json")
	if res.code != 0 {
		t.Fatalf("explain %s: exit %d: %s", event, res.code, res.out)
	}
	var x struct {
		Ignored    string                  `json:"ignored"`
		Deliveries []struct{ Type string } `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(res.out), &x); err != nil {
		t.Fatalf("explain %s: %v\n%s", event, err, res.out)
	}
	var out []string
	for _, d := range x.Deliveries {
		out = append(out, d.Type)
	}
	return out, x.Ignored
}

// runPlugins does what CMON's plugin runner does with one message: every
// regular file in dir with an exec bit (a link to one too, as the
// examples install notifier-drop) is run as root, with the message on
// stdin, no arguments and an empty environment, and must exit 0. It
// returns the names it ran.
func runPlugins(t *testing.T, dir string, message []byte) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, filepath.Join(dir, e.Name()))
		cmd.Env = []string{}
		cmd.Dir = "/"
		cmd.Stdin = bytes.NewReader(message)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("plugin %s: %v: %s", e.Name(), err, strings.TrimSpace(stderr.String()))
		}
		ran = append(ran, e.Name())
	}
	return ran
}
