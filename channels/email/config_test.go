package email

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

func valid() Config {
	return Config{Host: "smtp.example.com", From: "notifier@example.com", To: []string{"oncall@example.com"}}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // a line of the error; "" for valid
	}{
		{"minimal", func(c *Config) {}, ""},
		{"every option", func(c *Config) {
			*c = Config{Host: "smtp.example.com", Port: 2525, TLS: TLSImplicit, CAFile: "ca.pem",
				Username: "u", PasswordFile: "pw", From: "Notifier <n@example.com>", To: []string{"a@example.com", "B <b@example.com>"},
				Cc: []string{"c@example.com"}, Subject: "{{ .summary }}", Body: "{{ .message }}", Timeout: time.Minute, HELO: "me.example.com"}
		}, ""},
		{"IPv6 host", func(c *Config) { c.Host = "::1" }, ""},
		{"no host", func(c *Config) { c.Host = "" }, "host: required (the SMTP server)"},
		{"host with port", func(c *Config) { c.Host = "smtp.example.com:587" }, `host: "smtp.example.com:587": give the host name or address only, the port in port`},
		{"host URL", func(c *Config) { c.Host = "smtp://smtp.example.com" }, `host: "smtp://smtp.example.com" is a URL: give the host name only (and port, tls)`},
		{"host with space", func(c *Config) { c.Host = "smtp example" }, `host: "smtp example" is not a host name`},
		{"port", func(c *Config) { c.Port = 70000 }, "port: 70000 is not 1-65535"},
		{"tls", func(c *Config) { c.TLS = "ssl" }, `tls: "ssl" is not starttls, implicit or none`},
		{"ca_file without tls", func(c *Config) { c.TLS, c.CAFile = TLSNone, "ca.pem" }, "ca_file: only used with tls starttls or implicit, not none"},
		{"user twice", func(c *Config) { c.Username, c.UsernameFile, c.PasswordFile = "u", "f", "p" }, "username and username_file are both set: keep one"},
		{"password twice", func(c *Config) { c.Username, c.Password, c.PasswordFile = "u", "pw", "p" }, "password and password_file are both set: keep only password_file"},
		{"user alone", func(c *Config) { c.Username = "u" }, "password_file: required with username (SMTP AUTH)"},
		{"password alone", func(c *Config) { c.PasswordFile = "p" }, "username: required with password_file (SMTP AUTH)"},
		{"AUTH in plain text", func(c *Config) { c.TLS, c.Username, c.PasswordFile = TLSNone, "u", "p" },
			"tls: none would send the SMTP AUTH password in plain text: use starttls or implicit"},
		{"password with a line break", func(c *Config) { c.Username, c.Password = "u", "hunter2\nmore" }, "password: contains a line break or control character"},
		{"no from", func(c *Config) { c.From = " " }, "from: required (the sender address)"},
		{"bad from", func(c *Config) { c.From = "notifier" }, `from: "notifier" is not an email address`},
		{"no to", func(c *Config) { c.To = nil }, "to: required (a list of recipient addresses)"},
		{"two in one to", func(c *Config) { c.To = []string{"a@example.com", "b@example.com, c@example.com"} },
			`to: entry 2, "b@example.com, c@example.com", is not one email address`},
		{"bad cc", func(c *Config) { c.Cc = []string{"dba"} }, `cc: entry 1, "dba", is not one email address`},
		{"timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout: must not be negative, got -1s"},
		{"helo", func(c *Config) { c.HELO = "my host" }, `helo: "my host" is not a host name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains("\n"+err.Error()+"\n", "\n"+tc.want+"\n") {
				t.Fatalf("Validate() = %v, want a line %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

func TestLint(t *testing.T) {
	c := valid()
	if err := c.Lint(); err != nil {
		t.Errorf("Lint() = %v", err)
	}
	c.TLS = TLSNone
	var a *channels.Advice
	if err := c.Lint(); !errors.As(err, &a) || a.Option != "tls" || a.Check != "plaintext" {
		t.Errorf("tls none: Lint() = %v, want plaintext advice about tls", err)
	}
}

func TestDeclarations(t *testing.T) {
	c := valid()
	var opts []string
	for _, tm := range c.Templates() {
		opts = append(opts, tm.Option)
		if !tm.Required || tm.JSON {
			t.Errorf("%s: Required %v, JSON %v", tm.Option, tm.Required, tm.JSON)
		}
	}
	if strings.Join(opts, ",") != "subject,body" {
		t.Errorf("Templates() = %v", opts)
	}
	c.Subject, c.Body = "S", "B"
	if tms := c.Templates(); *tms[0].Text != "S" || *tms[1].Text != "B" {
		t.Error("Templates() do not point at subject and body")
	}
	secrets := c.Secrets()
	if len(secrets) != 2 || secrets[1] != (channels.Secret{Inline: "password", File: "password_file"}) || secrets[0].File != "username_file" {
		t.Errorf("Secrets() = %v", secrets)
	}
}

// lint --check-secrets runs Files' checks on the content.
func TestFileChecks(t *testing.T) {
	c := valid()
	checks := map[string]func(string) error{}
	for _, f := range c.Files() {
		checks[f.Option] = f.Check
	}
	cert, _, err := apitest.WriteSelfSigned(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := checks["ca_file"](string(pem)); err != nil {
		t.Errorf("ca_file of a certificate: %v", err)
	}
	if err := checks["ca_file"]("not a certificate"); err == nil {
		t.Error("ca_file without a certificate passed")
	}
	if err := checks["password_file"]("two\nlines"); err == nil || strings.Contains(err.Error(), "two") {
		t.Errorf("password of two lines: %v", err)
	}
	if err := checks["password_file"]("pass phrase with spaces"); err != nil {
		t.Errorf("password with spaces: %v", err)
	}
	if err := checks["username_file"]("u\nv"); err == nil {
		t.Error("user of two lines passed")
	}
}

func TestNewReadsFilesAndAppliesDefaults(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("  "+testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tls  string
		port int
	}{{"", 587}, {TLSStartTLS, 587}, {TLSImplicit, 465}, {TLSNone, 25}} {
		c := valid()
		c.TLS = tc.tls
		if tc.tls != TLSNone {
			c.Username, c.PasswordFile = testUser, pw
		}
		n, err := New(c)
		if err != nil {
			t.Fatalf("tls %q: %v", tc.tls, err)
		}
		if n.cfg.Port != tc.port || n.cfg.Timeout != DefaultTimeout || (tc.tls == TLSNone) != (n.tls == nil) {
			t.Errorf("tls %q: port %d, timeout %s, tls %v", tc.tls, n.cfg.Port, n.cfg.Timeout, n.tls != nil)
		}
		if tc.tls != TLSNone && n.password != testPassword {
			t.Errorf("tls %q: password not read trimmed from the file", tc.tls)
		}
	}

	c := valid()
	c.Username, c.PasswordFile = testUser, filepath.Join(dir, "missing")
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "password_file") {
		t.Errorf("missing password file: %v", err)
	}
	two := filepath.Join(dir, "two")
	os.WriteFile(two, []byte(testPassword+"\nsecond line\n"), 0o600)
	c.PasswordFile = two
	if _, err := New(c); err == nil || strings.Contains(err.Error(), testPassword) {
		t.Errorf("password file of two lines: %v", err)
	}
	c = valid()
	c.CAFile = filepath.Join(dir, "pw")
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "ca_file") || strings.Contains(err.Error(), testPassword) {
		t.Errorf("ca_file without a certificate: %v", err)
	}
}
