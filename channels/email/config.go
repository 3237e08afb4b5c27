package email

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"notifier/channels"
)

// TLS modes: how the connection to the SMTP server is protected.
const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS
	// before anything else is said; a server that does not offer it is
	// refused, never silently used in plain text (RFC 3207).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (RFC 8314, "submissions").
	TLSImplicit = "implicit"
	// TLSNone sends in plain text: for a relay on the same host or
	// network only. Lint warns; AUTH is refused with it.
	TLSNone = "none"
)

// Defaults applied by New when the config leaves them out.
const (
	// DefaultTLS is the TLS mode when tls is not given.
	DefaultTLS = TLSStartTLS
	// DefaultTimeout bounds one delivery: connect, greeting, TLS, AUTH
	// and the message. SMTP servers may delay their greeting on
	// purpose, hence more than the HTTP channels' 10s; the run's
	// deadline still bounds it.
	DefaultTimeout = 30 * time.Second
)

// defaultPorts are the IANA ports of each TLS mode: submission with
// STARTTLS (587), submissions (465, RFC 8314) and plain SMTP (25).
var defaultPorts = map[string]int{TLSStartTLS: 587, TLSImplicit: 465, TLSNone: 25}

// Config is one email channel as written in the policy file.
type Config struct {
	// Host is the SMTP server's name or IP address, without a port.
	Host string `yaml:"host"`
	// Port is the SMTP server's port; 0 means the TLS mode's default.
	Port int `yaml:"port"`
	// TLS is starttls (default), implicit or none.
	TLS string `yaml:"tls"`
	// CAFile adds PEM roots to the system pool: a private CA.
	CAFile string `yaml:"ca_file"`
	// Username is the SMTP AUTH user, inline (not a secret on its own).
	Username string `yaml:"username"`
	// UsernameFile is a file holding the SMTP AUTH user, for servers
	// whose user is itself a key.
	UsernameFile string `yaml:"username_file"`
	// Password is the SMTP AUTH password inline: lint warns.
	Password string `yaml:"password"`
	// PasswordFile is a file holding the SMTP AUTH password.
	PasswordFile string `yaml:"password_file"`
	// From is the sender, "notifier@example.com" or
	// "Notifier <notifier@example.com>"; also the envelope sender.
	From string `yaml:"from"`
	// To and Cc are the recipients: one message goes to all of them.
	To []string `yaml:"to"`
	Cc []string `yaml:"cc"`
	// Subject and Body are templates ("" for the built-in texts).
	Subject string `yaml:"subject"`
	Body    string `yaml:"body"`
	// Timeout bounds one delivery; 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// HELO is the name given in EHLO; default the host name.
	HELO string `yaml:"helo"`
}

// Validate reports every problem at once, each naming its option
// first, without touching the file system. No error holds the password.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := checkHost(c.Host); err != nil {
		errs = append(errs, err)
	}
	if c.Port < 0 || c.Port > 65535 {
		add("port: %d is not 1-65535", c.Port)
	}
	if c.TLS != "" && defaultPorts[c.TLS] == 0 {
		add("tls: %q is not starttls, implicit or none", c.TLS)
	}
	if c.TLS == TLSNone && c.CAFile != "" {
		add("ca_file: only used with tls starttls or implicit, not none")
	}
	if c.Username != "" && c.UsernameFile != "" {
		add("username and username_file are both set: keep one")
	}
	if c.Password != "" && c.PasswordFile != "" {
		add("password and password_file are both set: keep only password_file")
	}
	user := c.Username != "" || c.UsernameFile != ""
	pass := c.Password != "" || c.PasswordFile != ""
	switch {
	case user && !pass:
		add("password_file: required with username (SMTP AUTH)")
	case pass && !user:
		add("username: required with password_file (SMTP AUTH)")
	}
	if (user || pass) && c.TLS == TLSNone {
		add("tls: none would send the SMTP AUTH password in plain text: use starttls or implicit")
	}
	if c.Username != "" {
		if err := checkCredential("username", c.Username); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Password != "" {
		if err := checkCredential("password", c.Password); err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(c.From) == "" {
		add("from: required (the sender address)")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		add("from: %q is not an email address", c.From)
	}
	if len(c.To) == 0 {
		add("to: required (a list of recipient addresses)")
	}
	errs = append(errs, checkAddresses("to", c.To)...)
	errs = append(errs, checkAddresses("cc", c.Cc)...)
	if c.Timeout < 0 {
		add("timeout: must not be negative, got %s", c.Timeout)
	}
	if c.HELO != "" && strings.IndexFunc(c.HELO, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r > unicode.MaxASCII }) >= 0 {
		add("helo: %q is not a host name", c.HELO)
	}
	return errors.Join(errs...)
}

// checkHost refuses a host the dialer would misread: empty, with a port
// (there is an option for it), a URL, or white space.
func checkHost(host string) error {
	switch {
	case strings.TrimSpace(host) == "":
		return errors.New("host: required (the SMTP server)")
	case net.ParseIP(host) != nil:
		return nil
	case strings.Contains(host, "://"):
		return fmt.Errorf("host: %q is a URL: give the host name only (and port, tls)", host)
	case strings.ContainsAny(host, ":[]"):
		return fmt.Errorf("host: %q: give the host name or address only, the port in port", host)
	case strings.IndexFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' || r == '@' }) >= 0:
		return fmt.Errorf("host: %q is not a host name", host)
	}
	return nil
}

// checkAddresses reports every entry of a recipient list that is not
// one address ("a@x, b@x" in one entry is two: each gets its own).
func checkAddresses(option string, list []string) []error {
	var errs []error
	for i, a := range list {
		if _, err := mail.ParseAddress(a); err != nil {
			errs = append(errs, fmt.Errorf("%s: entry %d, %q, is not one email address", option, i+1, a))
		}
	}
	return errs
}

// checkCredential refuses a user name or password SMTP AUTH cannot
// carry: a line break or other control character (a file of two lines,
// surely not the credential). It never quotes the value. Spaces are
// allowed: passwords have them.
func checkCredential(field, value string) error {
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return fmt.Errorf("%s: contains a line break or control character", field)
	}
	return nil
}

// Lint warns about plain text (tls: none) and a timeout under a second.
func (c *Config) Lint() error {
	var errs []error
	if c.TLS == TLSNone {
		errs = append(errs, &channels.Advice{Option: "tls", Check: "plaintext",
			Message: "none sends every message in plain text: only for a relay on this host or a trusted network"})
	}
	if err := channels.LintTimeout("timeout", c.Timeout); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Secrets declares the password (inline: lint warns) and the user name
// file, kept as a secret because some services' user is a key.
func (c *Config) Secrets() []channels.Secret {
	return []channels.Secret{{File: "username_file"}, {Inline: "password", File: "password_file"}}
}

// Files lists ca_file, username_file and password_file, each checked as
// New reads it, so lint --check-secrets and a run agree.
func (c *Config) Files() []channels.File {
	return []channels.File{
		{Option: "ca_file", Path: &c.CAFile,
			Check: channels.CheckCA},
		{Option: "username_file", Path: &c.UsernameFile,
			Check: func(user string) error { return checkCredential("username", user) }},
		{Option: "password_file", Path: &c.PasswordFile,
			Check: func(pw string) error { return checkCredential("password", pw) }},
	}
}

// Templates lists the subject and the body: both must not render blank.
func (c *Config) Templates() []channels.Template {
	return []channels.Template{
		{Option: "subject", Text: &c.Subject, Required: true},
		{Option: "body", Text: &c.Body, Required: true},
	}
}

// withDefaults returns c with every empty field given its default.
func (c Config) withDefaults() Config {
	if c.TLS == "" {
		c.TLS = DefaultTLS
	}
	if c.Port == 0 {
		c.Port = defaultPorts[c.TLS]
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}
