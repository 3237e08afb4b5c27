//go:build e2e

// Package e2e proves notifier inside the programs that call it: a real
// single-node Pacemaker cluster on 127.0.0.1 running the installed
// package's /usr/bin/notifier as its alert agent (as hacluster), CMON's
// way of running plugins, and a real rsyslog. Run by `make e2e`, which
// installs the Debian packages and the .deb first (e2e/setup.sh); it
// needs root and is not part of `go test ./...` (build tag e2e).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"notifier/internal/apitest"
)

// installed is the binary the package put in place: the e2e tests the
// package, not a build from the work tree.
const installed = "/usr/bin/notifier"

// routingKey is what the local PagerDuty accepts (any 32 characters).
const routingKey = "e2e0123456789abcdef0123456789abc"

var (
	repo    string   // the work tree, for examples
	rsyslog *syslogd // started once for every test
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if os.Geteuid() != 0 {
			fmt.Fprintln(os.Stderr, "e2e: must run as root (it installs packages and runs a cluster); use make e2e")
			return 1
		}
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "notifier").CombinedOutput(); err != nil || !strings.Contains(string(out), "install ok installed") {
			fmt.Fprintf(os.Stderr, "e2e: the notifier package is not installed (%s); run make e2e, which installs it\n", strings.TrimSpace(string(out)))
			return 1
		}
		wd, _ := os.Getwd()
		repo = filepath.Dir(wd)
		var err error
		if rsyslog, err = startSyslogd(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		code := m.Run()
		rsyslog.stop()
		if code == 0 {
			os.RemoveAll(runDir) // kept after a failure: the logs are there
		}
		return code
	}())
}

// syslogd is a real rsyslogd with its own configuration: /dev/log
// (imuxsock) for the local channel, imtcp on 127.0.0.1 for RFC 5424, each
// written to its own file in a format that shows how rsyslog parsed it.
type syslogd struct {
	dir     string
	tcpPort int
	cmd     *exec.Cmd
}

// runDir holds what must outlive a test binary killed by its timeout:
// the next run finds there what to stop and what to put back.
const runDir = "/run/notifier-e2e"

func startSyslogd() (*syslogd, error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	stopLeftovers()
	// A machine with systemd has journald on /dev/log: it is moved aside
	// for the run and put back after (journald keeps its socket open).
	if _, err := os.Lstat("/dev/log"); err == nil {
		if err := os.Rename("/dev/log", savedDevLog); err != nil {
			return nil, fmt.Errorf("move /dev/log aside: %w", err)
		}
	}
	if err := os.WriteFile(ownDevLog, nil, 0o644); err != nil {
		return nil, err
	}
	dir := filepath.Join(runDir, "rsyslog")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := apitest.FreePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`global(workDirectory="%[1]s")
module(load="imuxsock")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="%[2]d" ruleset="remote")
template(name="local" type="string" string="%%syslogfacility-text%% %%syslogseverity-text%% %%programname%% %%msg%%\n")
template(name="remote" type="string" string="%%syslogfacility-text%% %%syslogseverity-text%% app=%%app-name%% msgid=%%msgid%% msg=%%msg%%\n")
ruleset(name="remote") { action(type="omfile" file="%[1]s/remote.log" template="remote") }
if $programname startswith "notifier" then { action(type="omfile" file="%[1]s/local.log" template="local") }
`, dir, port)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command("rsyslogd", "-n", "-f", confPath, "-i", rsyslogPID)
	out, _ := os.Create(filepath.Join(dir, "rsyslogd.out"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rsyslogd: %w", err)
	}
	s := &syslogd{dir: dir, tcpPort: port, cmd: cmd}
	ready := func() bool {
		if _, err := os.Stat("/dev/log"); err != nil {
			return false
		}
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	if !poll(10*time.Second, ready) {
		s.stop()
		data, _ := os.ReadFile(filepath.Join(dir, "rsyslogd.out"))
		return nil, fmt.Errorf("rsyslogd did not open /dev/log and 127.0.0.1:%d: %s", port, data)
	}
	return s, nil
}

func (s *syslogd) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	os.Remove(rsyslogPID)
	restoreDevLog()
}

const (
	rsyslogPID = runDir + "/rsyslogd.pid"
	// savedDevLog is where a /dev/log that was there before the run waits:
	// in /dev itself, since a rename cannot cross file systems.
	savedDevLog = "/dev/.log.notifier-e2e"
	// ownDevLog marks that /dev/log is the run's (its rsyslogd's socket).
	ownDevLog = runDir + "/dev-log.ours"
)

// restoreDevLog removes the run's /dev/log, if it made one, and puts back
// the one that was there before, if there was one. Nothing else.
func restoreDevLog() {
	if _, err := os.Stat(ownDevLog); err == nil {
		if st, err := os.Lstat("/dev/log"); err == nil && st.Mode()&os.ModeSocket != 0 {
			os.Remove("/dev/log")
		}
		os.Remove(ownDevLog)
	}
	if _, err := os.Lstat(savedDevLog); err == nil {
		if _, err := os.Lstat("/dev/log"); os.IsNotExist(err) {
			os.Rename(savedDevLog, "/dev/log")
		}
	}
}

// stopLeftovers undoes what a run killed before its cleanup left: its
// rsyslogd (by recorded PID, if that process is still an rsyslogd running
// the run's configuration), the /dev/log it took, and its cluster.
func stopLeftovers() {
	if data, err := os.ReadFile(rsyslogPID); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if pid > 0 && strings.Contains(string(cmdline), runDir+"/rsyslog/") {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
				poll(10*time.Second, func() bool { _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); return err != nil })
			}
		}
		os.Remove(rsyslogPID)
	}
	restoreDevLog()
	cmd := exec.Command(filepath.Join(repo, "e2e", "cluster.sh"), "down")
	cmd.Env = append(os.Environ(), "E2E_CLUSTER_DIR="+clusterDir)
	cmd.Run()
}

// lines returns the lines rsyslog wrote to file (local.log, remote.log).
func (s *syslogd) lines(file string) []string {
	f, err := os.Open(filepath.Join(s.dir, file))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// matching returns the lines of file containing every one of subs.
func (s *syslogd) matching(file string, subs ...string) []string {
	var out []string
	for _, l := range s.lines(file) {
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(l, sub)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// poll checks cond, which another process makes true, until it holds or
// d has passed.
func poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// waitFor fails the test unless cond becomes true within d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(d, cond) {
		t.Fatalf("waited %s for %s", d, what)
	}
}

// endpoints are the local PagerDuty and Slack a test's policy points at.
type endpoints struct {
	pd    *apitest.PagerDuty
	slack *apitest.Slack
}

func newEndpoints(t *testing.T) *endpoints {
	e := &endpoints{pd: apitest.NewPagerDuty(), slack: apitest.NewSlack()}
	t.Cleanup(func() { e.pd.Close(); e.slack.Close() })
	return e
}

// policySetup writes, under /etc/notifier/<name>, the installed default
// policy with its channels pointed at e — PagerDuty at the local Events
// API, Slack at the local Web API (so a resolve updates the original
// message), syslog left as shipped (/dev/log) — and its own state and
// audit log under /var/lib/notifier. Everything is root:haclient 0640,
// as an operator would install it for Pacemaker's hacluster. It returns
// the policy file and the audit log.
func policySetup(t *testing.T, name string, e *endpoints) (policy, audit string) {
	t.Helper()
	data, err := os.ReadFile("/etc/notifier/notifier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("/etc/notifier", name)
	os.RemoveAll(dir)
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	gid := haclient(t)
	os.Chown(dir, 0, gid)
	secret := func(file, value string) string {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, []byte(value+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chown(path, 0, gid)
		return path
	}
	state := filepath.Join("/var/lib/notifier", name+".db")
	audit = filepath.Join("/var/lib/notifier", name+"-audit.jsonl")
	for _, f := range []string{state, state + ".lock", audit} {
		os.Remove(f)
		t.Cleanup(func() { os.Remove(f) })
	}
	top := doc.Content[0]
	set := func(key string, v any) {
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value == key {
				if err := top.Content[i+1].Encode(v); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatalf("the installed policy has no %s", key)
	}
	set("settings", map[string]any{"deadline": "20s", "state": map[string]string{"path": state}, "audit_log": audit})
	set("channels", map[string]any{
		"pager": map[string]string{"type": "pagerduty", "routing_key_file": secret("pagerduty.key", routingKey), "events_url": e.pd.URL()},
		"ops":   map[string]string{"type": "slack", "token_file": secret("slack.token", e.slack.Token()), "channel": "#" + apitest.SlackChannelName, "api_url": e.slack.APIURL()},
		"local": map[string]string{"type": "syslog"},
	})
	// Each test counts what one event caused, engine or not: the
	// shipped policy's groups tell at once here (a group's wait of 30 s
	// would land one event's page in the next one's count).
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "rules" {
			continue
		}
		for _, rule := range top.Content[i+1].Content {
			for j := 0; j+1 < len(rule.Content); j += 2 {
				if rule.Content[j].Value != "group" {
					continue
				}
				for k := 0; k+1 < len(rule.Content[j+1].Content); k += 2 {
					if rule.Content[j+1].Content[k].Value == "wait" {
						rule.Content[j+1].Content[k+1].Value = "0s"
					}
				}
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	policy = secret("notifier.yaml", string(out))
	if res := notifier(t, nil, "lint", policy); res.code != 0 {
		t.Fatalf("the generated policy does not lint: %s", res.out)
	}
	return policy, audit
}

func haclient(t *testing.T) int {
	g, err := user.LookupGroup("haclient")
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	return gid
}

type result struct {
	code int
	out  string
}

// notifier runs the installed binary as root with env (nil: inherited).
func notifier(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return notifierStdin(t, nil, env, args...)
}

// notifierStdin is notifier with stdin (nil: /dev/null).
func notifierStdin(t *testing.T, stdin []byte, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, installed, args...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, out: string(out)}
}

// auditLine is what the tests read of settings.audit_log.
type auditLine struct {
	Key     string   `json:"key"`
	Action  string   `json:"action"`
	Matched []string `json:"matched"`
	Dropped bool     `json:"dropped"`
	Sent    []struct {
		Channel, Action, Outcome string
	} `json:"sent"`
	NotSent []struct {
		Channel, Outcome string
	} `json:"not_sent"`
	Raw string `json:"-"`
}

var auditMu sync.Mutex

func readAudit(t *testing.T, path string) []auditLine {
	auditMu.Lock()
	defer auditMu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []auditLine
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var a auditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		a.Raw = l
		out = append(out, a)
	}
	return out
}
