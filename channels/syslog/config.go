package syslog

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"notifier/channels"
)

// Defaults applied by New to fields left empty.
const (
	DefaultFacility = "daemon"
	DefaultTag      = "notifier"
	DefaultTimeout  = 5 * time.Second
)

// maxAppName is the RFC 5424 APP-NAME limit (section 6.2.5); the tag is
// the APP-NAME on the wire and the TAG of the local (RFC 3164) format.
const maxAppName = 48

// Default ports when an address omits one: the IANA assignments for
// syslog over UDP (RFC 5426), TCP (RFC 6587) and TLS (RFC 5425).
var defaultPorts = map[string]string{"udp": "514", "tcp": "601", "tls": "6514"}

// facilities maps the names syslog.conf and rsyslog use to facility
// codes (RFC 5424 table 1). Codes 12-15 have no agreed name and are left
// out on purpose: a name that means different things to different
// daemons is a trap in a config file.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Config is one syslog channel as written in the policy file.
type Config struct {
	// Address is where messages go: "" is the local daemon through
	// log/syslog (/dev/log and friends); "unix:///path" a unix datagram
	// socket read by a local daemon; "udp://host[:514]",
	// "tcp://host[:601]" and "tls://host[:6514]" a remote collector
	// speaking RFC 5424.
	Address string `yaml:"address"`
	// Facility is a facility name, kern..local7; default "daemon".
	Facility string `yaml:"facility"`
	// Tag is the APP-NAME (the program name in the local format);
	// default "notifier".
	Tag string `yaml:"tag"`
	// CAFile adds PEM roots to the system pool for tls:// addresses.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds dial plus write of one message; default 5s. The
	// run's own deadline still applies when it is shorter.
	Timeout time.Duration `yaml:"timeout"`
	// Message is a template of the line's human text, the value of
	// summary=; it must not render blank. "" keeps the summary.
	Message string `yaml:"message"`
	// Fields are templates of NAME=value pairs added to the line before
	// summary= (env, team, runbook ...), for collectors that extract
	// key=value; one that renders blank is left out. They cannot
	// replace the line's own pairs (builtInKeys), which correlate a
	// resolve with its trigger.
	Fields map[string]string `yaml:"fields"`
}

// The template options read back from Message.Parts.
const (
	messageOption = "message"
	fieldsOption  = "fields"
)

// builtInKeys are the keys FormatLine writes itself: no field may take
// one of them, or a collector would find the key twice.
var builtInKeys = map[string]bool{
	"severity": true, "action": true, "key": true, "source": true, "cluster": true, "cluster_id": true,
	"node": true, "type": true, "count": true, "suppressed": true, "rule": true, "summary": true, "truncated": true,
}

// maxFieldName bounds a field's name: a key in a line of key=value pairs,
// short like the line's own.
const maxFieldName = 32

// checkFieldName accepts a name that needs no quoting as a key
// (letters, digits, '_' and '-') and is not one of the line's own.
func checkFieldName(name string) error {
	if name == "" || len(name) > maxFieldName {
		return fmt.Errorf("syslog: fields: name %q must be 1 to %d characters", name, maxFieldName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("syslog: fields.%s: a name is letters, digits, '_' and '-' only", name)
		}
	}
	if builtInKeys[name] {
		return fmt.Errorf("syslog: fields.%s: the line's own key: correlation relies on it", name)
	}
	return nil
}

// endpoint is a parsed Address.
type endpoint struct {
	scheme string // "" (local), unix, udp, tcp, tls
	path   string // unix
	host   string // udp, tcp, tls: host without brackets, for ServerName
	addr   string // udp, tcp, tls: host:port for the dialer
}

// Validate reports every problem at once, each naming the field; empty
// fields are valid (New gives them their defaults). It changes nothing
// and touches no file.
func (c *Config) Validate() error {
	var errs []error
	ep, err := parseAddress(c.Address)
	if err != nil {
		errs = append(errs, err)
	}
	if c.Facility != "" {
		if _, err := facilityCode(c.Facility); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Tag != "" {
		if err := checkTag(c.Tag); err != nil {
			errs = append(errs, err)
		}
	}
	// With an address that does not parse, its scheme is unknown.
	if c.CAFile != "" && err == nil && ep.scheme != "tls" {
		errs = append(errs, fmt.Errorf("syslog: ca_file is only used with tls:// addresses, not %q", c.Address))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("syslog: timeout %s is negative", c.Timeout))
	}
	names := make([]string, 0, len(c.Fields))
	for n := range c.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := checkFieldName(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every empty field given its default.
func (c Config) withDefaults() Config {
	if c.Facility == "" {
		c.Facility = DefaultFacility
	}
	if c.Tag == "" {
		c.Tag = DefaultTag
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Lint warns about a timeout under a second.
func (c *Config) Lint() error { return channels.LintTimeout("timeout", c.Timeout) }

// Secrets declares none: a syslog channel takes no secret.
func (c *Config) Secrets() []channels.Secret { return nil }

// Files lists ca_file, checked as New reads it, so lint --check-secrets
// and a run agree.
func (c *Config) Files() []channels.File {
	return []channels.File{{Option: "ca_file", Path: &c.CAFile,
		Check: channels.CheckCA}}
}

func facilityCode(name string) (int, error) {
	if code, ok := facilities[name]; ok {
		return code, nil
	}
	names := make([]string, 0, len(facilities))
	for n := range facilities {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return facilities[names[i]] < facilities[names[j]] })
	return 0, fmt.Errorf("syslog: facility %q is not one of %s", name, strings.Join(names, ", "))
}

// checkTag enforces RFC 5424 APP-NAME (1*48 PRINTUSASCII) and, because
// the same tag heads the local format "TAG[PID]: MSG", rejects the three
// characters that end a tag there: rsyslog would cut "db:notifier" at
// the colon and file the line under the wrong program.
func checkTag(tag string) error {
	if len(tag) > maxAppName {
		return fmt.Errorf("syslog: tag %q is longer than %d characters", tag, maxAppName)
	}
	for i := 0; i < len(tag); i++ {
		b := tag[i]
		if b < 33 || b > 126 {
			return fmt.Errorf("syslog: tag %q has a character that is not printable ASCII (space and non-ASCII are not allowed)", tag)
		}
		if b == ':' || b == '[' || b == ']' {
			return fmt.Errorf("syslog: tag %q must not contain %q", tag, string(b))
		}
	}
	return nil
}

func parseAddress(s string) (endpoint, error) {
	if s == "" {
		return endpoint{}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the whole address
		}
		return endpoint{}, fmt.Errorf("syslog: address %q: %w", s, err)
	}
	if u.Scheme == "" {
		return endpoint{}, fmt.Errorf("syslog: address %q is not unix:///path, udp://host:port, tcp://host:port or tls://host:port", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("syslog: address %q must not carry user info, a query or a fragment", s)
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return endpoint{}, fmt.Errorf("syslog: address %q: a unix socket needs an absolute path, as in unix:///dev/log", s)
		}
		return endpoint{scheme: "unix", path: u.Path}, nil
	case "udp", "tcp", "tls":
	default:
		return endpoint{}, fmt.Errorf("syslog: address %q: scheme %q is not unix, udp, tcp or tls", s, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return endpoint{}, fmt.Errorf("syslog: address %q must not have a path", s)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return endpoint{}, fmt.Errorf("syslog: address %q has no host", s)
	}
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return endpoint{}, fmt.Errorf("syslog: address %q has an empty port", s)
		}
		port = defaultPorts[u.Scheme]
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return endpoint{}, fmt.Errorf("syslog: address %q: port %q is not 1-65535", s, port)
	}
	return endpoint{scheme: u.Scheme, host: host, addr: net.JoinHostPort(host, port)}, nil
}

// Templates lists message and each field by name. A field's Text
// points at a copy: a map's values cannot be pointed at.
func (c *Config) Templates() []channels.Template {
	return channels.MapTemplates([]channels.Template{{Option: messageOption, Text: &c.Message, Required: true}}, fieldsOption, c.Fields)
}
