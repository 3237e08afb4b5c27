// Package redistest starts a real redis-server for tests: the shared
// state store is tested against the server it runs against in
// production, not a fake that speaks part of the protocol.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/internal/apitest"
)

const (
	// startAttempts bounds how often a free port is picked again: the port
	// is found by listening on :0 and closing, so another process may take
	// it before redis-server binds it.
	startAttempts = 3
	// pingTries bounds the wait for a started server to answer PING; with
	// the backoff below that is a few seconds at most.
	pingTries = 60
	// pingBackoffMax caps the pause between two PINGs.
	pingBackoffMax = 100 * time.Millisecond
)

// Start runs redis-server on 127.0.0.1 on a free port with no persistence,
// in its own temporary directory, waits until it answers PING, and stops it
// when the test ends. It returns the server's host:port.
//
// Without redis-server on PATH the test is skipped — unless CI=true, where
// a missing server is a broken CI image and fails the test.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: redis-server not found on PATH (CI=true, so this is a failure): %v", err)
		}
		// One fixed reason: make test's summary counts the Redis tests under it.
		t.Skip("redistest: redis-server not found on PATH (apt-get install redis-server runs the Redis tests)")
	}
	dir := t.TempDir()
	var last error
	for range startAttempts {
		addr, err := start(t, bin, dir)
		if err == nil {
			return addr
		}
		last = err
	}
	t.Fatalf("redistest: %v", last)
	return ""
}

// StartURL is Start returning a URL for database 0, as settings carry it.
func StartURL(t testing.TB) string {
	t.Helper()
	return "redis://" + Start(t) + "/0"
}

// start makes one attempt; it registers the cleanup only for a server that
// answered, and stops one that did not.
func start(t testing.TB, bin, dir string) (string, error) {
	port, err := apitest.FreePort()
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile := filepath.Join(dir, "redis-"+strconv.Itoa(port)+".log")
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", dir,
		"--logfile", logFile,
	)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	if err := waitReady(addr, exited); err != nil {
		select {
		case <-exited:
			err = fmt.Errorf("%w (%v)", err, waitErr)
		default:
		}
		stop()
		return "", fmt.Errorf("redis-server on %s: %w; log: %s", addr, err, tail(logFile))
	}
	t.Cleanup(stop)
	return addr, nil
}

// waitReady sends real PINGs until one is answered with PONG, the server
// exits, or pingTries is used up.
func waitReady(addr string, exited <-chan struct{}) error {
	backoff := 2 * time.Millisecond
	var last error
	for range pingTries {
		if last = Ping(addr); last == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before answering PING")
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, pingBackoffMax)
	}
	return fmt.Errorf("no answer to PING after %d tries: %w", pingTries, last)
}

// Ping sends one PING over a new connection and expects +PONG. Tests use
// it to tell whether a server is (still) up.
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// tail returns the end of the server's log for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return strings.TrimSpace(string(b))
}
