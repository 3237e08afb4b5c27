// Package wake speaks the engine's wake socket (issue 11: a line
// "status" asks the engine for one line of JSON about itself) without
// importing engine/spool, so the benchmarks can wait for an engine and
// read its status whatever the engine's code links.
package wake

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Socket is the wake socket's name in a spool directory.
const Socket = "wake.sock"

// Status asks the engine listening in spool for its status and returns
// the line it answered, within bound.
func Status(spool string, bound time.Duration) (string, error) {
	c, err := net.DialTimeout("unix", filepath.Join(spool, Socket), bound)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(bound))
	if _, err := c.Write([]byte("status\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the engine's answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// WaitUp returns once the engine in spool answers a status request, or
// an error after bound; alive, when it returns false, ends the wait
// early (the engine exited).
func WaitUp(spool string, bound time.Duration, alive func() bool) error {
	deadline := time.Now().Add(bound)
	for {
		_, err := Status(spool, time.Second)
		if err == nil {
			return nil
		}
		if alive != nil && !alive() {
			return fmt.Errorf("the engine exited before it answered on %s", filepath.Join(spool, Socket))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no engine answered on %s within %s: %w", filepath.Join(spool, Socket), bound, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
