package apitest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	stdsyslog "log/syslog"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

const syslogWait = 5 * time.Second

func TestParseSyslog(t *testing.T) {
	ts := time.Date(2026, 5, 20, 10, 4, 5, 123456000, time.UTC)
	tests := []struct {
		name string
		raw  string
		want SyslogMessage
	}{
		{"rfc5424 full", "<27>1 2026-05-20T10:04:05.123456Z db1 notifier 4242 trigger - severity=warning key=k",
			SyslogMessage{Facility: 3, Severity: 3, Version: 1, Time: ts, Hostname: "db1", AppName: "notifier", ProcID: "4242", MsgID: "trigger", Msg: "severity=warning key=k"}},
		{"rfc5424 nil values and no msg", "<0>1 - - - - - -",
			SyslogMessage{Version: 1}},
		{"rfc5424 structured data and BOM", "<191>1 2026-05-20T10:04:05.123456Z h a p m [x@1 k=\"a\\]b\"][y@1] \xEF\xBB\xBFhello",
			SyslogMessage{Facility: 23, Severity: 7, Version: 1, Time: ts, Hostname: "h", AppName: "a", ProcID: "p", MsgID: "m", StructuredData: `[x@1 k="a\]b"][y@1]`, Msg: "hello"}},
		{"log/syslog local", "<30>May 20 10:04:05 notifier[77]: a=b c=\"d e\"\n",
			SyslogMessage{Facility: 3, Severity: 6, AppName: "notifier", ProcID: "77", Msg: `a=b c="d e"`}},
		{"log/syslog network", "<30>2026-05-20T10:04:05Z db1 notifier[77]: hi\n",
			SyslogMessage{Facility: 3, Severity: 6, Time: ts.Truncate(time.Second), Hostname: "db1", AppName: "notifier", ProcID: "77", Msg: "hi"}},
		{"traditional without pid", "<13>May 20 10:04:05 cron: job done",
			SyslogMessage{Facility: 1, Severity: 5, AppName: "cron", Msg: "job done"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSyslog(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Raw = tt.raw
			if tt.want.Version == 0 && tt.want.Hostname == "" { // time.Stamp: year of today
				tt.want.Time = time.Date(time.Now().Year(), 5, 20, 10, 4, 5, 0, time.UTC)
			}
			if !got.Time.Equal(tt.want.Time) {
				t.Errorf("Time = %v, want %v", got.Time, tt.want.Time)
			}
			got.Time, tt.want.Time = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseSyslogRejects(t *testing.T) {
	tests := []struct{ name, raw, wantErr string }{
		{"no pri", "hello", "no <PRI>"},
		{"pri too big", "<192>1 - - - - - -", "PRI \"192\""},
		{"pri leading zero", "<03>1 - - - - - -", "PRI \"03\""},
		{"short header", "<13>1 - host app", "header ends after 2 of 5 fields"},
		{"double space", "<13>1 -  app - - - x", "HOSTNAME is empty"},
		{"app name too long", "<13>1 - h " + strings.Repeat("a", 49) + " - - -", "APP-NAME"},
		{"msgid too long", "<13>1 - h a - " + strings.Repeat("m", 33) + " -", "MSGID"},
		{"seven fraction digits", "<13>1 2026-05-20T10:04:05.1234567Z h a - - -", "more than 6 fraction digits"},
		{"bad timestamp", "<13>1 yesterday h a - - -", "TIMESTAMP \"yesterday\""},
		{"bad structured data", "<13>1 - h a - - x msg", "neither - nor"},
		{"unterminated sd", "<13>1 - h a - - [x k=\"]\" msg", "unterminated SD-ELEMENT"},
		{"no space before msg", "<13>1 - h a - - -msg", "no space between"},
		{"traditional without tag", "<13>May 20 10:04:05 : x", "no TAG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSyslog(tt.raw)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseKeyValues(t *testing.T) {
	kv, err := ParseKeyValues(`severity=critical key=cmon/c1/7/42 summary="disk \"full\"\non db1" empty=""`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"severity": "critical", "key": "cmon/c1/7/42", "summary": "disk \"full\"\non db1", "empty": ""}
	if fmt.Sprint(kv) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", kv, want)
	}
	for _, bad := range []string{`a=1 a=2`, `novalue`, `a="unterminated`, `a="x"b`, `=v`, `a b=c`} {
		if _, err := ParseKeyValues(bad); err == nil {
			t.Errorf("ParseKeyValues(%q) = nil error", bad)
		}
	}
}

// frame is one RFC 6587 octet-counted frame.
func frame(msg string) string { return fmt.Sprintf("%d %s", len(msg), msg) }

func TestSyslogTCPOctetCountingTwoMessagesOneConnection(t *testing.T) {
	s := NewSyslogTCP()
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// The first message holds a newline and a digit run, which would
	// split it under newline framing or a sloppy length parser.
	one := "<27>1 - h app - trigger - summary=\"a\nb\" 12 "
	two := "<30>1 - h app - resolve - done"
	if _, err := c.Write([]byte(frame(one) + frame(two))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	msgs, err := s.Wait(2, syslogWait)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Raw != one || msgs[1].Raw != two || msgs[0].MsgID != "trigger" || msgs[1].Msg != "done" {
		t.Fatalf("got %+v", msgs)
	}
	if err := s.WaitIdle(syslogWait); err != nil {
		t.Fatal(err)
	}
	if got := s.Accepted(); got != 1 {
		t.Errorf("Accepted() = %d, want 1", got)
	}
}

func TestSyslogTCPRejectsNewlineFraming(t *testing.T) {
	s := NewSyslogTCP()
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("<13>1 - h a - - - hello\n")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Wait(1, syslogWait)
	if err == nil || !strings.Contains(err.Error(), "not octet counting") {
		t.Fatalf("Wait err = %v, want a framing error", err)
	}
}

func TestSyslogUDP(t *testing.T) {
	s := NewSyslogUDP()
	defer s.Close()
	if !strings.HasPrefix(s.Address(), "udp://127.0.0.1:") {
		t.Errorf("Address() = %q", s.Address())
	}
	c, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []string{"<27>1 - h a - one - x=1", "<27>1 - h a - two - x=2"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := s.Wait(2, syslogWait)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].MsgID != "one" || msgs[1].MsgID != "two" {
		t.Errorf("got %+v", msgs)
	}
}

// TestSyslogUnixWithLogSyslog checks the server against the writer the
// channel uses for local delivery: the standard library's.
func TestSyslogUnixWithLogSyslog(t *testing.T) {
	s := NewSyslogUnix(t.TempDir())
	if !strings.HasPrefix(s.Address(), "unix:///") {
		t.Errorf("Address() = %q", s.Address())
	}
	w, err := stdsyslog.Dial("unixgram", s.Addr(), stdsyslog.LOG_LOCAL3|stdsyslog.LOG_INFO, "notifier")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Crit("severity=critical key=k"); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Wait(1, syslogWait)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.Facility != 19 || m.Severity != 2 || m.AppName != "notifier" || m.ProcID != fmt.Sprint(os.Getpid()) || m.Msg != "severity=critical key=k" {
		t.Errorf("got %+v", m)
	}
	s.Close()
	if _, err := os.Stat(s.Addr()); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
}

func TestSyslogTLS(t *testing.T) {
	s := NewSyslogTLS()
	defer s.Close()
	path, err := s.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil || string(pemBytes) != string(s.CAPEM()) {
		t.Fatalf("ca file: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		c, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: roots, ServerName: name})
		if err != nil {
			t.Fatalf("ServerName %q: %v", name, err)
		}
		if _, err := c.Write([]byte(frame("<27>1 - h a - - - " + name))); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	msgs, err := s.Wait(2, syslogWait)
	if err != nil {
		t.Fatal(err)
	}
	// Two connections are read concurrently: order is not promised.
	if got := msgs[0].Msg + " " + msgs[1].Msg; got != "127.0.0.1 localhost" && got != "localhost 127.0.0.1" {
		t.Errorf("got %+v", msgs)
	}
	plain := NewSyslogTCP()
	defer plain.Close()
	if _, err := plain.WriteCAFile(t.TempDir()); err == nil {
		t.Error("WriteCAFile on a tcp server: nil error")
	}
}

func TestSyslogWaitTimesOutAndCloseReleasesWaiters(t *testing.T) {
	s := NewSyslogUDP()
	start := time.Now()
	if _, err := s.Wait(1, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Wait err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > syslogWait {
		t.Errorf("Wait took %s", d)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Wait(1, time.Hour); done <- err }()
	s.Close()
	s.Close() // twice is fine
	if err := <-done; err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Wait err after Close = %v", err)
	}
}
