package email

// The SMTP server the tests send to: mailpit (github.com/axllent/mailpit,
// a tool of tools/go.mod), started by the test on 127.0.0.1 with the TLS,
// AUTH and failure modes a test asks for, and read back through its HTTP
// API: what arrived is parsed with net/mail and checked.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"notifier/internal/apitest"
)

// Bounds of waiting for mailpit; each wait ends as soon as the condition
// holds, these only stop a test that would otherwise wait forever.
const (
	startAttempts = 3   // a free port may be taken before mailpit binds it
	readyTries    = 600 // polls, about 30s: a loaded CI machine is slow
	pollMax       = 50 * time.Millisecond
)

var mailpitBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if mailpitBuild.dir != "" {
		os.RemoveAll(mailpitBuild.dir)
	}
	os.Exit(code)
}

// mailpitPath returns the mailpit binary: $NOTIFIER_MAILPIT, or built
// once per test binary from tools/go.mod (offline: the modules must be
// in the module cache, as `go -C tools mod download` leaves them; the Go
// build cache makes it a link after the first time). Without it the
// test is skipped, except under CI=true, where it fails.
func mailpitPath(t *testing.T) string {
	t.Helper()
	mailpitBuild.once.Do(func() {
		if p := os.Getenv("NOTIFIER_MAILPIT"); p != "" {
			mailpitBuild.path = p
			return
		}
		mailpitBuild.path, mailpitBuild.err = buildMailpit()
	})
	if mailpitBuild.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mailpit: %v (CI=true, so this is a failure)", mailpitBuild.err)
		}
		t.Log(mailpitBuild.err)
		// One fixed reason: make test's summary counts the SMTP tests under it.
		t.Skip("mailpit: cannot build the SMTP test server from tools/go.mod (go -C tools mod download, then run the tests again)")
	}
	return mailpitBuild.path
}

func buildMailpit() (string, error) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			return "", fmt.Errorf("no go command to build it: %w", err)
		}
	}
	tools, err := filepath.Abs(filepath.Join("..", "..", "tools"))
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "notifier-mailpit-")
	if err != nil {
		return "", err
	}
	mailpitBuild.dir = dir
	out := filepath.Join(dir, "mailpit")
	cmd := exec.Command(goBin, "-C", tools, "build", "-o", out, "github.com/axllent/mailpit")
	// Never the network: the tests talk to 127.0.0.1 only.
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build github.com/axllent/mailpit: %v: %s", err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// mailpitOpts say how the server is started.
type mailpitOpts struct {
	tls   string // "": plain; "starttls": STARTTLS required; "implicit": TLS only
	auth  string // "user:password" for SMTP AUTH (which requires TLS)
	chaos string // mailpit's --chaos-triggers, "Recipient:451:100"
}

// mailpit is one running server.
type mailpit struct {
	host   string // 127.0.0.1
	port   int    // SMTP
	api    string // http://127.0.0.1:port/api/v1/
	caFile string // the certificate it presents, to trust through ca_file
}

// startMailpit runs mailpit on free ports of 127.0.0.1 with its own
// database, waits until it answers on both ports, and stops it when the
// test ends.
func startMailpit(t *testing.T, o mailpitOpts) *mailpit {
	t.Helper()
	bin := mailpitPath(t)
	dir := t.TempDir()
	var args []string
	mp := &mailpit{host: "127.0.0.1"}
	if o.tls != "" {
		mp.caFile = selfSigned(t, dir)
		args = append(args, "--smtp-tls-cert", filepath.Join(dir, "cert.pem"), "--smtp-tls-key", filepath.Join(dir, "key.pem"))
		switch o.tls {
		case "starttls":
			args = append(args, "--smtp-require-starttls")
		case "implicit":
			args = append(args, "--smtp-require-tls")
		}
	}
	if o.auth != "" {
		f := filepath.Join(dir, "smtp-auth")
		if err := os.WriteFile(f, []byte(o.auth+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--smtp-auth-file", f)
	}
	if o.chaos != "" {
		args = append(args, "--chaos-triggers", o.chaos)
	}
	var last error
	for range startAttempts {
		err := mp.start(t, bin, dir, args)
		if err == nil {
			return mp
		}
		last = err
	}
	t.Fatalf("mailpit: %v", last)
	return nil
}

func (mp *mailpit) start(t *testing.T, bin, dir string, extra []string) error {
	smtpPort, err := apitest.FreePort()
	if err != nil {
		return err
	}
	httpPort, err := apitest.FreePort()
	if err != nil {
		return err
	}
	mp.port = smtpPort
	httpAddr := net.JoinHostPort(mp.host, strconv.Itoa(httpPort))
	mp.api = "http://" + httpAddr + "/api/v1/"
	args := append([]string{
		"--smtp", net.JoinHostPort(mp.host, strconv.Itoa(smtpPort)),
		"--listen", httpAddr,
		"--database", filepath.Join(dir, "mailpit-"+strconv.Itoa(smtpPort)+".db"),
		"--disable-version-check", "--smtp-disable-rdns", "--quiet",
	}, extra...)
	cmd := exec.Command(bin, args...)
	// Its own environment: mailpit reads MP_* variables.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
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
	t.Cleanup(stop)
	return nil
}

// waitReady polls until the API says ready and the SMTP port accepts a
// connection, mailpit exits, or readyTries is used up.
func (mp *mailpit) waitReady(exited <-chan struct{}) error {
	ready := func() error {
		resp, err := http.Get(strings.TrimSuffix(mp.api, "api/v1/") + "readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		c, err := net.Dial("tcp", net.JoinHostPort(mp.host, strconv.Itoa(mp.port)))
		if err != nil {
			return err
		}
		return c.Close()
	}
	return poll(exited, ready)
}

// poll calls f until it succeeds, with a short growing pause between
// tries, giving up when exited closes or after readyTries.
func poll(exited <-chan struct{}, f func() error) error {
	pause := time.Millisecond
	var last error
	for range readyTries {
		if last = f(); last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %v", last)
		case <-time.After(pause):
		}
		pause = min(2*pause, pollMax)
	}
	return fmt.Errorf("not ready: %v", last)
}

// messages returns the n messages mailpit holds, oldest first, parsed
// from their raw source, waiting (bounded) until there are n.
func (mp *mailpit) messages(t *testing.T, n int) []*mail.Message {
	t.Helper()
	var list struct {
		Messages []struct{ ID string }
	}
	err := poll(nil, func() error {
		if err := mp.get("messages", &list); err != nil {
			return err
		}
		if len(list.Messages) != n {
			return fmt.Errorf("%d messages, want %d", len(list.Messages), n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	out := make([]*mail.Message, n)
	for i, m := range list.Messages {
		var raw []byte
		if err := mp.get("message/"+m.ID+"/raw", &raw); err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("message %s does not parse: %v\n%s", m.ID, err, raw)
		}
		out[n-1-i] = msg // the API lists the newest first
	}
	return out
}

// get reads an API path into v: JSON, or the bytes for a *[]byte.
func (mp *mailpit) get(path string, v any) error {
	resp, err := http.Get(mp.api + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	if p, ok := v.(*[]byte); ok {
		*p = b
		return nil
	}
	return json.Unmarshal(b, v)
}

// selfSigned writes a throw-away certificate for 127.0.0.1 and localhost
// with its key into dir (cert.pem, key.pem), and returns the
// certificate's path: it is its own CA, trusted through ca_file.
func selfSigned(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "notifier test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(dir, "cert.pem")
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cert, "CERTIFICATE", der)
	write(filepath.Join(dir, "key.pem"), "EC PRIVATE KEY", kb)
	return cert
}
