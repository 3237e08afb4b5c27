package channels

import (
	"context"
	"errors"
	"testing"
	"time"
)

// scripted answers each Notify with the next error of its script.
type scripted struct{ errs []error }

func (s *scripted) Notify(context.Context, *Message) error {
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

func (s *scripted) Close() error { return nil }

// TestDeliverMaybeAccepted: a permanent answer after a retryable failure
// (a timeout PagerDuty may have acted on) is still permanent, but says
// the channel may hold the message; a permanent answer alone does not.
func TestDeliverMaybeAccepted(t *testing.T) {
	rejected := errors.New("HTTP 400: Event object is invalid")
	timeout := Retryable(errors.New("context deadline exceeded"), 0)
	cases := []struct {
		name    string
		errs    []error
		retry   bool
		unknown bool
	}{
		{"rejected", []error{rejected}, false, false},
		{"timeout, then rejected", []error{timeout, rejected}, false, true},
		{"delivered after a timeout", []error{timeout, nil}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Deliver(context.Background(), &scripted{errs: c.errs}, &Message{}, Backoff{Initial: time.Microsecond, Max: time.Microsecond})
			if retry, _ := IsRetryable(err); retry != c.retry {
				t.Errorf("retryable %v, want %v", retry, c.retry)
			}
			if got := MaybeAccepted(err); got != c.unknown {
				t.Errorf("MaybeAccepted(%v) = %v, want %v", err, got, c.unknown)
			}
			if err != nil && err.Error() != rejected.Error() {
				t.Errorf("error %q, want the server's answer unchanged", err)
			}
		})
	}
	if !MaybeAccepted(timeout) {
		t.Error("a retryable failure may have been accepted")
	}
}
