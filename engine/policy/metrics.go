package policy

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"notifier/internal/hint"

	"go.yaml.in/yaml/v3"
)

// parseMetrics fills Settings.Metrics from settings.metrics (v is the
// settings mapping). Relative paths are made the policy file's with the
// other settings' paths, after this.
func (l *loader) parseMetrics(sink Sink, v *yaml.Node, spec *MetricsSpec) {
	n := MappingValue(v, "metrics")
	if spec == nil || n.Kind != yaml.MappingNode { // not a mapping: DecodeNode reported it
		return
	}
	m := &l.parsed.Settings.Metrics
	if spec.Listen != "" {
		at := MappingValue(n, "listen")
		if addr, why := metricsListen(spec.Listen); why != "" {
			sink.Errorf(at.Line, at.Column, "metrics", "settings.metrics.listen: %q %s: want host:port, a port, or unix:/path", spec.Listen, why)
		} else {
			m.Listen = addr
		}
	}
	if spec.Textfile != "" {
		if !strings.HasSuffix(spec.Textfile, ".prom") {
			at := MappingValue(n, "textfile")
			sink.Errorf(at.Line, at.Column, "metrics", "settings.metrics.textfile: %q is not a *.prom file: want a file name ending in .prom (node_exporter's textfile collector reads only those)", spec.Textfile)
		}
		m.Textfile = spec.Textfile
	}
}

// metricsListen checks settings.metrics.listen and returns the address
// to listen on: a port alone (9464, :9464) is made loopback's; or why it
// is not an address, to follow the value in the error.
func metricsListen(raw string) (addr, why string) {
	if path, ok := strings.CutPrefix(raw, "unix:"); ok {
		if !strings.HasPrefix(path, "/") || strings.Trim(path, "/") == "" {
			return "", "is not a socket's absolute path"
		}
		return raw, ""
	}
	if strings.Contains(raw, "://") {
		return "", "is a URL, not an address"
	}
	if digits(raw) {
		p, ok := port(raw)
		if !ok {
			return "", "is not a port (1-65535)"
		}
		return "127.0.0.1:" + p, ""
	}
	host, portText, err := net.SplitHostPort(raw)
	if err != nil {
		if !strings.HasPrefix(raw, "[") && strings.Count(raw, ":") > 1 {
			return "", "has an IPv6 address outside brackets (write [::1]:9464)"
		}
		return "", "is not host:port"
	}
	p, ok := port(portText)
	if !ok {
		if portText == "" {
			return "", "has no port"
		}
		return "", "has port " + portText + ", not 1-65535"
	}
	switch {
	case strings.HasPrefix(raw, "["):
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() {
			return "", "has no IPv6 address in its brackets"
		}
		return raw, ""
	case host == "":
		return "127.0.0.1:" + p, "" // never all interfaces unless written
	case !hostnameRE().MatchString(host):
		return "", "has no valid host name or address"
	case digits(strings.ReplaceAll(host, ".", "")):
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is4() {
			return "", "has no valid IPv4 address"
		}
	}
	return raw, ""
}

// digits reports whether s is decimal digits, at least one.
func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// port returns a port number 1-65535 written in decimal, as the decimal
// (leading zeros dropped).
func port(s string) (string, bool) {
	if !digits(s) || len(s) > 5 {
		return "", false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return strconv.Itoa(n), true
}

// hostnameRE matches a host name (RFC 1123 labels, an optional final dot)
// or an IPv4 address.
var hostnameRE = sync.OnceValue(func() *regexp.Regexp {
	label := `[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?`
	return regexp.MustCompile(`^` + label + `(?:\.` + label + `)*\.?$`)
})

// parseSelfAlert fills Settings.SelfAlert from settings.self_alert (v is
// the settings mapping). Its channel names are checked once every file
// is read (checkSelfAlert), as rules' are: they may be defined in
// another file of the policy.
func (l *loader) parseSelfAlert(sink Sink, v *yaml.Node, spec *SelfAlertSpec) {
	n := MappingValue(v, "self_alert")
	if spec == nil || n.Kind != yaml.MappingNode { // null: none; not a mapping: DecodeNode reported it
		return
	}
	sa := &SelfAlertSettings{Notify: spec.Notify, After: DefaultSelfAlertAfter}
	if spec.After != nil {
		sa.After = *spec.After
	}
	l.parsed.Settings.SelfAlert = sa
	if at := MappingValue(n, "after"); spec.After != nil && *spec.After == 0 && at.Kind == yaml.ScalarNode {
		// Only a zero that decoded: the decoder refuses a negative one, and
		// what is no duration at all.
		if d, err := time.ParseDuration(at.Value); err == nil && d == 0 {
			sink.Errorf(at.Line, at.Column, "self-alert", "settings.self_alert.after: must be a duration above 0, like 5m (how long a problem of notifier's own lasts before it is told)")
		}
	}
	at := MappingValue(n, "notify")
	switch {
	case at == n && len(DecodeNode(sink.File, n, &SelfAlertSpec{})) == 0: // a misspelt notify was reported
		sink.Errorf(n.Line, n.Column, "self-alert", "settings.self_alert: notify is missing: name at least one channel to tell when notifier itself fails")
	case at != n && at.Kind == yaml.SequenceNode && len(at.Content) == 0:
		sink.Errorf(at.Line, at.Column, "self-alert", "settings.self_alert.notify: the list is empty: name at least one channel to tell when notifier itself fails")
	}
}

// checkSelfAlert checks that settings.self_alert.notify names channels
// the policy defines, in whichever of its files.
func (l *loader) checkSelfAlert() {
	s := l.parsed.settings
	if s == nil || s.spec.SelfAlert == nil {
		return
	}
	n := MappingValue(MappingValue(s.node, "self_alert"), "notify")
	for i, ch := range s.spec.SelfAlert.Notify {
		if _, ok := l.parsed.Channels[ch]; !ok {
			at := ItemNode(n, i)
			s.sink.Errorf(at.Line, at.Column, "undefined-channel", "settings.self_alert.notify: channel %q is not defined%s", ch, hint.Suggest(ch, MapKeys(l.parsed.Channels)))
		}
	}
}
