package syslog

import (
	"strconv"
	"strings"
	"time"

	"notifier/channels"
	"notifier/internal/keys"
)

// Syslog severities (RFC 5424 table 2) that messages are sent at.
const (
	sevCrit    = 2
	sevWarning = 4
	sevNotice  = 5
	sevInfo    = 6
)

// Size bounds of one whole message, header included, per transport.
const (
	// maxDatagram: RFC 5426 section 3.2 (syslog over UDP): receivers
	// MUST accept 480-byte datagrams and SHOULD accept 2048; larger ones
	// may be cut or dropped. https://www.rfc-editor.org/rfc/rfc5426#section-3.2
	maxDatagram = 2048
	// maxStream: RFC 5425 section 4.3.1 (syslog over TLS, whose framing
	// RFC 6587 uses for plain TCP too): receivers SHOULD process
	// messages up to 8192 octets; rsyslog's default maxMessageSize is 8k.
	// https://www.rfc-editor.org/rfc/rfc5425#section-4.3.1
	maxStream = 8192
	// maxLocal: the local daemon's socket (/dev/log) takes one datagram
	// per message, bounded on Linux by the socket send buffer (over
	// 200 KB), but rsyslog's imuxsock cuts at maxMessageSize, 8k by
	// default (https://www.rsyslog.com/doc/configuration/global/index.html,
	// $MaxMessageSize), and journald's syslog socket stores what it
	// gets. 8192 is the smallest of them.
	maxLocal = 8192
	// maxLocalHeader bounds what log/syslog puts before the line:
	// "<PRI>Mmm dd hh:mm:ss TAG[PID]: " with a 48-byte tag.
	maxLocalHeader = 96
	// maxLine bounds the line itself on every transport: an alarm line
	// has no business being longer.
	maxLine = 4096
	// maxFieldLen bounds each field but the summary once a line is too
	// long, so that a 100 KB node name or key cannot push the summary
	// out; the key keeps its hashed form (keys.Bound).
	maxFieldLen = 128
)

// RFC 5424 section 6 header field limits.
const (
	maxHostname = 255
	maxProcID   = 128
	maxMsgID    = 32
)

// rfc5424Time is RFC 3339 with the microseconds RFC 5424 allows
// (TIME-SECFRAC is at most 6 digits).
const rfc5424Time = "2006-01-02T15:04:05.000000Z07:00"

// severityCode maps the message severity to a syslog severity. A resolve
// keeps the severity of the problem it clears (the line says
// action=resolve): a filter or a grep on "crit" then shows both the
// opening and the closing line of an incident, instead of the close
// landing in a bucket nobody watches. An unknown severity, which the
// engine never produces, goes out as notice rather than being dropped.
func severityCode(s string) int {
	switch s {
	case channels.SeverityCritical:
		return sevCrit
	case channels.SeverityWarning:
		return sevWarning
	case channels.SeverityInfo:
		return sevInfo
	}
	return sevNotice
}

// FormatLine renders m as one line of key=value pairs in a fixed order:
// severity, action, key, source, cluster, cluster_id, node, type, count,
// suppressed, rule, the policy's fields (by name), summary. Action is
// m.Action as it is: trigger, message (channels.Inform) or resolve.
// Severity, action, key and summary are always present; the rest only
// when set (cluster_id, count and suppressed when non-zero). Values that
// are empty or hold anything but printable ASCII other than '"', '='
// and '\' are quoted with Go's escaping; whitespace runs, newlines
// included, collapse to one space first, so the line never breaks.
//
// summary is m.Summary, or the message part (the policy's template,
// rendered) when there is one; the fields.NAME parts add NAME=value
// pairs (blank: left out). The pairs the line is correlated by stay
// notifier's own: a template cannot change them (Config.Validate refuses
// a field of their names).
func FormatLine(m *channels.Message) string {
	return formatLine(m, lineSummary(m), extraFields(m))
}

// lineSummary is the text of summary=: the message part, unless it is
// missing or blank.
func lineSummary(m *channels.Message) string {
	if s, ok := m.Part(messageOption); ok && strings.TrimSpace(s) != "" {
		return s
	}
	return m.Summary
}

// extraFields are the fields.NAME parts, by name.
func extraFields(m *channels.Message) []channels.Part {
	return m.PartsUnder(fieldsOption)
}

func formatLine(m *channels.Message, summary string, extra []channels.Part) string {
	var b strings.Builder
	pair := func(k, v string, always bool) {
		v = channels.OneLine(v)
		if v == "" && !always {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(quote(v))
	}
	num := func(k string, v int) {
		if v != 0 {
			pair(k, strconv.Itoa(v), true)
		}
	}
	pair("severity", m.Severity, true)
	pair("action", string(m.Action), true)
	pair("key", m.Key, true)
	pair("source", m.Source, false)
	pair("cluster", m.Cluster, false)
	num("cluster_id", m.ClusterID)
	pair("node", m.Node, false)
	pair("type", m.EventType, false)
	num("count", m.Count)
	num("suppressed", m.Suppressed)
	pair("rule", m.Rule, false)
	for _, f := range extra {
		// Validate refuses such names in the config; a part is checked
		// again, as a name is written unquoted.
		if checkFieldName(f.Name) == nil {
			pair(f.Name, f.Value, false)
		}
	}
	pair("summary", summary, true)
	return b.String()
}

// fitLine is FormatLine bounded to max bytes, cutting the least useful
// first: when the line is too long, every field but the summary (the
// policy's fields too) is bounded to maxFieldLen (the key in its hashed form, so that the
// resolve still names the key the trigger did), then the summary, which
// comes last, is shortened to what is left, and "truncated=true" ends
// the line to say so. Only when even that does not fit is the line
// itself cut.
func fitLine(m *channels.Message, max int) string {
	summary := channels.OneLine(lineSummary(m))
	extra := extraFields(m)
	line := formatLine(m, summary, extra)
	if len(line) <= max {
		return line
	}
	b := *m
	b.Key = keys.Bound(channels.OneLine(m.Key), maxFieldLen)
	for _, f := range []*string{&b.Severity, &b.Source, &b.Cluster, &b.Node, &b.EventType, &b.Rule} {
		*f = channels.Truncate(channels.OneLine(*f), maxFieldLen)
	}
	for i := range extra {
		extra[i].Value = channels.Truncate(channels.OneLine(extra[i].Value), maxFieldLen)
	}
	const mark = " truncated=true"
	// Escapes make the quoted length a poor guide to the raw cut, so
	// search for the longest summary prefix that fits: a dozen passes
	// over a line of a few kilobytes, once per message.
	lo, hi := 0, len(summary) // formatLine with Truncate(summary, lo) fits, or lo is 0
	best := formatLine(&b, "", extra) + mark
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l := formatLine(&b, channels.Truncate(summary, mid), extra) + mark; len(l) <= max {
			lo, best = mid, l
		} else {
			hi = mid - 1
		}
	}
	return channels.Truncate(best, max)
}

func quote(v string) string {
	if v == "" {
		return `""`
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' || c == '"' || c == '=' || c == '\\' {
			return strconv.Quote(v)
		}
	}
	return v
}

// FormatRFC5424 renders one RFC 5424 message without framing:
// "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG". Empty fields,
// a zero time and a pid <= 0 become the NILVALUE "-"; header fields are
// cut to their RFC limits and characters outside printable ASCII become
// '_'. MSG is sent without a BOM (RFC 5424 section 6.4 allows that; it is
// then "any encoding", which collectors treat as UTF-8 anyway) and is
// omitted, with its space, when empty.
func FormatRFC5424(pri int, ts time.Time, host, app string, pid int, msgID, msg string) string {
	stamp := "-"
	if !ts.IsZero() {
		stamp = ts.Format(rfc5424Time)
	}
	procID := ""
	if pid > 0 {
		procID = strconv.Itoa(pid)
	}
	var b strings.Builder
	b.Grow(64 + len(host) + len(app) + len(msgID) + len(msg))
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(pri))
	b.WriteString(">1 ")
	b.WriteString(stamp)
	for _, f := range [...]struct {
		v   string
		max int
	}{{host, maxHostname}, {app, maxAppName}, {procID, maxProcID}, {msgID, maxMsgID}} {
		b.WriteByte(' ')
		b.WriteString(headerField(f.v, f.max))
	}
	b.WriteString(" -") // no STRUCTURED-DATA
	if msg != "" {
		b.WriteByte(' ')
		b.WriteString(msg)
	}
	return b.String()
}

// headerField applies the NILVALUE and PRINTUSASCII rules to one header
// field.
func headerField(v string, max int) string {
	if v == "" {
		return "-"
	}
	out := []byte(v)
	for i, c := range out {
		if c < 33 || c > 126 {
			out[i] = '_'
		}
	}
	if len(out) > max {
		out = out[:max]
	}
	return string(out)
}
