package syslog

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestValidateDefaults: an empty config is valid and Validate leaves it
// empty; New gives it the defaults.
func TestValidateDefaults(t *testing.T) {
	c := Config{}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Config{}) {
		t.Errorf("Validate changed the config: %+v", c)
	}
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	want := Config{Facility: "daemon", Tag: "notifier", Timeout: 5 * time.Second}
	if !reflect.DeepEqual(n.cfg, want) {
		t.Errorf("got %+v, want %+v", n.cfg, want)
	}
}

// TestValidateAllAtOnce: every problem is reported, not the first.
func TestValidateAllAtOnce(t *testing.T) {
	c := Config{Address: "tcp://loghost:70000", Facility: "local8", Tag: "db:notifier", CAFile: "/etc/ca.pem", Timeout: -time.Second}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted it")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{`port "70000"`, `facility "local8"`, `tag "db:notifier"`, `timeout -1s is negative`}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d (ca_file not judged against an address that does not parse):\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
	c.Address = "tcp://loghost"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ca_file is only used with tls://") {
		t.Errorf("with a valid tcp address: %v, want the ca_file problem too", err)
	}
}

func TestValidateAddresses(t *testing.T) {
	tests := []struct {
		address string
		want    endpoint
	}{
		{"", endpoint{}},
		{"unix:///dev/log", endpoint{scheme: "unix", path: "/dev/log"}},
		{"udp://loghost:514", endpoint{scheme: "udp", host: "loghost", addr: "loghost:514"}},
		{"udp://loghost", endpoint{scheme: "udp", host: "loghost", addr: "loghost:514"}},
		{"tcp://10.0.0.5", endpoint{scheme: "tcp", host: "10.0.0.5", addr: "10.0.0.5:601"}},
		{"tls://logs.example.com", endpoint{scheme: "tls", host: "logs.example.com", addr: "logs.example.com:6514"}},
		{"tls://[2001:db8::1]:6514/", endpoint{scheme: "tls", host: "2001:db8::1", addr: "[2001:db8::1]:6514"}},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			c := Config{Address: tt.address}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			got, _ := parseAddress(tt.address)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"unknown scheme", Config{Address: "http://loghost:514"}, `syslog: address "http://loghost:514": scheme "http" is not unix, udp, tcp or tls`},
		{"no scheme", Config{Address: "loghost:514"}, `syslog: address "loghost:514": scheme "loghost" is not unix, udp, tcp or tls`},
		{"bare host", Config{Address: "loghost"}, `syslog: address "loghost" is not unix:///path`},
		{"no host", Config{Address: "udp://:514"}, `syslog: address "udp://:514" has no host`},
		{"empty port", Config{Address: "tcp://loghost:"}, `syslog: address "tcp://loghost:" has an empty port`},
		{"port out of range", Config{Address: "tcp://loghost:70000"}, `syslog: address "tcp://loghost:70000": port "70000" is not 1-65535`},
		{"port not a number", Config{Address: "tcp://loghost:syslog"}, `syslog: address "tcp://loghost:syslog": invalid port ":syslog" after host`},
		{"path on a network address", Config{Address: "udp://loghost:514/x"}, `syslog: address "udp://loghost:514/x" must not have a path`},
		{"user info", Config{Address: "tls://me:pw@loghost"}, `must not carry user info`},
		{"relative unix path", Config{Address: "unix://dev/log"}, `a unix socket needs an absolute path`},
		{"unknown facility", Config{Facility: "local8"}, `syslog: facility "local8" is not one of kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0,`},
		{"facility is case sensitive", Config{Facility: "LOCAL0"}, `facility "LOCAL0"`},
		{"tag too long", Config{Tag: strings.Repeat("t", 49)}, `is longer than 48 characters`},
		{"tag with a space", Config{Tag: "my app"}, `syslog: tag "my app" has a character that is not printable ASCII`},
		{"tag not ASCII", Config{Tag: "nötifier"}, `not printable ASCII`},
		{"tag with a colon", Config{Tag: "db:notifier"}, `syslog: tag "db:notifier" must not contain ":"`},
		{"ca_file without tls", Config{Address: "tcp://loghost", CAFile: "/etc/ca.pem"}, `syslog: ca_file is only used with tls:// addresses, not "tcp://loghost"`},
		{"negative timeout", Config{Timeout: -time.Second}, `syslog: timeout -1s is negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if _, err := New(tt.c); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestNewCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "missing.pem"), "syslog: ca_file: open " + dir + "/missing.pem: no such file or directory"},
		{"not PEM", notPEM, `syslog: ca_file "` + notPEM + `" holds no PEM certificate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Address: "tls://127.0.0.1", CAFile: tt.file})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
