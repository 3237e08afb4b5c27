package pagerduty

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testKey = "0123456789abcdef0123456789abcdef"

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid; otherwise the exact error
	}{
		{"key file", Config{RoutingKeyFile: "/etc/notifier/pd.key"}, ""},
		{"inline key and everything set", Config{RoutingKey: testKey, EventsURL: "https://events.eu.pagerduty.com", Timeout: time.Second, Client: "cmon", ClientURL: "https://cc.example.com/"}, ""},
		{"full enqueue URL", Config{RoutingKeyFile: "k", EventsURL: "http://127.0.0.1:8080/v2/enqueue"}, ""},
		{"no key", Config{}, "routing_key_file: required (the Events API v2 integration key)"},
		{"both keys", Config{RoutingKey: testKey, RoutingKeyFile: "k"}, "routing_key and routing_key_file are both set: keep only routing_key_file"},
		{"short inline key", Config{RoutingKey: "not-a-key"}, "routing_key: must be 32 characters (an Events API v2 integration key), got 9"},
		{"events_url scheme", Config{RoutingKeyFile: "k", EventsURL: "ftp://events.pagerduty.com"}, `events_url: scheme "ftp" is not http or https`},
		{"events_url without host", Config{RoutingKeyFile: "k", EventsURL: "https:///v2"}, `events_url: no host`},
		{"events_url relative", Config{RoutingKeyFile: "k", EventsURL: "events.pagerduty.com"}, `events_url: scheme "" is not http or https`},
		{"events_url unparseable", Config{RoutingKeyFile: "k", EventsURL: "http://[::1"}, `events_url: not a valid URL`},
		{"client_url", Config{RoutingKeyFile: "k", ClientURL: "cc.example.com"}, `client_url: scheme "" is not http or https`},
		{"negative timeout", Config{RoutingKeyFile: "k", Timeout: -time.Second}, `timeout "-1s": must not be negative`},
		{"all at once", Config{EventsURL: "x", Timeout: -1},
			"routing_key_file: required (the Events API v2 integration key)\n" +
				`events_url: scheme "" is not http or https` + "\n" +
				`timeout "-1ns": must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Validate() = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	n, err := New(Config{RoutingKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if n.cfg.EventsURL != DefaultEventsURL || n.cfg.Timeout != DefaultTimeout || n.cfg.Client != DefaultClient {
		t.Errorf("defaults: got %+v", n.cfg)
	}
	if n.http.Timeout != DefaultTimeout {
		t.Errorf("HTTP client timeout = %v, want %v", n.http.Timeout, DefaultTimeout)
	}

	n, err = New(Config{RoutingKey: testKey, EventsURL: "https://events.eu.pagerduty.com/v2/enqueue/"})
	if err != nil {
		t.Fatal(err)
	}
	if n.cfg.EventsURL != "https://events.eu.pagerduty.com" {
		t.Errorf("events_url = %q, want the base without /v2/enqueue", n.cfg.EventsURL)
	}
}

func TestNewReadsTheKeyFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pd.key")
	if err := os.WriteFile(good, []byte("  "+testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	split := filepath.Join(dir, "split.key")
	if err := os.WriteFile(split, []byte("R0123456789abcde\n0123456789abcde\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte("R0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	n, err := New(Config{RoutingKeyFile: good})
	if err != nil {
		t.Fatal(err)
	}
	if n.routingKey != testKey {
		t.Errorf("routing key = %q, want the file's content trimmed", n.routingKey)
	}

	tests := []struct {
		name, file, want string
	}{
		{"missing file", filepath.Join(dir, "nope"), "pagerduty: routing_key_file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"line break inside", split, "pagerduty: routing_key_file: contains white space or a control character (a line break?)"},
		{"wrong length", short, "pagerduty: routing_key_file: must be 32 characters (an Events API v2 integration key), got 11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{RoutingKeyFile: tt.file})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("New() error = %v\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "R0123456789") {
				t.Errorf("error %q shows the key", err)
			}
		})
	}
}
