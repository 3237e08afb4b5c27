package webhook

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"notifier/channels"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid; otherwise the exact error
	}{
		{"url file", Config{URLFile: "/etc/notifier/hook.url"}, ""},
		{"everything set", Config{URL: "https://hooks.example.com/x", Method: "put", Timeout: time.Second,
			Headers:     []Header{{Name: "X-Team", Value: "dba\tops"}},
			HeaderFiles: []HeaderFile{{Name: "Authorization", File: "tok"}}, HMACSecretFile: "k",
			SignatureHeader: "X-Hub-Signature-256", Body: `{"text": {{ json .summary }}}`}, ""},
		{"no url", Config{}, "url_file: required (a file holding the address to send to)"},
		{"both urls", Config{URL: "https://a", URLFile: "f"}, "url and url_file are both set: keep only url_file"},
		{"url scheme", Config{URL: "ftp://hooks.example.com"}, `url: scheme "ftp" is not http or https`},
		{"url with a secret that does not parse", Config{URL: "hooks.example.com:443/s3cr3t"}, `url: not an http or https URL`},
		{"method", Config{URLFile: "f", Method: "GET"}, `method "GET": must be POST or PUT`},
		{"header without a name", Config{URLFile: "f", Headers: []Header{{Value: "v"}}}, "headers: item 1: name is required"},
		{"header name not a token", Config{URLFile: "f", Headers: []Header{{Name: "X Team", Value: "v"}}},
			`headers: item 1: name "X Team" is not a valid header name`},
		{"header name with a colon", Config{URLFile: "f", Headers: []Header{{Name: "X-Team:", Value: "v"}}},
			`headers: item 1: name "X-Team:" is not a valid header name`},
		{"header value with a line break", Config{URLFile: "f", Headers: []Header{{Name: "X-A", Value: "ok"}, {Name: "X-Team", Value: "dba\r\nX-Evil: 1"}}},
			"headers: item 2: X-Team: the value contains a line break or a control character"},
		{"reserved header", Config{URLFile: "f", Headers: []Header{{Name: "host", Value: "h"}}},
			"headers: item 1: host is set by notifier and cannot be given"},
		{"idempotency header", Config{URLFile: "f", HeaderFiles: []HeaderFile{{Name: "Idempotency-Key", File: "f"}}},
			"header_files: item 1: Idempotency-Key is set by notifier and cannot be given"},
		{"the signature header", Config{URLFile: "f", HMACSecretFile: "k", Headers: []Header{{Name: "x-notifier-signature", Value: "forged"}}},
			"headers: item 1: x-notifier-signature is set by notifier and cannot be given"},
		{"a header twice", Config{URLFile: "f", Headers: []Header{{Name: "Authorization", Value: "a"}},
			HeaderFiles: []HeaderFile{{Name: "authorization", File: "f"}}},
			"header_files: item 1: authorization is already given in headers: item 1"},
		{"header file without a file", Config{URLFile: "f", HeaderFiles: []HeaderFile{{Name: "Authorization"}}},
			"header_files: item 1: file is required"},
		{"signature header without a key", Config{URLFile: "f", SignatureHeader: "X-Sig"}, "signature_header: only used with hmac_secret_file"},
		{"signature header not a token", Config{URLFile: "f", HMACSecretFile: "k", SignatureHeader: "X Sig"}, `signature_header "X Sig": not a valid header name`},
		{"signature header reserved", Config{URLFile: "f", HMACSecretFile: "k", SignatureHeader: "Content-Length"}, "signature_header: Content-Length is set by notifier"},
		{"negative timeout", Config{URLFile: "f", Timeout: -time.Second}, `timeout "-1s": must not be negative`},
		{"all at once", Config{Method: "get", Timeout: -1},
			"url_file: required (a file holding the address to send to)\n" + `method "get": must be POST or PUT` + "\n" + `timeout "-1ns": must not be negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reflect.ValueOf(tt.cfg).Interface()
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("Validate() = %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(before, tt.cfg) {
				t.Errorf("Validate changed the config")
			}
		})
	}
}

func TestLint(t *testing.T) {
	c := Config{URLFile: "f", Timeout: 20 * time.Millisecond, Headers: []Header{{Name: "X-Team", Value: "dba"},
		{Name: "Authorization", Value: "Bearer x"}, {Name: "X-Api-Key", Value: "k"}, {Name: "X-Empty-Token"}}}
	var got []string
	for _, err := range c.Lint().(interface{ Unwrap() []error }).Unwrap() {
		var a *channels.Advice
		if !errors.As(err, &a) {
			t.Fatalf("%v is not advice", err)
		}
		got = append(got, a.Check+" "+a.Error())
	}
	want := []string{
		"timeout timeout: 20ms is under a second: deliveries would time out and wait in the queue (20ms for 20s?)",
		"inline-secret headers: Authorization looks like a credential, written into the policy and every copy of it: give it in header_files (mode 0640)",
		"inline-secret headers: X-Api-Key looks like a credential, written into the policy and every copy of it: give it in header_files (mode 0640)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Lint() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := (&Config{URLFile: "f", Headers: []Header{{Name: "X-Team", Value: "dba"}}}).Lint(); err != nil {
		t.Errorf("Lint() = %v for a plain header", err)
	}
}

func TestSecretsAndFiles(t *testing.T) {
	c := &Config{URLFile: "u", HeaderFiles: []HeaderFile{{Name: "Authorization", File: "a"}, {Name: "X-Key", File: "k"}}, HMACSecretFile: "h"}
	if got, want := c.Secrets(), []channels.Secret{{Inline: "url", File: "url_file"}, {File: "header_files"}, {File: "hmac_secret_file"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Secrets() = %+v, want %+v", got, want)
	}
	fs := c.Files()
	var opts []string
	for _, f := range fs {
		opts = append(opts, f.Option)
	}
	if want := []string{"url_file", "header_files", "header_files", "hmac_secret_file"}; !reflect.DeepEqual(opts, want) {
		t.Fatalf("Files() options %q, want %q", opts, want)
	}
	// ResolveFiles reaches each header file.
	channels.ResolveFiles(c, "/srv/policies")
	if c.URLFile != "/srv/policies/u" || c.HeaderFiles[0].File != "/srv/policies/a" || c.HeaderFiles[1].File != "/srv/policies/k" || c.HMACSecretFile != "/srv/policies/h" {
		t.Errorf("ResolveFiles: %+v", c)
	}
	// The checks lint --check-secrets runs: what New refuses, never quoted.
	checks := []struct {
		file    int
		content string
		want    string
	}{
		{0, "https://hooks.example.com/s3cr3t", ""},
		{0, "hooks.example.com:443/s3cr3t", "url: not an http or https URL"},
		{1, "Bearer abc", ""},
		{1, "Bearer abc\nBearer s3cr3t", "Authorization: the value contains a line break or a control character"},
		{2, "k\x00s3cr3t", "X-Key: the value contains a line break or a control character"},
	}
	for _, tt := range checks {
		err := fs[tt.file].Check(tt.content)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("check of %s %q = %q, want %q", fs[tt.file].Option, tt.content, got, tt.want)
		}
	}
	if fs[3].Check != nil {
		t.Errorf("hmac_secret_file: any non-empty key does")
	}
	// An empty config declares no header files.
	if got := (&Config{}).Secrets(); len(got) != 2 {
		t.Errorf("Secrets() of an empty config = %+v", got)
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	n, err := New(Config{URL: "https://hooks.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	if n.cfg.Method != "POST" || n.cfg.Timeout != DefaultTimeout || n.http.Timeout != DefaultTimeout || n.cfg.SignatureHeader != DefaultSignatureHeader || n.hmacKey != nil {
		t.Errorf("defaults: %+v, client timeout %v", n.cfg, n.http.Timeout)
	}
	n, err = New(Config{URL: "https://hooks.example.com/x", Method: "put", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if n.cfg.Method != "PUT" || n.http.Timeout != 3*time.Second {
		t.Errorf("method %q timeout %v", n.cfg.Method, n.http.Timeout)
	}
}

func TestNewReadsTheFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("url", "https://hooks.example.com/s3cr3t\n")
	badURL := write("badurl", "hooks.example.com:443/s3cr3t\n")
	split := write("split", "Bearer s3cr3t\nBearer other\n")
	empty := write("empty", " \n")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing url file", Config{URLFile: filepath.Join(dir, "nope")},
			"webhook: url_file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"url file not a URL", Config{URLFile: badURL}, `webhook: url_file "` + badURL + `": not an http or https URL`},
		{"header file with two lines", Config{URLFile: good, HeaderFiles: []HeaderFile{{Name: "Authorization", File: split}}},
			`webhook: header_files: Authorization: "` + split + `": the value contains a line break or a control character`},
		{"empty header file", Config{URLFile: good, HeaderFiles: []HeaderFile{{Name: "Authorization", File: empty}}},
			`webhook: header_files: Authorization: header_file "` + empty + `" is empty`},
		{"empty hmac file", Config{URLFile: good, HMACSecretFile: empty}, `webhook: hmac_secret_file "` + empty + `" is empty`},
		{"invalid config", Config{URLFile: good, Method: "GET"}, `webhook: method "GET": must be POST or PUT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("New() = %v\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// exampleYAML is the README's example channel, options only.
const exampleYAML = `
url_file: /etc/notifier/webhook.url
method: PUT
headers:
  - name: X-Team
    value: dba
header_files:
  - name: Authorization
    file: /etc/notifier/webhook.token
hmac_secret_file: /etc/notifier/webhook.hmac
signature_header: X-Notifier-Signature
timeout: 5s
body: |
  {"text": {{ json .summary }}, "key": {{ json .key }}, "action": {{ json .delivery }}}
`

func TestExampleDecodes(t *testing.T) {
	d := yaml.NewDecoder(strings.NewReader(exampleYAML))
	d.KnownFields(true)
	var c Config
	if err := d.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.Lint(); err != nil {
		t.Errorf("Lint() = %v", err)
	}
	want := Config{URLFile: "/etc/notifier/webhook.url", Method: "PUT", Headers: []Header{{"X-Team", "dba"}},
		HeaderFiles: []HeaderFile{{"Authorization", "/etc/notifier/webhook.token"}}, HMACSecretFile: "/etc/notifier/webhook.hmac",
		SignatureHeader: "X-Notifier-Signature", Timeout: 5 * time.Second,
		Body: `{"text": {{ json .summary }}, "key": {{ json .key }}, "action": {{ json .delivery }}}` + "\n"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("decoded %+v\nwant    %+v", c, want)
	}
}

// TestCheckSecrets runs what lint --check-secrets runs on each secret
// file the config declares: every file a run could not use, or should
// not, is a problem, and none quotes the content.
func TestCheckSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := &Config{
		URLFile: write("url", "hooks.example.com/s3cr3t\n", 0o600),
		HeaderFiles: []HeaderFile{
			{Name: "Authorization", File: write("tok", "Bearer s3cr3t\n", 0o644)},
			{Name: "X-Key", File: write("key", "s3cr3t\ns3cr3t\n", 0o600)},
		},
		HMACSecretFile: write("hmac", "\n", 0o600),
	}
	var got []string
	for _, f := range c.Files() {
		if !channels.IsSecretFile(c, f.Option) {
			t.Errorf("%s is not declared a secret", f.Option)
		}
		for _, p := range channels.SecretFileProblems(*f.Path, f.Check) {
			got = append(got, f.Option+": "+strings.TrimPrefix(p, dir+"/"))
		}
	}
	want := []string{
		`url_file: url: url: scheme "" is not http or https`,
		"header_files: tok is readable by every user (mode 0644); chmod o-r it",
		"header_files: key: X-Key: the value contains a line break or a control character",
		"hmac_secret_file: hmac is empty",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range got {
		if strings.Contains(p, "s3cr3t") {
			t.Errorf("%q quotes the secret", p)
		}
	}
}

// TestLintCleartext: a URL that would cross the network in clear text is
// a warning; https, or http to this host, is not.
func TestLintCleartext(t *testing.T) {
	for u, warn := range map[string]bool{"http://hooks.example.net/x": true, "https://hooks.example.net/x": false, "http://127.0.0.1:8080/x": false} {
		err := (&Config{URL: u}).Lint()
		var adv *channels.Advice
		got := errors.As(err, &adv) && adv.Check == "cleartext"
		if got != warn || (err != nil && strings.Contains(err.Error(), "example")) {
			t.Errorf("%s: %v; want a cleartext warning %v, never quoting the URL", u, err, warn)
		}
	}
}
