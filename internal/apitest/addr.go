package apitest

import (
	"fmt"
	"net"
	"testing"
)

// FreePort asks the kernel for a TCP port of 127.0.0.1 that is free right
// now, for a server a test starts in a process of its own (redis-server,
// rsyslogd).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ClosedAddr is a 127.0.0.1 address nothing listens on (a port the kernel
// just gave back): connecting to it is refused at once.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// loopback listens on a free port of 127.0.0.1 for the fake named what.
// It panics when no port can be had, as httptest.NewServer does: a test
// cannot go on without its server.
func loopback(what string) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("apitest: %s: listen: %v", what, err))
	}
	return ln
}
