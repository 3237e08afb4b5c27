package spoolnet

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"notifier/engine/spool"
)

// The socket is made group-writable (0660) as it is bound; a second
// engine may not take the socket of one that is running; a stale one
// (nothing answering) is replaced; and a drop's wake-up reaches the
// engine through it.
func TestListen(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.WriteFile(filepath.Join(dir, spool.WakeSocket), nil, 0o600); err != nil {
		t.Fatal(err) // stale: nothing answers on it
	}
	l, err := Listen(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l, "host/1/engine", func(*spool.Claimed) bool { return true }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	st, err := os.Stat(filepath.Join(dir, spool.WakeSocket))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a 0660 socket", st.Mode())
	}
	if l2, err := Listen(s); err == nil {
		l2.Close()
		t.Fatal("second Listen succeeded")
	}
	// A bogus id is answered "no", through the wrapped connection.
	if r := spool.Wake(dir, "not-an-id", time.Minute); r != spool.WakeDeclined {
		t.Errorf("wake-up: %v, want declined", r)
	}
}
