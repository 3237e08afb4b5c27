package syslog

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

const wait = 5 * time.Second

// server starts the apitest collector for scheme and the config that
// reaches it.
func server(t *testing.T, scheme string) (*apitest.Syslog, Config) {
	t.Helper()
	var s *apitest.Syslog
	switch scheme {
	case "udp":
		s = apitest.NewSyslogUDP()
	case "tcp":
		s = apitest.NewSyslogTCP()
	case "tls":
		s = apitest.NewSyslogTLS()
	case "unix":
		s = apitest.NewSyslogUnix(t.TempDir())
	}
	t.Cleanup(s.Close)
	c := Config{Address: s.Address(), Facility: "local3", Tag: "notifier-test"}
	if scheme == "tls" {
		ca, err := s.WriteCAFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		c.CAFile = ca
	}
	return s, c
}

func newNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestNotifyTransports sends through every transport to a collector
// that parses strictly, and reads back what a collector would file.
func TestNotifyTransports(t *testing.T) {
	host, _ := os.Hostname()
	for _, scheme := range []string{"udp", "tcp", "tls", "unix"} {
		t.Run(scheme, func(t *testing.T) {
			s, c := server(t, scheme)
			n := newNotifier(t, c)
			m := alarm()
			m.Severity, m.Summary = "warning", "replication lag 120s on db2\nsee \"SHOW REPLICA STATUS\""
			before := time.Now().Truncate(time.Second)
			if err := n.Notify(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			msgs, err := s.Wait(1, wait)
			if err != nil {
				t.Fatal(err)
			}
			got := msgs[0]
			if got.Facility != 19 || got.Severity != 4 || got.AppName != "notifier-test" || got.ProcID != strconv.Itoa(os.Getpid()) {
				t.Errorf("facility %d severity %d app %q procid %q; want 19 4 notifier-test %d",
					got.Facility, got.Severity, got.AppName, got.ProcID, os.Getpid())
			}
			if got.Time.Before(before) || got.Time.After(time.Now()) {
				t.Errorf("time %v is not the time of sending", got.Time)
			}
			if scheme == "unix" { // log/syslog's local format
				if got.Version != 0 || got.Hostname != "" {
					t.Errorf("version %d hostname %q, want the traditional local format", got.Version, got.Hostname)
				}
			} else if got.Version != 1 || got.Hostname != host || got.MsgID != "trigger" || got.StructuredData != "" {
				t.Errorf("version %d hostname %q msgid %q sd %q", got.Version, got.Hostname, got.MsgID, got.StructuredData)
			}
			if got.Msg != FormatLine(m) {
				t.Errorf("msg  %q\nwant %q", got.Msg, FormatLine(m))
			}
			kv, err := apitest.ParseKeyValues(got.Msg)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"severity": "warning", "action": "trigger", "key": "cmon/ctl1/7/42",
				"source": "cmon", "cluster": "prod-db", "cluster_id": "7", "node": "db1", "type": "MySqlDisconnected",
				"count": "3", "rule": "critical", "summary": `replication lag 120s on db2 see "SHOW REPLICA STATUS"`}
			for k, v := range want {
				if kv[k] != v {
					t.Errorf("%s = %q, want %q", k, kv[k], v)
				}
			}
			if len(kv) != len(want) {
				t.Errorf("got keys %q", kv)
			}
		})
	}
}

// TestNotifySeverities checks the mapping, and that a resolve keeps
// the severity of the problem it clears.
func TestNotifySeverities(t *testing.T) {
	s, c := server(t, "unix")
	n := newNotifier(t, c)
	cases := []struct {
		sev    string
		action channels.Action
		want   int
	}{
		{"critical", channels.Trigger, 2}, {"critical", channels.Resolve, 2},
		{"warning", channels.Trigger, 4}, {"info", channels.Trigger, 6}, {"bogus", channels.Trigger, 5},
		{"warning", channels.Inform, 4}, {"info", channels.Inform, 6},
	}
	for _, tc := range cases {
		m := alarm()
		m.Severity, m.Action = tc.sev, tc.action
		if err := n.Notify(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := s.Wait(len(cases), wait)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases { // one datagram socket: order is kept
		kv, _ := apitest.ParseKeyValues(msgs[i].Msg)
		if msgs[i].Severity != tc.want || kv["action"] != string(tc.action) || kv["severity"] != tc.sev {
			t.Errorf("%s %s: syslog severity %d action %q, want %d", tc.sev, tc.action, msgs[i].Severity, kv["action"], tc.want)
		}
	}
}

// TestNotifyStreamsCloseTheirConnections: one connection per message,
// octet-counted, and closed before Notify returns; the MSGID is the
// action.
func TestNotifyStreamsCloseTheirConnections(t *testing.T) {
	for _, scheme := range []string{"tcp", "tls"} {
		t.Run(scheme, func(t *testing.T) {
			s, c := server(t, scheme)
			n := newNotifier(t, c)
			first, second, third := alarm(), alarm(), alarm()
			second.Action, second.Summary = channels.Resolve, "cleared\n(after 5 min)"
			third.Action = channels.Inform
			for _, m := range []*channels.Message{first, second, third} {
				if err := n.Notify(context.Background(), m); err != nil {
					t.Fatal(err)
				}
			}
			msgs, err := s.Wait(3, wait)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]string{}
			for _, m := range msgs {
				ids[m.MsgID] = m.Msg
			}
			if ids["trigger"] != FormatLine(first) || ids["resolve"] != FormatLine(second) || ids["message"] != FormatLine(third) {
				t.Errorf("got %+v", msgs)
			}
			if err := s.WaitIdle(wait); err != nil {
				t.Fatal(err)
			}
			if got := s.Accepted(); got != 3 {
				t.Errorf("%d connections for 3 messages", got)
			}
		})
	}
}

func TestNotifyUDPStaysWithinOneDatagram(t *testing.T) {
	s, c := server(t, "udp")
	n := newNotifier(t, c)
	m := alarm()
	m.Summary = strings.Repeat("very long alarm text ", 400)
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Wait(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs[0].Raw) > maxDatagram || len(msgs[0].Raw) < maxDatagram-8 {
		t.Errorf("datagram of %d bytes, want just under %d", len(msgs[0].Raw), maxDatagram)
	}
	kv, err := apitest.ParseKeyValues(msgs[0].Msg)
	if err != nil || !strings.HasSuffix(kv["summary"], "…") {
		t.Errorf("summary %q, err %v", kv["summary"], err)
	}
}

func TestNotifyFailures(t *testing.T) {
	tlsSrv := apitest.NewSyslogTLS()
	defer tlsSrv.Close()
	// A server that accepts and then says nothing: the TLS handshake
	// never completes, so only the timeout ends the attempt.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	missing := t.TempDir() + "/nobody.sock"

	tests := []struct {
		name      string
		c         Config
		retryable bool
		want      string
	}{
		{"tcp connection refused", Config{Address: "tcp://" + apitest.ClosedAddr(t)}, true, "connection refused"},
		{"tls connection refused", Config{Address: "tls://" + apitest.ClosedAddr(t)}, true, "connection refused"},
		{"tls certificate not trusted", Config{Address: tlsSrv.Address()}, false, "tls handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"tls handshake hangs", Config{Address: "tls://" + mute.Addr().String(), Timeout: 200 * time.Millisecond}, true, "tls handshake: context deadline exceeded"},
		{"unix socket missing", Config{Address: "unix://" + missing}, true, `syslog: send to "unix://` + missing + `": dial unixgram ` + missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNotifier(t, tt.c)
			start := time.Now()
			err := n.Notify(context.Background(), alarm())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "syslog: ") {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if retry, _ := channels.IsRetryable(err); retry != tt.retryable {
				t.Errorf("retryable = %v, want %v (%v)", retry, tt.retryable, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestNotifyHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := newNotifier(t, Config{Address: "tcp://127.0.0.1:9"})
	err := n.Notify(ctx, alarm())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestNotifyLocalWithoutDaemon is the container case: no /dev/log.
func TestNotifyLocalWithoutDaemon(t *testing.T) {
	for _, p := range []string{"/dev/log", "/var/run/syslog"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists; not writing test lines to the host's syslog", p)
		}
	}
	n := newNotifier(t, Config{})
	err := n.Notify(context.Background(), alarm())
	if err == nil || !strings.HasPrefix(err.Error(), "syslog: no local syslog socket (/dev/log): ") {
		t.Fatalf("err = %v", err)
	}
	if retry, _ := channels.IsRetryable(err); !retry {
		t.Error("not retryable")
	}
}

// TestNotifyLocalStalledDaemon: a daemon that stops reading fills its
// socket queue and log/syslog's write blocks; Notify must still return
// at its timeout, retryable, and the run go on.
func TestNotifyLocalStalledDaemon(t *testing.T) {
	path := t.TempDir() + "/stalled.sock"
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close() // never read
	n := newNotifier(t, Config{Address: "unix://" + path, Timeout: 200 * time.Millisecond})
	for i := 0; ; i++ {
		if i == 10000 {
			t.Fatal("10000 messages into a socket nobody reads and no write blocked")
		}
		start := time.Now()
		err := n.Notify(context.Background(), alarm())
		if err == nil {
			continue
		}
		if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
			t.Errorf("gave up after %s, want the 200ms timeout", d)
		}
		if retry, _ := channels.IsRetryable(err); !retry || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a retryable deadline error", err)
		}
		return
	}
}

func TestNotifyAfterCloseAndNil(t *testing.T) {
	s, c := server(t, "unix")
	n := newNotifier(t, c)
	if err := n.Notify(context.Background(), nil); err == nil {
		t.Error("nil message: nil error")
	}
	if err := n.Notify(context.Background(), alarm()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Wait(1, wait); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	err := n.Notify(context.Background(), alarm())
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Notify after Close: %v", err)
	}
	if retry, _ := channels.IsRetryable(err); retry {
		t.Error("Notify after Close is retryable")
	}
}

// TestDigestLines: a group's notification is one line per member (its
// own key and severity; a cleared one as a resolve) and then the group's
// summary line.
func TestDigestLines(t *testing.T) {
	s, c := server(t, "unix")
	n := newNotifier(t, c)
	m := alarm()
	m.Key, m.Summary, m.Action = "group/critical/cc1/1", "2 alerts in cc1/1", channels.Inform
	m.Members = []channels.Member{
		{Key: "cmon/cc1/1/1", Severity: "critical", Summary: "db1 down", Open: true},
		{Key: "cmon/cc1/1/2", Severity: "warning", Summary: "db2 lag", Open: false},
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Wait(3, wait)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ key, action string }{{"cmon/cc1/1/1", "message"}, {"cmon/cc1/1/2", "resolve"}, {"group/critical/cc1/1", "message"}}
	for i, w := range want {
		kv, _ := apitest.ParseKeyValues(msgs[i].Msg)
		if kv["key"] != w.key || kv["action"] != w.action {
			t.Errorf("line %d: key %q action %q, want %q %q (%s)", i+1, kv["key"], kv["action"], w.key, w.action, msgs[i].Msg)
		}
	}
}
