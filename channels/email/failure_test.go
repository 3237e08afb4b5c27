package email

// Failures without a mail server, or with none that answers: each must
// end the delivery, retryable, and hold no secret.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

// A server that is down is retryable.
func TestServerDown(t *testing.T) {
	host, port, _ := net.SplitHostPort(apitest.ClosedAddr(t))
	p, _ := strconv.Atoi(port)
	c := Config{Host: host, Port: p, From: "notifier@example.com", To: []string{"oncall@example.com"},
		Username: testUser, Password: testPassword}
	_, err := newNotifier(t, c).NotifyRef(context.Background(), trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("err = %v (retryable %v), want retryable", err, retry)
	}
	noSecret(t, err, testPassword)
}

// A server that accepts the connection and never greets cannot hold the
// run: the context's deadline ends the session, retryably.
func TestSilentServerBoundedByContext(t *testing.T) {
	a := silentServer(t)
	c := Config{Host: "127.0.0.1", Port: a.Port, TLS: TLSNone, From: "notifier@example.com", To: []string{"oncall@example.com"}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := newNotifier(t, c).NotifyRef(ctx, trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("err = %v (retryable %v), want retryable", err, retry)
	}
}

// A context cancelled (the run told to stop) with no deadline ends a
// session stuck on a silent server at once.
func TestCancelEndsSession(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := silentServer(t, cancel)
	c := Config{Host: "127.0.0.1", Port: a.Port, TLS: TLSNone, From: "notifier@example.com", To: []string{"oncall@example.com"}}
	_, err := newNotifier(t, c).NotifyRef(ctx, trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v (retryable %v), want retryable, saying the context was cancelled", err, retry)
	}
}

// timeout bounds the session by itself, with no deadline on the context.
func TestTimeoutOption(t *testing.T) {
	addr := silentServer(t)
	c := Config{Host: "127.0.0.1", Port: addr.Port, TLS: TLSNone, From: "notifier@example.com",
		To: []string{"oncall@example.com"}, Timeout: 200 * time.Millisecond}
	_, err := newNotifier(t, c).NotifyRef(context.Background(), trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || !retry {
		t.Fatalf("err = %v (retryable %v), want retryable", err, retry)
	}
}

// Should a server quote a secret back, in any form AUTH sent it, the
// error has it redacted, and stays retryable when it was.
func TestFailRedacts(t *testing.T) {
	dir := t.TempDir()
	userFile := filepath.Join(dir, "user")
	os.WriteFile(userFile, []byte("AKIAUSERKEY\n"), 0o600)
	c := valid()
	c.UsernameFile, c.Password = userFile, testPassword
	n := newNotifier(t, c)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00AKIAUSERKEY\x00" + testPassword))
	for _, leak := range []string{testPassword, base64.StdEncoding.EncodeToString([]byte(testPassword)), plain, "AKIAUSERKEY"} {
		err := n.fail(trigger(), channels.Retryable(fmt.Errorf("535 bad credentials %s\nsecond line", leak), 0))
		if strings.Contains(err.Error(), leak) || !strings.Contains(err.Error(), "<redacted>") {
			t.Errorf("not redacted: %v", err)
		}
		if retry, _ := channels.IsRetryable(err); !retry {
			t.Errorf("redacting lost retryability: %v", err)
		}
		noSecret(t, err, testPassword)
	}
}

func TestIPv6Address(t *testing.T) {
	c := valid()
	c.Host = "::1"
	if n := newNotifier(t, c); n.addr != "[::1]:587" {
		t.Errorf("addr = %q", n.addr)
	}
}

// silentServer accepts connections on 127.0.0.1 and never says a word,
// until the test ends; it calls onAccept (if any) for each.
func silentServer(t *testing.T, onAccept ...func()) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held []net.Conn // open and silent until the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
			for _, f := range onAccept {
				f()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr)
}
