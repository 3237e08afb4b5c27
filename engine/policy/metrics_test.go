package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const metricsChannels = "channels:\n  ops-slack: {type: slack}\n  local-syslog: {type: syslog}\nrules:\n  - {name: all, when: 'true', notify: [ops-slack]}\n"

// parseSettings parses one policy file, its settings first.
func parseSettings(t *testing.T, name, settings string) (*Parsed, Problems) {
	t.Helper()
	return Parse([]Source{{Name: name, Data: []byte("settings:\n" + settings + metricsChannels)}}, Options{})
}

func TestMetricsSelfAlertDefaults(t *testing.T) {
	p, ps := Parse([]Source{{Name: "p.yaml", Data: []byte(metricsChannels)}}, Options{})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if p.Settings.Metrics != (MetricsSettings{}) || p.Settings.SelfAlert != nil {
		t.Errorf("without settings: metrics %+v, self_alert %+v; want both off", p.Settings.Metrics, p.Settings.SelfAlert)
	}
	for _, settings := range []string{
		"  deadline: 10s\n",
		"  metrics:\n  self_alert:\n", // null: none
		"  metrics: {}\n",
		"  metrics: {listen: '', textfile: ''}\n",
	} {
		p, ps := parseSettings(t, "p.yaml", settings)
		if len(ps) > 0 {
			t.Errorf("%q: %v", settings, ps)
			continue
		}
		if p.Settings.Metrics != (MetricsSettings{}) || p.Settings.SelfAlert != nil {
			t.Errorf("%q: metrics %+v, self_alert %+v; want both off", settings, p.Settings.Metrics, p.Settings.SelfAlert)
		}
	}
	p, ps = parseSettings(t, "/etc/notifier/p.yaml", "  self_alert: {notify: [ops-slack, local-syslog]}\n")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	want := &SelfAlertSettings{Notify: []string{"ops-slack", "local-syslog"}, After: DefaultSelfAlertAfter}
	if !reflect.DeepEqual(p.Settings.SelfAlert, want) || DefaultSelfAlertAfter != 5*time.Minute {
		t.Errorf("self_alert %+v, want %+v", p.Settings.SelfAlert, want)
	}
	p, ps = parseSettings(t, "/etc/notifier/p.yaml", `  metrics:
    listen: 127.0.0.1:9464
    textfile: /var/lib/prometheus/node-exporter/notifier.prom
  self_alert:
    notify: [local-syslog]
    after: 90s
`)
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if want := (MetricsSettings{Listen: "127.0.0.1:9464", Textfile: "/var/lib/prometheus/node-exporter/notifier.prom"}); p.Settings.Metrics != want {
		t.Errorf("metrics %+v, want %+v", p.Settings.Metrics, want)
	}
	if want := (&SelfAlertSettings{Notify: []string{"local-syslog"}, After: 90 * time.Second}); !reflect.DeepEqual(p.Settings.SelfAlert, want) {
		t.Errorf("self_alert %+v, want %+v", p.Settings.SelfAlert, want)
	}
}

// A relative textfile is the policy file's, as audit_log is: runs start
// in any directory.
func TestMetricsTextfileRelative(t *testing.T) {
	for file, want := range map[string]string{
		"/etc/notifier/notifier.yaml":   "/etc/notifier/metrics/notifier.prom",
		"conf.d/10-settings.yaml":       "conf.d/metrics/notifier.prom",
		"notifier.yaml":                 "metrics/notifier.prom",
		"/etc/notifier/../n/x.yaml":     "/etc/n/metrics/notifier.prom",
		"/etc/notifier/policy/one.yaml": "/etc/notifier/policy/metrics/notifier.prom",
	} {
		p, ps := parseSettings(t, file, "  metrics: {textfile: metrics/notifier.prom}\n  audit_log: audit.jsonl\n")
		if len(ps) > 0 {
			t.Fatal(ps)
		}
		if p.Settings.Metrics.Textfile != want {
			t.Errorf("%s: textfile %q, want %q", file, p.Settings.Metrics.Textfile, want)
		}
		if got := filepath.Dir(p.Settings.AuditLog); got != filepath.Dir(filepath.Dir(want)) {
			t.Errorf("%s: audit_log in %q, textfile in %q: not the same directory", file, got, filepath.Dir(want))
		}
	}
}

// A port alone listens on loopback only: all interfaces only when
// written so.
func TestMetricsListen(t *testing.T) {
	for raw, want := range map[string]string{
		"9464":                            "127.0.0.1:9464",
		":9464":                           "127.0.0.1:9464",
		"09464":                           "127.0.0.1:9464",
		"1":                               "127.0.0.1:1",
		"65535":                           "127.0.0.1:65535",
		"127.0.0.1:9464":                  "127.0.0.1:9464",
		"0.0.0.0:9464":                    "0.0.0.0:9464",
		"[::]:9464":                       "[::]:9464",
		"[::1]:9464":                      "[::1]:9464",
		"[fe80::1%eth0]:9464":             "[fe80::1%eth0]:9464",
		"localhost:9464":                  "localhost:9464",
		"node-1.example.net:9464":         "node-1.example.net:9464",
		"unix:/run/notifier/metrics.sock": "unix:/run/notifier/metrics.sock",
	} {
		got, why := metricsListen(raw)
		if got != want || why != "" {
			t.Errorf("%q: %q (%s), want %q", raw, got, why, want)
		}
	}
	for _, raw := range []string{
		"0", "65536", "99999", "123456", ":0", ":65536", "host:", "host:http", "host", "-1", "+9464", " 9464",
		"::1:9464", "::", "[::1]", "[]:9464", "[127.0.0.1]:9464", "[nope]:9464", "999.1.1.1:9464", "1.2.3:9464",
		"http://127.0.0.1:9464", "unix:", "unix:/", "unix:run/metrics.sock", "unix://", "bad_host:9464", "-host:9464", "a b:9464",
		"127.0.0.1:9464/metrics",
	} {
		if got, why := metricsListen(raw); why == "" {
			t.Errorf("%q: accepted as %q", raw, got)
		}
	}
}

// Each mistake is one error at its node, naming what is wrong and what
// is wanted.
func TestMetricsSelfAlertErrors(t *testing.T) {
	tests := []struct {
		settings string
		want     []string // line:col check: message
	}{
		{"  metrics: {listen: 'localhost'}\n", []string{`2:21 metrics: settings.metrics.listen: "localhost" is not host:port: want host:port, a port, or unix:/path`}},
		{"  metrics: {listen: 70000}\n", []string{`2:21 metrics: settings.metrics.listen: "70000" is not a port (1-65535): want host:port, a port, or unix:/path`}},
		{"  metrics: {listen: 'host:'}\n", []string{`2:21 metrics: settings.metrics.listen: "host:" has no port: want host:port, a port, or unix:/path`}},
		{"  metrics: {listen: 'host:0'}\n", []string{`2:21 metrics: settings.metrics.listen: "host:0" has port 0, not 1-65535: want host:port, a port, or unix:/path`}},
		{"  metrics: {listen: '::1:9464'}\n", []string{`2:21 metrics: settings.metrics.listen: "::1:9464" has an IPv6 address outside brackets (write [::1]:9464): want host:port, a port, or unix:/path`}},
		{"  metrics: {listen: 'unix:metrics.sock'}\n", []string{`2:21 metrics: settings.metrics.listen: "unix:metrics.sock" is not a socket's absolute path: want host:port, a port, or unix:/path`}},
		{"  metrics: {listen: 'http://0.0.0.0:9464/metrics'}\n", []string{`2:21 metrics: settings.metrics.listen: "http://0.0.0.0:9464/metrics" is a URL, not an address: want host:port, a port, or unix:/path`}},
		{"  metrics:\n    textfile: /var/lib/node-exporter/notifier.txt\n", []string{`3:15 metrics: settings.metrics.textfile: "/var/lib/node-exporter/notifier.txt" is not a *.prom file: want a file name ending in .prom (node_exporter's textfile collector reads only those)`}},
		{"  metrics: {listen: 9464, textfle: x.prom}\n", []string{`2:27 unknown-key: settings.metrics.textfle: unknown key, did you mean "textfile"?`}},
		{"  metrics: 9464\n", []string{`2:12 type: settings.metrics: want a mapping, got "9464"`}},
		{"  self_alert: {notify: [ops-slack], after: 0s}\n", []string{`2:44 self-alert: settings.self_alert.after: must be a duration above 0, like 5m (how long a problem of notifier's own lasts before it is told)`}},
		{"  self_alert: {notify: [ops-slack], after: 0}\n", []string{`2:44 self-alert: settings.self_alert.after: must be a duration above 0, like 5m (how long a problem of notifier's own lasts before it is told)`}},
		{"  self_alert: {notify: [ops-slack], after: -5m}\n", []string{`2:44 duration: settings.self_alert.after: "-5m" is not a duration (want e.g. 30s, 5m, 1h30m)`}},
		{"  self_alert: {notify: [ops-slack], after: soon}\n", []string{`2:44 duration: settings.self_alert.after: "soon" is not a duration (want e.g. 30s, 5m, 1h30m)`}},
		{"  self_alert: {notify: []}\n", []string{`2:24 self-alert: settings.self_alert.notify: the list is empty: name at least one channel to tell when notifier itself fails`}},
		{"  self_alert: {after: 5m}\n", []string{`2:15 self-alert: settings.self_alert: notify is missing: name at least one channel to tell when notifier itself fails`}},
		// A misspelt notify is said once, not again as missing.
		{"  self_alert: {notfy: [ops-slack]}\n", []string{`2:16 unknown-key: settings.self_alert.notfy: unknown key, did you mean "notify"?`}},
		{"  self_alert: {notify: ops-slack}\n", []string{`2:24 type: settings.self_alert.notify: want a list, got "ops-slack"`}},
		{"  self_alert: {notify: [ops-slak, local-syslog, pager]}\n", []string{
			`2:25 undefined-channel: settings.self_alert.notify: channel "ops-slak" is not defined, did you mean "ops-slack"?`,
			`2:49 undefined-channel: settings.self_alert.notify: channel "pager" is not defined`,
		}},
		{"  self_alert: [ops-slack]\n", []string{`2:15 type: settings.self_alert: want a mapping, got a list`}},
	}
	for _, tt := range tests {
		_, ps := parseSettings(t, "p.yaml", tt.settings)
		var got []string
		for _, p := range ps {
			got = append(got, fmt.Sprintf("%d:%d %s: %s", p.Line, p.Col, p.Check, p.Message))
			if p.Severity != "error" {
				t.Errorf("%q: %s is a %s", tt.settings, p.Message, p.Severity)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got  %s\n want %s", tt.settings, strings.Join(got, "\n       "), strings.Join(tt.want, "\n       "))
		}
	}
}

// self_alert may name channels defined in another file of the policy
// (a directory), before or after the settings; and a channel only it
// names is used.
func TestSelfAlertChannelsAcrossFiles(t *testing.T) {
	settings := Source{Name: "10-settings.yaml", Data: []byte("settings:\n  self_alert: {notify: [ops-slack, local-syslog]}\n")}
	channels := Source{Name: "20-channels.yaml", Data: []byte(metricsChannels)}
	for _, srcs := range [][]Source{{settings, channels}, {channels, settings}} {
		p, ps := Parse(srcs, Options{Lint: true})
		if len(ps) > 0 {
			t.Errorf("%s first: %v", srcs[0].Name, ps)
		}
		if lint := p.Lint(nil, false); len(lint) > 0 {
			t.Errorf("%s first: lint says %v (local-syslog is self_alert's)", srcs[0].Name, lint)
		}
	}
	_, ps := Parse([]Source{settings}, Options{})
	if len(ps) != 2 || ps[0].Check != "undefined-channel" || ps[0].File != "10-settings.yaml" || ps[0].Line != 2 || ps[0].Col != 25 {
		t.Errorf("without the channels' file: %v", ps)
	}
}

// The schema accepts every settings.metrics and settings.self_alert the
// loader accepts, and rejects what the loader rejects where that is
// simple to say.
func TestSchemaMetricsSelfAlert(t *testing.T) {
	out, err := PolicySchema(map[string]SchemaChannel{
		"slack":  {Config: reflect.TypeFor[struct{}](), Doc: "s"},
		"syslog": {Config: reflect.TypeFor[struct{}](), Doc: "l"},
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("policy.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(settings string) error {
		var v any
		if err := yaml.Unmarshal([]byte("settings:\n"+settings+metricsChannels), &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(inst)
	}
	good := []string{"  metrics:\n  self_alert:\n", "  metrics: {listen: '', textfile: ''}\n", "  self_alert: {notify: [ops-slack], after: 10m}\n"}
	for _, l := range []string{"9464", "'9464'", "':9464'", "09464", "127.0.0.1:9464", "'[::]:9464'", "'[fe80::1%eth0]:9464'", "unix:/run/notifier/metrics.sock", "localhost:1"} {
		good = append(good, "  metrics: {listen: "+l+", textfile: notifier.prom}\n")
	}
	for _, s := range good {
		if _, ps := parseSettings(t, "p.yaml", s); len(ps) > 0 {
			t.Errorf("loader rejects %q: %v", s, ps)
		}
		if err := validate(s); err != nil {
			t.Errorf("schema rejects %q: %v", s, err)
		}
	}
	for _, s := range []string{
		"  metrics: {listen: 70000}\n",
		"  metrics: {listen: 0}\n",
		"  metrics: {listen: 'http://x:9464'}\n",
		"  metrics: {listen: '::1:9464'}\n",
		"  metrics: {textfile: notifier.txt}\n",
		"  metrics: {lisen: 9464}\n",
		"  self_alert: {notify: []}\n",
		"  self_alert: {after: 5m}\n",
		"  self_alert: {notify: [ops-slack], after: -1m}\n",
		"  self_alert: {notify: [ops-slack], aftr: 1m}\n",
	} {
		if _, ps := parseSettings(t, "p.yaml", s); len(ps.Errors()) == 0 {
			t.Errorf("loader accepts %q", s)
		}
		if err := validate(s); err == nil {
			t.Errorf("schema accepts %q", s)
		}
	}
}
