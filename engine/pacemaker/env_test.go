package pacemaker

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"notifier/engine/event"
)

func TestParseEnvFile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"empty", "", map[string]string{}, ""},
		{"comments and blanks", "# c\n\nA=1\n   \n#B=2\nC=3", map[string]string{"A": "1", "C": "3"}, ""},
		{"split at first =", "OPT=a=b=c\n", map[string]string{"OPT": "a=b=c"}, ""},
		{"value kept verbatim", "R=/var/log/second recipient.log \nE=\n", map[string]string{"R": "/var/log/second recipient.log ", "E": ""}, ""},
		{"CRLF", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"missing =", "# c\nA=1\nNOPE\n", nil, "line 3: missing '=' (want KEY=VALUE)"},
		{"empty name", "A=1\n=x\n", nil, "line 2: empty variable name"},
		{"duplicate", "A=1\nA=2\n", nil, `line 2: variable "A" set twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvFile([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A malformed line may be an instance attribute holding a secret: the
// error names the line, never its text.
func TestParseEnvFileErrorHidesLine(t *testing.T) {
	_, err := ParseEnvFile([]byte("A=1\nsk_live_0123456789\n"))
	if err == nil || strings.Contains(err.Error(), "sk_live") {
		t.Fatalf("error = %v, want one without the line's text", err)
	}
}

func TestEnvMap(t *testing.T) {
	got := EnvMap([]string{"A=1", "B=x=y", "A=2", "=C:=C:\\", "NOEQ", "E="})
	want := map[string]string{"A": "1", "B": "x=y", "E": ""}
	if !maps.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The path the binary takes: os.Environ() -> EnvMap -> Decode gives what
// the sample file gives.
func TestEnvMapMatchesEnvFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(samplesDir, "resource-monitor-fail.env"))
	if err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			environ = append(environ, line)
		}
	}
	fromFile, err := ParseEnvFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := EnvMap(environ); !maps.Equal(got, fromFile) {
		t.Errorf("EnvMap and ParseEnvFile disagree")
	}
}

func FuzzDecode(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join(samplesDir, "*.env"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("CRM_notify_kind=fencing\nCRM_notify_rc=-62\nNOTIFIER_CLUSTER_ID=3\n"))
	f.Add([]byte("CRM_alert_kind=resource\nCRM_alert_status=1\nCRM_alert_timestamp_usec=999999\n"))
	opts := Options{Host: "vm", Cluster: event.ClusterDefaults{ID: 1}}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvFile(data)
		if err != nil {
			return
		}
		detected := Detect(env)
		ev, err := Decode(env, opts)
		if err != nil {
			return
		}
		if !detected {
			t.Fatal("Decode succeeded on an env Detect rejects")
		}
		if event.SeverityRank(ev.Severity) == 0 {
			t.Fatalf("severity %q", ev.Severity)
		}
		switch ev.Action {
		case event.ActionNew, event.ActionUpdate, event.ActionRemove:
		default:
			t.Fatalf("action %q", ev.Action)
		}
		if !strings.HasPrefix(ev.Key, "pacemaker/") || !strings.HasSuffix(ev.Key, "/"+ev.ID) {
			t.Fatalf("key %q, id %q", ev.Key, ev.ID)
		}
		if ev.Source != "pacemaker" || ev.Count != 1 || ev.Controller != "vm" {
			t.Fatalf("source/count/controller = %q/%d/%q", ev.Source, ev.Count, ev.Controller)
		}
	})
}

func TestFieldsRedactSecrets(t *testing.T) {
	env := map[string]string{
		"CRM_alert_kind": "node", "CRM_alert_node": "vm2", "CRM_alert_desc": "lost",
		"DB_PASSWORD": "hunter2", "api_token": "tok-123", "ROUTING_KEY": "R0UT1NG", "my_option": "my value",
		"BACKUP_URL": "https://u:s3cret@backup.example/x", "DOCS_URL": "https://docs.example/a@b",
		"http_proxy": "http://u:s3cret@proxy:3128",
	}
	ev, err := Decode(env, Options{Host: "vm"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"DB_PASSWORD": "<redacted>", "api_token": "<redacted>", "ROUTING_KEY": "<redacted>",
		"BACKUP_URL": "<redacted>", "DOCS_URL": "https://docs.example/a@b", "my_option": "my value", "CRM_alert_desc": "lost",
	} {
		if got := ev.Fields[k]; got != want {
			t.Errorf("fields[%s] = %q, want %q", k, got, want)
		}
	}
	if _, ok := ev.Fields["http_proxy"]; ok {
		t.Error("the inherited proxy setting reached fields")
	}
	for _, v := range ev.Fields {
		if strings.Contains(v, "hunter2") || strings.Contains(v, "s3cret") || strings.Contains(v, "tok-123") {
			t.Errorf("a secret reached fields: %q", v)
		}
	}
}
