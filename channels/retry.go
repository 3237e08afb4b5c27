package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryableError marks a failure that may succeed if tried again later:
// rate limits, server errors, network trouble. After, when non-zero, is
// the server's own Retry-After.
type RetryableError struct {
	After time.Duration
	Err   error
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err as worth retrying, after the given delay (0: use
// the caller's backoff).
func Retryable(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryableError{After: after, Err: err}
}

// MaybeAcceptedError marks a permanent failure that followed a retryable
// one in the same delivery: the earlier attempt (a timeout, a 5xx) may
// have been acted on, so the channel may hold the message after all — a
// PagerDuty alert the recovery must still resolve.
type MaybeAcceptedError struct{ Err error }

func (e *MaybeAcceptedError) Error() string { return e.Err.Error() }
func (e *MaybeAcceptedError) Unwrap() error { return e.Err }

// MaybeAccepted reports whether a failed delivery may still have reached
// the channel: its last attempt failed in a way worth retrying, or an
// earlier one did (MaybeAcceptedError).
func MaybeAccepted(err error) bool {
	var m *MaybeAcceptedError
	retry, _ := IsRetryable(err)
	return err != nil && (retry || errors.As(err, &m))
}

// IsRetryable reports whether err is worth retrying, and after how long
// the server asked us to wait (0 when it did not say).
func IsRetryable(err error) (bool, time.Duration) {
	var r *RetryableError
	if errors.As(err, &r) {
		return true, r.After
	}
	return false, 0
}

// RetryableAs is safe (an error rewritten to hide a secret, which loses
// the chain) retryable when orig was, with orig's Retry-After.
func RetryableAs(orig, safe error) error {
	if retry, after := IsRetryable(orig); retry {
		return Retryable(safe, after)
	}
	return safe
}

// HTTPStatusError builds the error for a non-2xx response: 429 and 5xx
// (and 408) are retryable, honouring Retry-After; everything else is a
// permanent failure carrying the server's own text, which is what tells
// an operator why (PagerDuty's "Invalid routing key", Slack's
// "invalid_payload"). body is truncated; header may be nil.
func HTTPStatusError(status int, header http.Header, body []byte) error {
	text := Truncate(OneLine(string(body)), 512)
	err := fmt.Errorf("HTTP %d %s", status, http.StatusText(status))
	if text != "" {
		err = fmt.Errorf("HTTP %d: %s", status, text)
	}
	if status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500 {
		return Retryable(err, ParseRetryAfter(header.Get("Retry-After"), time.Now()))
	}
	return err
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date. Unparseable or past values give 0.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Backoff is the retry schedule shared by every channel: exponential from
// Initial up to Max, never past the context's deadline.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
}

// DefaultBackoff suits a process that lives for at most tens of seconds.
var DefaultBackoff = Backoff{Initial: 250 * time.Millisecond, Max: 4 * time.Second}

// Deliver sends m through ch, retrying retryable failures with backoff
// (or the server's Retry-After) until ctx ends. It returns the number of
// attempts made and the last error. When a server asks for a wait that
// would end after the deadline, Deliver stops at once rather than sleep
// past it: the failure is then reported as retryable so the caller can
// keep the message for later.
func Deliver(ctx context.Context, ch Channel, m *Message, b Backoff) (int, error) {
	_, n, err := DeliverRef(ctx, ch, m, b)
	return n, err
}

// DeliverRef is Deliver that also returns the channel's reference to the
// message, when the channel is a Referencer.
func DeliverRef(ctx context.Context, ch Channel, m *Message, b Backoff) (string, int, error) {
	delay := b.Initial
	uncertain := false // an earlier attempt failed retryably: it may have been taken
	for attempt := 1; ; attempt++ {
		var ref string
		var err error
		if r, ok := ch.(Referencer); ok {
			ref, err = r.NotifyRef(ctx, m)
		} else {
			err = ch.Notify(ctx, m)
		}
		if err == nil {
			return ref, attempt, nil
		}
		retry, after := IsRetryable(err)
		if !retry {
			if uncertain {
				err = &MaybeAcceptedError{Err: err}
			}
			return "", attempt, err
		}
		uncertain = true
		wait := delay
		if after > 0 {
			wait = after
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return "", attempt, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", attempt, err
		case <-t.C:
		}
		delay = min(delay*2, b.Max)
	}
}
