package syslog

import (
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

func alarm() *channels.Message {
	return &channels.Message{
		Key: "cmon/ctl1/7/42", Action: channels.Trigger, Severity: "critical",
		Summary: "MySQL down on db1", Rule: "critical", Source: "cmon", Kind: "alarm",
		EventType: "MySqlDisconnected", Cluster: "prod-db", ClusterID: 7, Node: "db1", Count: 3,
	}
}

func TestFormatLine(t *testing.T) {
	tests := []struct {
		name string
		mod  func(m *channels.Message)
		want string
	}{
		{"all fields", func(m *channels.Message) {},
			`severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical summary="MySQL down on db1"`},
		{"only the required fields", func(m *channels.Message) {
			*m = channels.Message{Key: "k", Action: channels.Resolve, Severity: "info", Summary: "cleared"}
		}, `severity=info action=resolve key=k summary=cleared`},
		{"inform says message", func(m *channels.Message) {
			*m = channels.Message{Key: "k", Action: channels.Inform, Severity: "warning", Summary: "replication lag"}
		}, `severity=warning action=message key=k summary="replication lag"`},
		{"empty summary is still present", func(m *channels.Message) {
			*m = channels.Message{Key: "k", Action: channels.Trigger, Severity: "warning"}
		}, `severity=warning action=trigger key=k summary=""`},
		{"spaces quotes equals and backslashes are quoted", func(m *channels.Message) {
			m.Cluster, m.Node, m.Rule, m.Summary = "prod db", `a"b`, "x=y", `C:\temp full`
		}, `severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster="prod db" cluster_id=7 node="a\"b" type=MySqlDisconnected count=3 rule="x=y" summary="C:\\temp full"`},
		{"newlines and tabs collapse to one space", func(m *channels.Message) {
			m.Summary = "  line one\r\n\tline two\n\nthree\u2028four \n"
			m.Node = "db1\n"
		}, `severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical summary="line one line two three four"`},
		{"control characters and invalid UTF-8 are escaped", func(m *channels.Message) {
			m.Summary = "bell\a nul\x00 bad\xff ok é"
		}, `severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db cluster_id=7 node=db1 type=MySqlDisconnected count=3 rule=critical summary="bell\a nul\x00 bad\xff ok é"`},
		{"zero numbers are left out", func(m *channels.Message) { m.ClusterID, m.Count = 0, 0 },
			`severity=critical action=trigger key=cmon/ctl1/7/42 source=cmon cluster=prod-db node=db1 type=MySqlDisconnected rule=critical summary="MySQL down on db1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := alarm()
			tt.mod(m)
			got := FormatLine(m)
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if strings.ContainsAny(got, "\r\n") {
				t.Fatalf("line break in %q", got)
			}
			kv, err := apitest.ParseKeyValues(got)
			if err != nil {
				t.Fatal(err)
			}
			if kv["summary"] != channels.OneLine(m.Summary) || kv["key"] != m.Key {
				t.Errorf("parsed back summary %q key %q", kv["summary"], kv["key"])
			}
		})
	}
}

// TestFitLine checks the bound: the summary shrinks, the fields before
// it and the quoting survive.
func TestFitLine(t *testing.T) {
	tests := []struct {
		name    string
		summary string
		max     int
	}{
		{"plain", strings.Repeat("disk full ", 500), 2000},
		{"escapes expand", strings.Repeat("\"q\" \a", 800), 1000},
		{"multibyte", strings.Repeat("å", 3000), 512},
		{"fits already", "short", 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := alarm()
			m.Summary = tt.summary
			line := fitLine(m, tt.max)
			if len(line) > tt.max {
				t.Fatalf("len = %d > %d", len(line), tt.max)
			}
			kv, err := apitest.ParseKeyValues(line)
			if err != nil {
				t.Fatal(err)
			}
			if kv["type"] != "MySqlDisconnected" || kv["rule"] != "critical" {
				t.Errorf("fields lost: %q", kv)
			}
			if full := FormatLine(m); len(full) > tt.max && (!strings.HasSuffix(kv["summary"], "…") || len(line) < tt.max-8) {
				t.Errorf("summary %q: not cut, or cut far too short (%d of %d)", kv["summary"], len(line), tt.max)
			}
		})
	}
	// Fields alone over the bound: the line itself is cut.
	m := alarm()
	m.Key = strings.Repeat("k", 300)
	if got := fitLine(m, 100); len(got) > 100 || !strings.HasPrefix(got, "severity=critical action=trigger key=kkk") {
		t.Errorf("fitLine = %q", got)
	}
}

func TestFormatRFC5424(t *testing.T) {
	ts := time.Date(2026, 5, 20, 10, 4, 5, 123456789, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name       string
		pri        int
		ts         time.Time
		host, app  string
		pid        int
		msgID, msg string
		want       string
	}{
		{"full", 27, ts, "db1.example.com", "notifier", 4242, "trigger", "severity=warning key=k",
			"<27>1 2026-05-20T10:04:05.123456+02:00 db1.example.com notifier 4242 trigger - severity=warning key=k"},
		{"utc and whole seconds keep six digits", 134, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "h", "a", 1, "resolve", "x",
			"<134>1 2026-01-02T03:04:05.000000Z h a 1 resolve - x"},
		{"nil values", 0, time.Time{}, "", "", 0, "", "x",
			"<0>1 - - - - - - x"},
		{"empty msg has no trailing space", 13, time.Time{}, "h", "a", 7, "m", "",
			"<13>1 - h a 7 m -"},
		{"spaces and non-ASCII in header fields", 13, time.Time{}, "my host", "app\tx", -1, "m\u00e9", "x",
			"<13>1 - my_host app_x - m__ - x"},
		{"header fields cut to their limits", 13, time.Time{}, strings.Repeat("h", 300), strings.Repeat("a", 60), 1, strings.Repeat("m", 40), "x",
			"<13>1 - " + strings.Repeat("h", 255) + " " + strings.Repeat("a", 48) + " 1 " + strings.Repeat("m", 32) + " - x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatRFC5424(tt.pri, tt.ts, tt.host, tt.app, tt.pid, tt.msgID, tt.msg)
			if got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			if _, err := apitest.ParseSyslog(got); err != nil {
				t.Fatalf("a strict parser rejects it: %v", err)
			}
		})
	}
}

func TestSeverityCode(t *testing.T) {
	for sev, want := range map[string]int{"critical": 2, "warning": 4, "info": 6, "": 5, "page": 5} {
		if got := severityCode(sev); got != want {
			t.Errorf("severityCode(%q) = %d, want %d", sev, got, want)
		}
	}
}
