package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"notifier/engine/state"
	"strings"
)

// redisGlobEscape quotes the characters SCAN MATCH treats as a pattern:
// ids carry event keys, which may contain any of them.
func redisGlobEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '\\', '*', '?', '[', ']':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// redisQuiet is the go-redis logger: the library would otherwise print
// its own lines to stderr beside the run's one error.
type redisQuiet struct{}

// Printf drops the line.
func (redisQuiet) Printf(context.Context, string, ...any) {}

// redisError is a Store failure: one line that never holds the URL's
// credentials, matching state.ErrUnavailable and the cause (a context error,
// say) under errors.Is.
type redisError struct {
	msg   string
	cause error
}

func (e *redisError) Error() string   { return e.msg }
func (e *redisError) Unwrap() []error { return []error{state.ErrUnavailable, e.cause} }

// withContext adds the context's error to a network error that its
// deadline caused (go-redis turns the deadline into a socket timeout), so
// callers see context.DeadlineExceeded under errors.Is.
func withContext(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}

// unavailable wraps err as a redisError saying what failed.
func (s *Store) unavailable(what string, err error) error {
	var re *redisError
	if errors.As(err, &re) {
		return err
	}
	text := err.Error()
	if clean := s.scrub(text); clean != text {
		err = errors.New(clean) // the cause itself must not carry the secret
	}
	return &redisError{msg: s.scrub("redis: " + what + ": " + text), cause: err}
}

// scrub removes the URL's credentials and line breaks from an error text.
func (s *Store) scrub(text string) string {
	for _, secret := range []string{s.userinfo, s.password} {
		if secret == "" {
			continue
		}
		text = strings.ReplaceAll(text, secret, "xxxxx")
		if un, err := url.PathUnescape(secret); err == nil && un != secret {
			text = strings.ReplaceAll(text, un, "xxxxx")
		}
	}
	return strings.NewReplacer("\r", "", "\n", " ").Replace(text)
}

// redisUserinfo finds the userinfo of a URL and its password the way
// net/url splits them, without parsing the rest: it works on URLs that do
// not parse, whose errors would otherwise quote them.
func redisUserinfo(raw string) (userinfo, password string) {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return "", ""
	}
	userinfo = rest[:at]
	_, password, _ = strings.Cut(userinfo, ":")
	return userinfo, password
}

// redisURLError keeps the reason of a URL parse error and drops the URL
// it quotes (and go-redis's own "redis: ", which the caller adds).
func redisURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return errors.New(strings.TrimPrefix(err.Error(), "redis: "))
}
