package main

import (
	"os/exec"
	"testing"
)

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
