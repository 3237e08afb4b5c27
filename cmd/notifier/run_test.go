package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine"
	"notifier/engine/policy"
	"notifier/internal/apitest"
)

// runInProcess runs the CLI as main does, with its exit code.
func runInProcess(t *testing.T, stdin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, strings.NewReader(stdin), &out, &errOut, env)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

// TestShippedPoliciesLoadClean: the default policy and every example
// load with the real channel checks, without a single warning.
func TestShippedPoliciesLoadClean(t *testing.T) {
	files, _ := filepath.Glob("../../examples/config/*.yaml")
	files = append(files, "../../policies/default.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			srcs, err := policy.ReadSources(f)
			if err != nil {
				t.Fatal(err)
			}
			p, ps := engine.Lint(srcs, newWiring().loadOptions())
			if p == nil || len(ps) != 0 {
				t.Fatalf("%v", ps)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(policy, []byte("channels:\n  l: {type: syslog}\nrules:\n  - {name: all, when: 'true', drop: true}\n"), 0o644)
	nothing := filepath.Join(t.TempDir(), "nothing.yaml")
	os.WriteFile(nothing, []byte("rules:\n  - {name: never, when: 'false', drop: true}\n"), 0o644)
	failing := filepath.Join(t.TempDir(), "failing.yaml")
	os.WriteFile(failing, []byte("rules:\n  - {name: broken, when: 'int(fields[\"message\"]) > 0', drop: true}\n  - {name: rest, when: 'true', drop: true}\n"), 0o644)
	env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(t.TempDir(), "state.db")}
	alarm, _ := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stderr string
	}{
		{"dropped event", string(alarm), nil, 0, ""},
		{"no rule matched", string(alarm), []string{"--config", nothing}, 0, "no rule matched cmon/"},
		{"rule fails at run time", string(alarm), []string{"--config", failing}, 1, `rule "broken" failed on cmon/`},
		{"not an alarm", `{"type":"event","action":"new","event":{}}`, nil, 0, `cmon message of type "event" is not an alarm`},
		{"empty stdin", "", nil, 2, "empty input"},
		{"unknown command", "", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", "", []string{"run", "--frob"}, 2, "flag provided but not defined"},
		{"bad source", "", []string{"run", "--source", "snmp"}, 2, `--source "snmp"`},
		{"bad format", "", []string{"explain", "--format", "yaml"}, 2, `--format "yaml"`},
		{"bad time", "", []string{"explain", "--at", "tomorrow"}, 2, `--at "tomorrow"`},
		{"missing policy", string(alarm), []string{"--config", "/nonexistent/p.yaml"}, 2, "no such file"},
		{"silence expire two ids", "", []string{"silence", "expire", "s-1", "s-2"}, 2, "want one silence id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, tt.stdin, env, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

// TestSecretsNeverPrinted: inline secrets, every output path — explain in
// both formats, failed deliveries — must never show them.
func TestSecretsNeverPrinted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens here now: every delivery fails
	const (
		routingKey = "R0UT1NGKEYS3CR3T000000000000000X"
		hookSecret = "T0SECRET/B0SECRET/HOOKSECRETHOOKSECRET"
		token      = "xoxb-TOKENSECRET-1234"
	)
	policy := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(policy, []byte(`settings: {deadline: 2s}
channels:
  pager: {type: pagerduty, routing_key: "`+routingKey+`", events_url: "http://`+closed+`"}
  hook: {type: slack, webhook_url: "http://`+closed+`/services/`+hookSecret+`"}
  api: {type: slack, token: "`+token+`", channel: "#x", api_url: "http://`+closed+`/api/"}
rules:
  - {name: all, when: 'true', notify: [pager, hook, api]}
`), 0o644)
	env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(t.TempDir(), "state.db")}
	alarm, _ := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	var seen strings.Builder
	for _, args := range [][]string{{"explain"}, {"explain", "--format", "json"}, {"run"}} {
		code, stdout, stderr := runInProcess(t, string(alarm), env, args...)
		seen.WriteString(stdout + stderr)
		// Unreachable endpoints are retryable: queued, exit 0, one line each.
		if args[0] == "run" && (code != 0 || strings.Count(stderr, "(queued for retry)\n") != 3) {
			t.Errorf("run: exit %d, want 0 with one line per queued channel:\n%s", code, stderr)
		}
	}
	for _, secret := range []string{routingKey, hookSecret, "HOOKSECRET", token, "TOKENSECRET"} {
		if strings.Contains(seen.String(), secret) {
			t.Errorf("secret %q printed:\n%s", secret, seen.String())
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runInProcess(t, "", nil, "version")
	if code != 0 || !strings.HasPrefix(stdout, "notifier ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version: %d %q", code, stdout)
	}
}

// TestRelativeSecretFile: *_file paths are relative to the policy file,
// whatever the working directory (Pacemaker's is /var/lib/pacemaker/cores).
func TestRelativeSecretFile(t *testing.T) {
	pd := apitest.NewPagerDuty()
	defer pd.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pd.key"), []byte("relativekey00000000000000000000x\n"), 0o600)
	policy := filepath.Join(dir, "p.yaml")
	os.WriteFile(policy, []byte("channels:\n  pager: {type: pagerduty, routing_key_file: pd.key, events_url: \""+pd.URL()+"\"}\n"+
		"rules:\n  - {name: all, when: 'true', notify: [pager]}\n"), 0o644)
	t.Chdir(t.TempDir())
	alarm, _ := os.ReadFile(filepath.Join(wd, "../../examples/events/cmon/alarm-new-critical.json"))
	code, _, stderr := runInProcess(t, string(alarm), []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db")})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if ev := pd.Events(); len(ev) != 1 || ev[0].Event.RoutingKey != "relativekey00000000000000000000x" {
		t.Errorf("PagerDuty got %+v", ev)
	}
}

// TestMissingSecretFile: a channel whose secret file is missing keeps the
// page queued (the file may be being rewritten) but the run exits 1 and
// says why — that needs a person; once the file is back, flush delivers.
func TestMissingSecretFile(t *testing.T) {
	pd := apitest.NewPagerDuty()
	defer pd.Close()
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.yaml")
	os.WriteFile(policy, []byte("channels:\n  pager: {type: pagerduty, routing_key_file: pd.key, events_url: \""+pd.URL()+"\"}\n"+
		"rules:\n  - {name: all, when: 'true', notify: [pager]}\n"), 0o644)
	env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db")}
	alarm, _ := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	code, _, stderr := runInProcess(t, string(alarm), env)
	if code != 1 || !strings.Contains(stderr, "routing_key_file") || !strings.Contains(stderr, "(queued for retry)") {
		t.Fatalf("run: exit %d, want 1 naming the file and the queue:\n%s", code, stderr)
	}
	if code, out, stderr := runInProcess(t, "", env, "flush"); code != 1 || !strings.Contains(out, "still queued 1") {
		t.Fatalf("flush without the file: exit %d, want 1: %s%s", code, out, stderr)
	}
	os.WriteFile(filepath.Join(dir, "pd.key"), []byte("relativekey00000000000000000000x\n"), 0o600)
	if code, out, stderr := runInProcess(t, "", env, "flush"); code != 0 || !strings.Contains(out, "delivered 1") {
		t.Fatalf("flush with the file: exit %d: %s%s", code, out, stderr)
	}
	if len(pd.Events()) != 1 {
		t.Errorf("PagerDuty got %d events, want the one page", len(pd.Events()))
	}
}

// wd is the package directory, for tests that change the working directory.
var wd, _ = os.Getwd()

// TestLastGoodPolicy: a policy that stops loading does not silence the
// pager: the last policy that loaded is used, loudly, and the run exits 1.
func TestLastGoodPolicy(t *testing.T) {
	pd := apitest.NewPagerDuty()
	defer pd.Close()
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.yaml")
	good := "channels:\n  pager: {type: pagerduty, routing_key: \"0123456789abcdef0123456789abcdef\", events_url: \"" + pd.URL() + "\"}\n" +
		"rules:\n  - {name: all, when: 'true', notify: [pager]}\n"
	os.WriteFile(policy, []byte(good), 0o644)
	env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=" + filepath.Join(dir, "cache"), "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db")}
	alarm, _ := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	if code, _, stderr := runInProcess(t, string(alarm), env); code != 0 {
		t.Fatalf("good policy: exit %d: %s", code, stderr)
	}
	os.WriteFile(policy, []byte(good+"  - {name: typo, when: 'severty == 1', notify: [pager]}\n"), 0o644)
	remove, _ := os.ReadFile("../../examples/events/cmon/alarm-remove-critical.json")
	code, _, stderr := runInProcess(t, string(remove), env)
	if code != 1 || !strings.Contains(stderr, "unknown name severty") || !strings.Contains(stderr, "using the last policy that loaded") {
		t.Fatalf("broken policy: exit %d, stderr %s", code, stderr)
	}
	ev := pd.Events()
	if len(ev) != 2 || ev[1].Event.EventAction != "resolve" {
		t.Fatalf("PagerDuty got %+v, want the trigger and, through the last good policy, its resolve", ev)
	}
}

// TestRejectedInputKept: input the decoders refuse is kept beside the
// state, so nothing an alarm source sent is lost.
func TestRejectedInputKept(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "p.yaml")
	os.WriteFile(policy, []byte("rules:\n  - {name: all, when: 'true', drop: true}\n"), 0o644)
	env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db")}
	for _, input := range []string{`{"type":"alarm","action":"new","alarm":{"id":1`, strings.Repeat("x", 1<<20+10)} {
		code, _, stderr := runInProcess(t, input, env)
		if code != 2 || !strings.Contains(stderr, "input kept in "+filepath.Join(dir, "rejected")) {
			t.Fatalf("exit %d, stderr %.300s", code, stderr)
		}
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "rejected", "*"))
	if len(kept) != 2 {
		t.Fatalf("rejected/ holds %v, want both inputs", kept)
	}
	first, _ := os.ReadFile(kept[0])
	if string(first) != `{"type":"alarm","action":"new","alarm":{"id":1` {
		t.Errorf("kept %q, want the input as sent", first)
	}
}

// TestTwoPoliciesOneState: two policies on one host sharing a state file
// would suppress and resolve each other's alerts; every run that reads
// the other's records says so and exits 1, and explain shows it.
func TestTwoPoliciesOneState(t *testing.T) {
	dir := t.TempDir()
	src := "channels:\n  l: {type: syslog, address: \"udp://127.0.0.1:9\"}\nrules:\n  - {name: all, when: 'true', notify: [l], suppress: {for: 30m}}\n"
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte(src), 0o644)
	os.WriteFile(b, []byte(src), 0o644)
	env := []string{"NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + filepath.Join(dir, "state.db")}
	alarm, _ := os.ReadFile("../../examples/events/cmon/alarm-new-critical.json")
	for i, step := range []struct {
		policy, other string
		code          int
	}{{a, "", 0}, {a, "", 0}, {b, a, 1}, {b, "", 0}, {a, b, 1}} {
		code, _, stderr := runInProcess(t, string(alarm), env, "run", "--config", step.policy)
		said := stderr != "" && strings.Contains(stderr, "also used by the policy "+step.other+",")
		if code != step.code || (step.other == "" && stderr != "") || (step.other != "" && !said) {
			t.Errorf("run %d with %s: exit %d, stderr %q; want %d naming %q", i+1, filepath.Base(step.policy), code, stderr, step.code, step.other)
		}
	}
	_, out, _ := runInProcess(t, "", env, "explain", "--config", b, "--event", "../../examples/events/cmon/alarm-new-critical.json")
	if !strings.Contains(out, "also used by the policy "+a) {
		t.Errorf("explain does not say the state is shared:\n%s", out)
	}
	// One policy reached through a symlink, or a relative path, is one.
	link := filepath.Join(t.TempDir(), "link.yaml")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, config := range []string{link, "a.yaml", a} {
		if code, _, stderr := runInProcess(t, string(alarm), env, "run", "--config", config); code != 0 || stderr != "" {
			t.Errorf("run --config %s after a: exit %d, stderr %q", config, code, stderr)
		}
	}
}
