package slack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secretHook = "https://hooks.slack.com/services/T0SECRET/B0SECRET/s3cr3tPath"

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		c       Config
		wantErr []string // substrings, all expected; none means valid
	}{
		{"webhook file", Config{WebhookURLFile: "/etc/notifier/slack.url"}, nil},
		{"inline webhook", Config{WebhookURL: secretHook, Timeout: time.Second}, nil},
		{"token file and channel", Config{TokenFile: "/etc/notifier/slack.token", Channel: "#ops", APIURL: "http://127.0.0.1:1/api/"}, nil},
		{"nothing", Config{}, []string{"one of webhook_url_file or token_file (with channel) is required"}},
		{"both kinds", Config{WebhookURLFile: "f", TokenFile: "g", Channel: "C1"}, []string{"webhook_url and token are mutually exclusive"}},
		{"webhook twice", Config{WebhookURL: secretHook, WebhookURLFile: "f"}, []string{"webhook_url and webhook_url_file are mutually exclusive"}},
		{"token twice", Config{Token: "xoxb-1", TokenFile: "f", Channel: "C1"}, []string{"token and token_file are mutually exclusive"}},
		{"token without channel", Config{TokenFile: "f"}, []string{"channel: required with token"}},
		{"channel with webhook", Config{WebhookURLFile: "f", Channel: "#ops"}, []string{"channel: not used with a webhook"}},
		{"api_url with webhook", Config{WebhookURLFile: "f", APIURL: "https://slack.com/api/"}, []string{"api_url: only used with token"}},
		{"webhook not a URL", Config{WebhookURL: "hooks.slack.com/services/T0SECRET/B0SECRET/s3cr3tPath"}, []string{"webhook_url: scheme \"\" is not http or https"}},
		{"webhook unparseable", Config{WebhookURL: "https://hooks.slack.com/s3cr3tPath/%zz"}, []string{"webhook_url: not a valid URL"}},
		{"api_url bad", Config{TokenFile: "f", Channel: "C1", APIURL: "ftp://x/"}, []string{`api_url: scheme "ftp" is not http or https`}},
		{"token with space", Config{Token: "xoxb-1 2", Channel: "C1"}, []string{"token: contains white space"}},
		{"negative timeout", Config{WebhookURLFile: "f", Timeout: -time.Second}, []string{"timeout: must not be negative, got -1s"}},
		{"all at once", Config{Token: "x", TokenFile: "f", Timeout: -1}, []string{"token and token_file", "channel: required", "timeout:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			for _, secret := range []string{"s3cr3tPath", "xoxb-1 2"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNew(t *testing.T) {
	t.Run("webhook file and defaults", func(t *testing.T) {
		n, err := New(Config{WebhookURLFile: writeFile(t, secretHook+"\n")})
		if err != nil {
			t.Fatal(err)
		}
		if n.webhook != secretHook || n.http.Timeout != DefaultTimeout {
			t.Errorf("webhook %q timeout %s", n.webhook, n.http.Timeout)
		}
	})
	t.Run("token file, api_url gets its slash", func(t *testing.T) {
		n, err := New(Config{TokenFile: writeFile(t, "xoxb-abc\n"), Channel: "C1", APIURL: "http://127.0.0.1:9/api", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if n.token != "xoxb-abc" || n.apiURL != "http://127.0.0.1:9/api/" || n.http.Timeout != time.Second {
			t.Errorf("token %q api %q timeout %s", n.token, n.apiURL, n.http.Timeout)
		}
	})
	t.Run("default api_url", func(t *testing.T) {
		n, err := New(Config{Token: "xoxb-abc", Channel: "C1"})
		if err != nil {
			t.Fatal(err)
		}
		if n.apiURL != DefaultAPIURL {
			t.Errorf("api %q", n.apiURL)
		}
	})

	errTests := []struct {
		name string
		c    Config
		want string
	}{
		{"invalid", Config{}, "slack: one of webhook_url_file"},
		{"missing file", Config{WebhookURLFile: filepath.Join(t.TempDir(), "nope")}, "slack: webhook_url_file: "},
		{"file holds no URL", Config{WebhookURLFile: writeFile(t, "s3cr3tPath")}, `webhook_url_file "`},
		{"empty token file", Config{TokenFile: writeFile(t, "\n"), Channel: "C1"}, "token_file"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3tPath") {
				t.Errorf("error %q reveals the file's content", err)
			}
		})
	}
}
