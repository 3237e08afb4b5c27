package channels

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
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

// Shed chooses what to leave out of entries so that a request over a
// service's size limit by excess bytes fits: the largest entries first
// (the one huge field rather than ten useful ones; ties by name, so the
// choice is the same on every retry), until the costs of those chosen
// add up to excess. cost is what one entry adds to the request, as the
// caller encodes it. Every entry is returned when they cannot cover
// excess together; none when excess <= 0.
func Shed(entries map[string]string, excess int, cost func(k, v string) int) []string {
	if excess <= 0 {
		return nil
	}
	type entry struct {
		key  string
		cost int
	}
	all := make([]entry, 0, len(entries))
	for k, v := range entries {
		all = append(all, entry{k, cost(k, v)})
	}
	slices.SortFunc(all, func(a, b entry) int {
		if c := cmp.Compare(b.cost, a.cost); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	var drop []string
	for _, e := range all {
		if excess <= 0 {
			break
		}
		drop = append(drop, e.key)
		excess -= e.cost
	}
	return drop
}

// OmittedNote is what a payload says when Shed left something out, so
// that whoever reads it knows the picture is incomplete and why:
// "37 of 412 fields left out (largest first) to fit PagerDuty's 512 KB
// event limit".
func OmittedNote(omitted, total int, what, limit string) string {
	return fmt.Sprintf("%d of %d %s left out (largest first) to fit %s", omitted, total, what, limit)
}

// SecretForms lists the ways a URL that holds a secret (a webhook with
// its token in the path or a signature in the query) can be spelled in
// an error or echoed back by a server, longest first so that the whole
// URL is replaced where it shows whole: as configured, as net/url writes
// it again, its path (escaped and not) and each long segment of it (a
// token), its query, each query value (raw and escaped), and the user
// information. Redact skips the forms too short to be a secret.
func SecretForms(rawURL string) []string {
	forms := []string{rawURL}
	u, err := url.Parse(rawURL)
	if err == nil {
		forms = append(forms, u.String(), u.EscapedPath(), u.Path, u.RawQuery)
		for _, seg := range strings.Split(u.Path, "/") {
			if len(seg) >= 8 { // a token, or a word too long to matter
				forms = append(forms, seg)
			}
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				forms = append(forms, v, url.QueryEscape(v))
			}
		}
		if u.User != nil {
			forms = append(forms, u.User.String(), u.User.Username())
			if p, ok := u.User.Password(); ok {
				forms = append(forms, p)
			}
		}
	}
	slices.SortStableFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return slices.Compact(forms)
}

// SafeError is the error a channel returns about a failure: msg with
// every form of its secrets removed, unwrapping to cause (so that
// errors.As still finds a library's error) only when cause's own text
// holds none of them, since a caller may print what it unwraps to.
func SafeError(msg string, cause error, secrets []string) error {
	if cause != nil && Redact(cause.Error(), secrets...) != cause.Error() {
		cause = nil
	}
	return &safeError{msg: Redact(msg, secrets...), cause: cause}
}

type safeError struct {
	msg   string
	cause error
}

func (e *safeError) Error() string { return e.msg }
func (e *safeError) Unwrap() error { return e.cause }

// MarshalJSON is v as compact JSON with <, > and & as they are (a
// receiver shows text, not HTML, and \u003c costs six bytes), without
// json.Encoder's trailing newline; invalid UTF-8 becomes U+FFFD.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
