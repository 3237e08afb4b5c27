package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSpoolDepthCountsQueuedAndBad(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"new/a", "new/b", "claimed/c.owner", "bad/d", "bad/d.reason", "tmp/e"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if queued, bad := spoolDepth(dir); queued != 3 || bad != 2 {
		t.Fatalf("spoolDepth = %d queued, %d bad; want 3, 2 (tmp/ not counted)", queued, bad)
	}
}

func TestEngineMemoryAndCPUReadProc(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep:", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	e := &engine{cmd: cmd}
	rss, hwm, err := e.memory()
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("memory = %d, %d, %v; want VmRSS > 0 and VmHWM >= VmRSS", rss, hwm, err)
	}
	if cpu := e.cpu(); cpu < 0 {
		t.Fatalf("cpu = %v", cpu)
	}
}
