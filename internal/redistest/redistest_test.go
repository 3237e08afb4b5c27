package redistest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"notifier/internal/redistest"
)

func TestStartAnswersAndStops(t *testing.T) {
	var addr string
	t.Run("running", func(t *testing.T) {
		addr = redistest.Start(t)
		if err := redistest.Ping(addr); err != nil {
			t.Fatalf("started server does not answer: %v", err)
		}
	})
	if addr == "" {
		t.Skip("no server was started")
	}
	if err := redistest.Ping(addr); err == nil {
		t.Fatalf("server on %s still answers after its test ended", addr)
	}
}

func TestStartURL(t *testing.T) {
	u := redistest.StartURL(t)
	if !strings.HasPrefix(u, "redis://127.0.0.1:") || !strings.HasSuffix(u, "/0") {
		t.Fatalf("url = %q", u)
	}
	if err := redistest.Ping(strings.TrimSuffix(strings.TrimPrefix(u, "redis://"), "/0")); err != nil {
		t.Fatal(err)
	}
}

func TestTwoServersAreSeparate(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a == b {
		t.Fatalf("both servers on %s", a)
	}
}

// TestMissingServer runs helperMissing in a child test process whose PATH
// has no redis-server: skipped outside CI, failed under CI=true.
func TestMissingServer(t *testing.T) {
	if os.Getenv("REDISTEST_HELPER") == "1" {
		t.Skip("helper process")
	}
	tests := []struct {
		name     string
		ci       string
		wantFail bool
		wantText string
	}{
		{"outside CI skips", "", false, "--- SKIP: TestHelperMissing"},
		{"under CI fails", "true", true, "--- FAIL: TestHelperMissing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperMissing$", "-test.v")
			// GORACE: a -race child otherwise sleeps a second before exiting.
			cmd.Env = []string{"REDISTEST_HELPER=1", "PATH=" + t.TempDir(), "CI=" + tt.ci, "GORACE=atexit_sleep_ms=0"}
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tt.wantFail {
				t.Fatalf("failed = %v (%v), want %v; output:\n%s", failed, err, tt.wantFail, out)
			}
			if !strings.Contains(string(out), tt.wantText) || !strings.Contains(string(out), "redis-server not found") {
				t.Fatalf("output lacks %q and the reason:\n%s", tt.wantText, out)
			}
		})
	}
}

// TestHelperMissing is run by TestMissingServer in a child process.
func TestHelperMissing(t *testing.T) {
	if os.Getenv("REDISTEST_HELPER") != "1" {
		t.Skip("only run by TestMissingServer")
	}
	redistest.Start(t)
	t.Error("Start returned without a redis-server")
}
