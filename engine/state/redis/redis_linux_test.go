package redis_test

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"

	"notifier/engine/state"
	"notifier/engine/state/redis"

	"notifier/internal/apitest"
)

// TestRedisQuietStderr: a failing Redis produces errors, never lines of
// its own on stderr. go-redis's logger holds the stderr file it found at
// start-up, so the test redirects file descriptor 2 itself.
func TestRedisQuietStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(w.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			syscall.Dup3(saved, 2, 0)
			syscall.Close(saved)
			w.Close()
		}
	}
	defer restore()

	s, err := redis.Open("redis://:s3cret@"+apitest.ClosedAddr(t)+"/0", "", "notifier")
	if err != nil {
		restore()
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []error
	for range 3 { // past the pool size, where go-redis starts its redial loop
		errs = append(errs, s.Update(ctx, []string{"w/x"}, func(map[string]*state.Record) error { return nil }))
		_, err := s.View(ctx, []string{"w/x"})
		errs = append(errs, err)
		_, err = s.Scan(ctx, "w/")
		errs = append(errs, err)
	}
	s.Close()
	restore()

	for _, err := range errs {
		if err == nil {
			t.Fatal("an operation on a closed port succeeded")
		}
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 0 {
		t.Fatalf("wrote to stderr:\n%s", out)
	}
}
