package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"notifier/channels"
)

// Defaults applied by New when the config leaves a field empty.
const (
	// DefaultMethod is how the body is sent.
	DefaultMethod = http.MethodPost
	// DefaultTimeout bounds one request: the run's deadline stays well
	// under Pacemaker's 30 s, and a retry must still fit in it.
	DefaultTimeout = 10 * time.Second
	// DefaultSignatureHeader carries the HMAC signature.
	DefaultSignatureHeader = "X-Notifier-Signature"
	// TimestampHeader carries the Unix time the signature covers with
	// the body, so that a receiver can refuse a replayed request.
	TimestampHeader = "X-Notifier-Timestamp"
	// IdempotencyHeader carries the message's id (see ID), the same on
	// every attempt, so that a receiver can drop a retried duplicate.
	IdempotencyHeader = "Idempotency-Key"
)

// Config is one webhook channel as written in the policy file. The
// loader decodes it strictly, so every field is a key users may write.
type Config struct {
	// URL is the address, inline. Lint warns: URLs often carry a token,
	// prefer URLFile.
	URL string `yaml:"url"`
	// URLFile is a file holding the address (surrounding white space
	// ignored).
	URLFile string `yaml:"url_file"`
	// Method is POST or PUT; default DefaultMethod.
	Method string `yaml:"method"`
	// Headers are sent with every request as written.
	Headers []Header `yaml:"headers"`
	// HeaderFiles are sent with every request, each value read from a
	// file: tokens, kept out of the policy.
	HeaderFiles []HeaderFile `yaml:"header_files"`
	// HMACSecretFile is a file holding the key of the HMAC-SHA256
	// signature; no signature without it.
	HMACSecretFile string `yaml:"hmac_secret_file"`
	// SignatureHeader names the header carrying the signature; default
	// DefaultSignatureHeader.
	SignatureHeader string `yaml:"signature_header"`
	// Body is a template of the request body, which must render one
	// JSON value; empty sends the default body (see Payload).
	Body string `yaml:"body"`
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
}

// Header is one header of fixed value.
type Header struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// HeaderFile is one header whose value is a file's content, trimmed.
type HeaderFile struct {
	Name string `yaml:"name"`
	File string `yaml:"file"`
}

// reserved are the headers notifier sets itself or that frame the
// request: a policy setting them would break the request or forge what
// a receiver checks (lower case).
var reserved = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true,
	"te": true, "trailer": true, "upgrade": true, "keep-alive": true, "proxy-connection": true,
	strings.ToLower(IdempotencyHeader): true, strings.ToLower(TimestampHeader): true,
}

// Validate checks the config without touching the file system, so lint
// can run it where the secret files are not, and reports every problem
// at once. No error quotes the URL or a header's value.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case c.URL != "" && c.URLFile != "":
		add("url and url_file are both set: keep only url_file")
	case c.URL == "" && c.URLFile == "":
		add("url_file: required (a file holding the address to send to)")
	case c.URL != "":
		if err := channels.CheckHTTPURL("url", c.URL); err != nil {
			errs = append(errs, err)
		}
	}
	if m := strings.ToUpper(c.Method); m != "" && m != http.MethodPost && m != http.MethodPut {
		add("method %q: must be POST or PUT", c.Method)
	}
	sig := c.SignatureHeader
	if sig == "" && c.HMACSecretFile != "" {
		sig = DefaultSignatureHeader
	}
	seen := map[string]string{} // lower-case name -> where it was given
	name := func(option string, i int, n string) bool {
		where := fmt.Sprintf("%s: item %d", option, i+1)
		lower := strings.ToLower(n)
		switch {
		case n == "":
			add("%s: name is required", where)
		case !validName(n):
			add("%s: name %q is not a valid header name", where, n)
		case reserved[lower] || (sig != "" && strings.EqualFold(n, sig)):
			add("%s: %s is set by notifier and cannot be given", where, n)
		case seen[lower] != "":
			add("%s: %s is already given in %s", where, n, seen[lower])
		default:
			seen[lower] = where
			return true
		}
		return false
	}
	for i, h := range c.Headers {
		if name("headers", i, h.Name) {
			if err := checkValue(fmt.Sprintf("headers: item %d: %s", i+1, h.Name), h.Value); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i, h := range c.HeaderFiles {
		name("header_files", i, h.Name)
		if h.File == "" {
			add("header_files: item %d: file is required", i+1)
		}
	}
	if c.SignatureHeader != "" {
		switch {
		case c.HMACSecretFile == "":
			add("signature_header: only used with hmac_secret_file")
		case !validName(c.SignatureHeader):
			add("signature_header %q: not a valid header name", c.SignatureHeader)
		case reserved[strings.ToLower(c.SignatureHeader)]:
			add("signature_header: %s is set by notifier", c.SignatureHeader)
		}
	}
	if c.Timeout < 0 {
		add("timeout %q: must not be negative", c.Timeout.String())
	}
	return errors.Join(errs...)
}

// credential reports a header name that usually carries a secret.
func credential(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"auth", "token", "key", "secret", "password", "cookie", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Lint warns about a timeout under a second and about a header that
// looks like a credential written into the policy.
func (c *Config) Lint() error {
	var errs []error
	if err := channels.LintTimeout("timeout", c.Timeout); err != nil {
		errs = append(errs, err)
	}
	// A warning, not an error as for Slack and Teams: a receiver inside
	// the network may well speak plain http, but its URL and the header
	// files' tokens then cross it in clear text.
	if err := channels.CheckCleartext("url", c.URL); err != nil {
		errs = append(errs, &channels.Advice{Option: "url", Check: "cleartext", Message: strings.TrimPrefix(err.Error(), "url: ")})
	}
	for _, h := range c.Headers {
		if credential(h.Name) && h.Value != "" {
			errs = append(errs, &channels.Advice{Option: "headers", Check: "inline-secret",
				Message: fmt.Sprintf("%s looks like a credential, written into the policy and every copy of it: give it in header_files (mode 0640)", h.Name)})
		}
	}
	return errors.Join(errs...)
}

// Secrets declares the URL (inline, lint warns, or in url_file), the
// header files, when there are any, and the HMAC key.
func (c *Config) Secrets() []channels.Secret {
	s := []channels.Secret{{Inline: "url", File: "url_file"}}
	if len(c.HeaderFiles) > 0 {
		s = append(s, channels.Secret{File: "header_files"})
	}
	return append(s, channels.Secret{File: "hmac_secret_file"})
}

// Files lists url_file, each header file and hmac_secret_file, each
// checked as New checks what it holds, so lint --check-secrets and a
// run agree on what is usable.
func (c *Config) Files() []channels.File {
	fs := []channels.File{{Option: "url_file", Path: &c.URLFile,
		Check: func(s string) error { return channels.CheckHTTPURL("url", s) }}}
	for i := range c.HeaderFiles {
		name := c.HeaderFiles[i].Name
		fs = append(fs, channels.File{Option: "header_files", Path: &c.HeaderFiles[i].File,
			Check: func(s string) error { return checkValue(name, s) }})
	}
	return append(fs, channels.File{Option: "hmac_secret_file", Path: &c.HMACSecretFile})
}

// Templates lists body: it must render one JSON value, and not blank.
func (c *Config) Templates() []channels.Template {
	return []channels.Template{{Option: "body", Text: &c.Body, Required: true, JSON: true}}
}

// validName reports whether s is an HTTP field name: a token of RFC
// 9110's tchar.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkValue refuses a header value Go's client would refuse, or that
// would split the header: a control character other than a tab (a line
// break in a token file). It never quotes the value.
func checkValue(field, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("%s: the value contains a line break or a control character", field)
		}
	}
	return nil
}

// withDefaults returns c with every empty field given its default.
func (c Config) withDefaults() Config {
	c.Method = strings.ToUpper(c.Method)
	if c.Method == "" {
		c.Method = DefaultMethod
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SignatureHeader == "" {
		c.SignatureHeader = DefaultSignatureHeader
	}
	return c
}
