package channels

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Truncate shortens s to at most n bytes without splitting a UTF-8
// sequence, marking the cut with "…" when there is room for it.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	if cut < 0 {
		cut, n = n, 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if n == 0 {
		return s[:cut]
	}
	return s[:cut] + mark
}

// RedactURL returns u with everything that may carry a secret removed:
// user info, path beyond the first segment, and the query. Slack webhook
// URLs carry their secret in the path, so only scheme and host survive.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "<redacted url>"
	}
	return p.Scheme + "://" + p.Host + "/<redacted>"
}

// Redact replaces every occurrence of each non-empty secret in s. Errors
// from HTTP clients quote the URL they failed on; run them through this
// before they reach a log line.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}

// OneLine collapses every run of white space (newlines, tabs, U+2028...)
// to a single space and trims the ends: a log line or an error that
// quotes a server or an event must not break in two.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// FirstNonEmpty returns the first of values that is not blank, as it is
// (untrimmed), or "" when all are. Blank counts as empty because a
// value of spaces is as useless as none in a "source" or "type" field.
func FirstNonEmpty(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
