package wake

import (
	"bufio"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// serveOnce answers each connection's first line with answer.
func serveOnce(t *testing.T, dir, answer string) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(dir, Socket))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if line, err := bufio.NewReader(c).ReadString('\n'); err == nil && line == "status\n" {
				c.Write([]byte(answer + "\n"))
			}
			c.Close()
		}
	}()
}

func TestStatusReadsTheOneLine(t *testing.T) {
	dir := t.TempDir()
	serveOnce(t, dir, `{"pid":1}`)
	got, err := Status(dir, 5*time.Second)
	if err != nil || got != `{"pid":1}` {
		t.Fatalf("Status = %q, %v; want the engine's line", got, err)
	}
	if err := WaitUp(dir, 5*time.Second, nil); err != nil {
		t.Fatalf("WaitUp with an engine answering: %v", err)
	}
}

func TestWaitUpStopsWhenTheEngineIsGone(t *testing.T) {
	err := WaitUp(t.TempDir(), time.Minute, func() bool { return false })
	if err == nil {
		t.Fatal("WaitUp with no engine and alive() false: nil error")
	}
}
