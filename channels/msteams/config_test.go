package msteams

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/channels"
)

const secretURL = "https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3tSiGnAtUrE"

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		c       Config
		wantErr []string // substrings, all expected; none means valid
	}{
		{"file", Config{WebhookURLFile: "/etc/notifier/teams.url"}, nil},
		{"inline", Config{WebhookURL: secretURL, Timeout: time.Second}, nil},
		{"templates", Config{WebhookURLFile: "f", Title: "{{ .summary }}", Text: "x", Facts: map[string]string{"Runbook": "r", "Node": `{{ "" }}`}}, nil},
		{"nothing", Config{}, []string{"webhook_url_file: required"}},
		{"both", Config{WebhookURL: secretURL, WebhookURLFile: "f"}, []string{"webhook_url and webhook_url_file are both set"}},
		{"not a URL", Config{WebhookURL: "prod-42.logic.azure.com/workflows?sig=s3cr3tSiGnAtUrE"}, []string{`webhook_url: scheme "" is not http or https`}},
		{"unparseable", Config{WebhookURL: "https://x/%zz?sig=s3cr3tSiGnAtUrE"}, []string{"webhook_url: not a valid URL"}},
		{"two lines", Config{WebhookURL: secretURL + "\n" + secretURL}, []string{"webhook_url: contains white space"}},
		{"negative timeout", Config{WebhookURLFile: "f", Timeout: -time.Second}, []string{"timeout: must not be negative, got -1s"}},
		{"blank title", Config{WebhookURLFile: "f", Title: "  "}, []string{"title: blank"}},
		{"blank fact name", Config{WebhookURLFile: "f", Facts: map[string]string{" ": "x"}}, []string{"facts: a fact has a blank name"}},
		{"dotted fact name", Config{WebhookURLFile: "f", Facts: map[string]string{"a.b": "x"}}, []string{"facts.a.b: a fact's name cannot hold a dot"}},
		{"long fact name", Config{WebhookURLFile: "f", Facts: map[string]string{strings.Repeat("n", 300): "x"}}, []string{"a fact's name is longer than 256 bytes"}},
		{"empty fact", Config{WebhookURLFile: "f", Facts: map[string]string{"Node": ""}}, []string{"facts.Node: no template"}},
		{"all at once", Config{WebhookURL: "x", WebhookURLFile: "f", Timeout: -1, Facts: map[string]string{"a.b": "x"}},
			[]string{"both set", "timeout:", "facts.a.b"}},
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
			if strings.Contains(err.Error(), "s3cr3tSiGnAtUrE") {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}

func TestLint(t *testing.T) {
	var a *channels.Advice
	if err := (&Config{WebhookURLFile: "f", Timeout: 20 * time.Millisecond}).Lint(); !errors.As(err, &a) || a.Option != "timeout" {
		t.Errorf("Lint() = %v, want timeout advice", err)
	}
	if err := (&Config{WebhookURLFile: "f", Timeout: 20 * time.Second}).Lint(); err != nil {
		t.Errorf("Lint() = %v", err)
	}
}

// TestSecretFileCheck: lint --check-secrets judges the file's content as
// New does, without quoting it.
func TestSecretFileCheck(t *testing.T) {
	c := &Config{WebhookURLFile: "f"}
	files := c.Files()
	if len(files) != 1 || files[0].Option != "webhook_url_file" || files[0].Path != &c.WebhookURLFile {
		t.Fatalf("Files() = %+v", files)
	}
	if !channels.IsSecretFile(c, "webhook_url_file") {
		t.Error("webhook_url_file is not declared a secret")
	}
	check := files[0].Check
	if err := check(secretURL); err != nil {
		t.Errorf("Check(a Workflows URL) = %v", err)
	}
	for _, bad := range []string{"s3cr3tSiGnAtUrE", "ftp://x/s3cr3tSiGnAtUrE", secretURL + " " + secretURL} {
		err := check(bad)
		if err == nil {
			t.Errorf("Check accepted %q", bad)
		} else if strings.Contains(err.Error(), "s3cr3tSiGnAtUrE") {
			t.Errorf("Check error %q reveals the secret", err)
		}
	}
}

func TestTemplates(t *testing.T) {
	c := &Config{Title: "T", Facts: map[string]string{"zeta": "z", "Alpha": "a"}}
	ts := c.Templates()
	var got []string
	for _, tp := range ts {
		got = append(got, tp.Option+"="+*tp.Text)
	}
	want := "title=T text= facts.Alpha=a facts.zeta=z"
	if strings.Join(got, " ") != want {
		t.Errorf("Templates() = %q, want %q", got, want)
	}
	if !ts[0].Required || ts[1].Required || ts[0].Text != &c.Title || ts[1].Text != &c.Text {
		t.Errorf("title must be Required and point at Title, text at Text: %+v", ts[:2])
	}
	for _, tp := range ts {
		if tp.JSON {
			t.Errorf("%s: not a JSON template", tp.Option)
		}
	}
	if ts := (&Config{}).Templates(); len(ts) != 2 {
		t.Errorf("without facts: %d templates, want title and text", len(ts))
	}
}

func TestNew(t *testing.T) {
	n, err := New(Config{WebhookURLFile: writeFile(t, "\n"+secretURL+"\n")})
	if err != nil {
		t.Fatal(err)
	}
	if n.url != secretURL || n.http.Timeout != DefaultTimeout {
		t.Errorf("url read wrong or timeout %s", n.http.Timeout)
	}
	n.Close()

	errTests := []struct {
		name string
		c    Config
		want string
	}{
		{"invalid", Config{}, "msteams: webhook_url_file: required"},
		{"missing file", Config{WebhookURLFile: filepath.Join(t.TempDir(), "nope")}, "msteams: webhook_url_file: "},
		{"empty file", Config{WebhookURLFile: writeFile(t, "\n")}, "is empty"},
		{"file holds no URL", Config{WebhookURLFile: writeFile(t, "s3cr3tSiGnAtUrE")}, `msteams: webhook_url_file "`},
		{"file holds two URLs", Config{WebhookURLFile: writeFile(t, secretURL+"\n"+secretURL)}, "contains white space"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3tSiGnAtUrE") {
				t.Errorf("error %q reveals the file's content", err)
			}
		})
	}
}
