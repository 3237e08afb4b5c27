package drop

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRejectedStats(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rejected")
	if n, newest, err := RejectedStats(dir); n != 0 || !newest.IsZero() || err != nil {
		t.Fatalf("missing dir: %d %v %v", n, newest, err)
	}
	before := time.Now().UTC().Truncate(time.Microsecond)
	for range 3 {
		if _, err := KeepRejected(dir, "input", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	n, newest, err := RejectedStats(dir)
	if err != nil || n != 3 || newest.Before(before) || newest.After(time.Now()) {
		t.Fatalf("%d, %v (%v), want 3 and about now", n, newest, err)
	}
}
