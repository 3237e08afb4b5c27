//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyslog: the syslog channel for real. Through /dev/log (the default
// channel) a line reaches rsyslog with facility daemon, the event's
// severity and tag notifier; over TCP to rsyslog's imtcp on 127.0.0.1 an
// RFC 5424 message arrives parsed: its facility, severity, APP-NAME (the
// tag) and MSGID (the action) are rsyslog's reading of what was sent.
func TestSyslog(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	policy := filepath.Join(dir, "syslog.yaml")
	os.WriteFile(policy, []byte(fmt.Sprintf(`settings:
  state: {path: %s/state.db}
channels:
  local: {type: syslog}
  remote: {type: syslog, address: "tcp://127.0.0.1:%d", facility: local3, tag: notifier-e2e}
rules:
  - name: everything
    when: "true"
    notify: [local, remote]
`, dir, rsyslog.tcpPort)), 0o644)

	cases := []struct {
		event, key, severity, action string
	}{
		{"cmon/alarm-new-critical.json", "/1/10736685724696984427", "crit", "message"},
		{"cmon/alarm-new-warning.json", "/3/4801", "warning", "message"},
		{"pacemaker/attribute-change.env", "pacemaker/default/attribute/vm/my_attr", "info", "message"},
	}
	for _, c := range cases {
		t.Run(c.event, func(t *testing.T) {
			res := notifier(t, []string{"NOTIFIER_CONFIG=" + policy}, "explain", "--event", filepath.Join(repo, "examples", "events", c.event))
			if res.code != 0 {
				t.Fatalf("explain: %s", res.out)
			}
			localBefore, remoteBefore := len(rsyslog.matching("local.log", c.key)), len(rsyslog.matching("remote.log", c.key))
			env := []string{"NOTIFIER_CONFIG=" + policy, "NOTIFIER_CACHE_DIR=off"}
			var stdin []byte
			data, _ := os.ReadFile(filepath.Join(repo, "examples", "events", c.event))
			if strings.HasSuffix(c.event, ".env") { // as Pacemaker: the alert in the environment
				for _, l := range strings.Split(string(data), "\n") {
					if l != "" && !strings.HasPrefix(l, "#") {
						env = append(env, l)
					}
				}
			} else { // as CMON: the message on stdin
				stdin = data
			}
			if res := notifierStdin(t, stdin, env); res.code != 0 {
				t.Fatalf("run: exit %d: %s", res.code, res.out)
			}
			sev := map[string]string{"crit": "crit", "warning": "warning", "info": "info"}[c.severity]
			waitFor(t, 10*time.Second, "the local line", func() bool {
				return len(rsyslog.matching("local.log", c.key)) > localBefore
			})
			local := rsyslog.matching("local.log", c.key)[localBefore:]
			// (rsyslog keeps the space after the tag's colon in msg.)
			if len(local) != 1 || !strings.HasPrefix(local[0], "daemon "+sev+" notifier  severity=") {
				t.Errorf("local: %q; want one line 'daemon %s notifier severity=...'", local, sev)
			}
			waitFor(t, 10*time.Second, "the remote message", func() bool {
				return len(rsyslog.matching("remote.log", c.key)) > remoteBefore
			})
			remote := rsyslog.matching("remote.log", c.key)[remoteBefore:]
			want := fmt.Sprintf("local3 %s app=notifier-e2e msgid=%s msg=severity=", sev, c.action)
			if len(remote) != 1 || !strings.HasPrefix(remote[0], want) {
				t.Errorf("remote: %q; want one line starting %q", remote, want)
			}
		})
	}
}
