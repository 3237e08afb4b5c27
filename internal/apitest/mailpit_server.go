package apitest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bounds of waiting for mailpit; each wait ends as soon as the condition
// holds, these only stop a wait that would otherwise last forever.
const (
	mailpitStartAttempts = 3   // a free port may be taken before mailpit binds it
	mailpitReadyTries    = 600 // polls, about 30s: a loaded CI machine is slow
	mailpitPollMax       = 50 * time.Millisecond
)

// The TLS modes of MailpitOptions.TLS.
const (
	MailpitPlain    = ""         // no TLS at all
	MailpitSTARTTLS = "starttls" // STARTTLS offered and required: MAIL on a plain connection gets 530
	MailpitImplicit = "implicit" // TLS from the first byte (SMTPS)
)

// MailpitOptions say how a Mailpit is started.
type MailpitOptions struct {
	// TLS is MailpitPlain, MailpitSTARTTLS or MailpitImplicit. With TLS
	// the server presents a certificate of its own for 127.0.0.1 and
	// localhost, trusted through CAFile.
	TLS string
	// Auth, "user:password", requires SMTP AUTH (which mailpit only
	// offers over TLS).
	Auth string
	// Chaos is mailpit's --chaos-triggers, "Recipient:451:100": failures
	// at an SMTP stage, by percentage.
	Chaos string
}

// Mailpit is a running mailpit: an SMTP server on 127.0.0.1 that keeps
// every message, read back through its HTTP API. The zero value is not
// usable; call NewMailpit or StartMailpit.
type Mailpit struct {
	host   string
	port   int
	api    string // http://127.0.0.1:port/api/v1/
	caFile string
	dir    string

	closeOnce sync.Once
	stop      func()
}

// StartMailpit is NewMailpit for a test: skipped (or, under CI=true,
// failed) when mailpit cannot be had (RequireMailpit), failed when it
// does not start, stopped when the test ends.
func StartMailpit(t testing.TB, o MailpitOptions) *Mailpit {
	t.Helper()
	RequireMailpit(t)
	mp, err := NewMailpit(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mp.Close)
	return mp
}

// NewMailpit runs mailpit (MailpitBinary) on free ports of 127.0.0.1
// with a database and certificate of its own, and returns once it
// answers on both its SMTP and HTTP ports. Close stops it and removes
// its files. An error wraps ErrNoMailpit when there is no mailpit.
func NewMailpit(o MailpitOptions) (*Mailpit, error) {
	bin, err := MailpitBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "notifier-mailpit-")
	if err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	mp := &Mailpit{host: "127.0.0.1", dir: dir}
	args, err := mp.options(o)
	if err == nil {
		for range mailpitStartAttempts {
			if err = mp.start(bin, args); err == nil {
				return mp, nil
			}
		}
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("mailpit: %w", err)
}

// options writes the files o needs into mp.dir and returns the
// command-line options that name them.
func (mp *Mailpit) options(o MailpitOptions) ([]string, error) {
	var args []string
	switch o.TLS {
	case MailpitPlain:
	case MailpitSTARTTLS, MailpitImplicit:
		cert, key, err := WriteSelfSigned(mp.dir)
		if err != nil {
			return nil, err
		}
		mp.caFile = cert
		args = append(args, "--smtp-tls-cert", cert, "--smtp-tls-key", key)
		if o.TLS == MailpitSTARTTLS {
			args = append(args, "--smtp-require-starttls")
		} else {
			args = append(args, "--smtp-require-tls")
		}
	default:
		return nil, fmt.Errorf("tls %q is not %q, %q or %q", o.TLS, MailpitPlain, MailpitSTARTTLS, MailpitImplicit)
	}
	if o.Auth != "" {
		f := filepath.Join(mp.dir, "smtp-auth")
		if err := os.WriteFile(f, []byte(o.Auth+"\n"), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--smtp-auth-file", f)
	}
	if o.Chaos != "" {
		args = append(args, "--chaos-triggers", o.Chaos)
	}
	return args, nil
}

// Host is the SMTP server's address, 127.0.0.1.
func (mp *Mailpit) Host() string { return mp.host }

// Port is the SMTP server's port.
func (mp *Mailpit) Port() int { return mp.port }

// Addr is host:port of the SMTP server.
func (mp *Mailpit) Addr() string { return net.JoinHostPort(mp.host, strconv.Itoa(mp.port)) }

// CAFile is the PEM certificate the server presents (its own CA), for a
// client's ca_file; "" without TLS.
func (mp *Mailpit) CAFile() string { return mp.caFile }

// APIURL is the base of mailpit's HTTP API, ending in /api/v1/.
func (mp *Mailpit) APIURL() string { return mp.api }

// Close stops mailpit and removes its files. It is safe to call more
// than once.
func (mp *Mailpit) Close() {
	mp.closeOnce.Do(func() {
		if mp.stop != nil {
			mp.stop()
		}
		os.RemoveAll(mp.dir)
	})
}

func (mp *Mailpit) start(bin string, extra []string) error {
	smtpPort, err := FreePort()
	if err != nil {
		return err
	}
	httpPort, err := FreePort()
	if err != nil {
		return err
	}
	mp.port = smtpPort
	httpAddr := net.JoinHostPort(mp.host, strconv.Itoa(httpPort))
	mp.api = "http://" + httpAddr + "/api/v1/"
	args := append([]string{
		"--smtp", mp.Addr(),
		"--listen", httpAddr,
		"--database", filepath.Join(mp.dir, "mailpit-"+strconv.Itoa(smtpPort)+".db"),
		"--disable-version-check", "--smtp-disable-rdns", "--quiet",
	}, extra...)
	cmd := exec.Command(bin, args...)
	// Its own environment: mailpit reads MP_* variables.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + mp.dir, "TMPDIR=" + mp.dir}
	// One writer for both: exec then writes from one goroutine, and out
	// is read only once mailpit has exited.
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	if err := mp.waitReady(exited); err != nil {
		stop()
		return fmt.Errorf("on SMTP port %d: %w; output: %s", smtpPort, err, strings.TrimSpace(out.String()))
	}
	mp.stop = stop
	return nil
}

// waitReady polls until the API says ready and the SMTP port accepts a
// connection, mailpit exits, or mailpitReadyTries is used up.
func (mp *Mailpit) waitReady(exited <-chan struct{}) error {
	ready := func() error {
		resp, err := http.Get(strings.TrimSuffix(mp.api, "api/v1/") + "readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		c, err := net.Dial("tcp", mp.Addr())
		if err != nil {
			return err
		}
		return c.Close()
	}
	return mailpitPoll(exited, ready)
}

// mailpitPoll calls f until it succeeds, with a short growing pause
// between tries, giving up when exited closes or after
// mailpitReadyTries.
func mailpitPoll(exited <-chan struct{}, f func() error) error {
	pause := time.Millisecond
	var last error
	for range mailpitReadyTries {
		if last = f(); last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %v", last)
		case <-time.After(pause):
		}
		pause = min(2*pause, mailpitPollMax)
	}
	return fmt.Errorf("not ready: %v", last)
}

// Messages returns every message mailpit holds now, oldest first, each
// parsed from its raw source by net/mail.
func (mp *Mailpit) Messages() ([]*mail.Message, error) {
	var list struct {
		Messages []struct{ ID string }
	}
	if err := mp.get("messages", &list); err != nil {
		return nil, err
	}
	return mp.read(list.Messages)
}

// WaitMessages is Messages once mailpit holds exactly n messages (it
// stores a message a little after it accepts it); it gives up, with an
// error, after a bound of about 30s.
func (mp *Mailpit) WaitMessages(n int) ([]*mail.Message, error) {
	var list struct {
		Messages []struct{ ID string }
	}
	err := mailpitPoll(nil, func() error {
		if err := mp.get("messages", &list); err != nil {
			return err
		}
		if len(list.Messages) != n {
			return fmt.Errorf("%d messages, want %d", len(list.Messages), n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	return mp.read(list.Messages)
}

// read fetches and parses the listed messages; the API lists the newest
// first, read returns the oldest first.
func (mp *Mailpit) read(list []struct{ ID string }) ([]*mail.Message, error) {
	out := make([]*mail.Message, len(list))
	for i, m := range list {
		var raw []byte
		if err := mp.get("message/"+m.ID+"/raw", &raw); err != nil {
			return nil, err
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("mailpit: message %s does not parse: %w\n%s", m.ID, err, raw)
		}
		out[len(list)-1-i] = msg
	}
	return out, nil
}

// get reads an API path into v: JSON, or the bytes for a *[]byte.
func (mp *Mailpit) get(path string, v any) error {
	resp, err := http.Get(mp.api + path)
	if err != nil {
		return fmt.Errorf("mailpit: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("mailpit: GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit: GET %s: %s: %s", path, resp.Status, b)
	}
	if p, ok := v.(*[]byte); ok {
		*p = b
		return nil
	}
	return json.Unmarshal(b, v)
}

// WriteSelfSigned writes a throw-away certificate for 127.0.0.1, ::1 and
// localhost (selfSigned) with its key into dir (cert.pem, key.pem) and
// returns their paths: it is its own CA, trusted through ca_file.
func WriteSelfSigned(dir string) (cert, key string, err error) {
	c, certPEM, err := selfSigned()
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return "", "", err
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	err = errors.Join(os.WriteFile(cert, certPEM, 0o600),
		os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return cert, key, err
}
