package apitest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// maxFrame bounds one octet-counted frame; a length beyond it means the
// sender's framing is broken, not that it has a lot to say.
const maxFrame = 1 << 20

// The sizes a collector is only required to take, per transport; the
// fake refuses (records an error for) anything bigger, so that a sender
// relying on a generous collector fails here.
const (
	// RFC 5426 section 3.2: a UDP receiver SHOULD accept 2048 bytes.
	syslogMaxDatagram = 2048
	// RFC 5425 section 4.3.1: a TLS (and, by RFC 6587, TCP) receiver
	// SHOULD take messages up to 8192 octets.
	syslogMaxStream = 8192
	// A local daemon: rsyslog's imuxsock cuts at its default
	// maxMessageSize, 8k.
	syslogMaxLocal = 8192
)

// SyslogMessage is one syslog message as a collector parsed it.
type SyslogMessage struct {
	Facility int
	Severity int
	// Version is 1 for RFC 5424 and 0 for the traditional format
	// log/syslog writes ("<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG").
	Version        int
	Time           time.Time // zero for the NILVALUE
	Hostname       string    // "" for the NILVALUE or when the format has none
	AppName        string    // RFC 5424 APP-NAME, or the traditional TAG
	ProcID         string
	MsgID          string
	StructuredData string // "" for the NILVALUE, else the raw SD-ELEMENTs
	Msg            string // without a BOM or the trailing newline
	Raw            string // the message as it arrived, without stream framing
}

// Syslog is a local syslog collector for tests and the demo. It
// listens on 127.0.0.1 (or a unix datagram socket), parses every message
// strictly, and keeps them in arrival order. Streams must use RFC 6587
// octet counting; a frame or message that does not parse is recorded as
// an error, which Wait reports, rather than silently skipped.
type Syslog struct {
	scheme  string // udp, tcp, tls, unix
	address string
	caPEM   []byte
	pc      net.PacketConn // udp, unix
	ln      net.Listener   // tcp, tls
	sock    string         // unix: the socket file, removed by Close
	wg      sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond
	msgs     []SyslogMessage
	errs     []error
	conns    map[net.Conn]struct{}
	accepted int
	closed   bool
}

// NewSyslogUDP listens on a free udp port of 127.0.0.1 for one RFC 5424
// message per datagram. Like httptest.NewServer, the constructors panic
// when they cannot listen: a test cannot go on without the server.
func NewSyslogUDP() *Syslog {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("apitest: syslog udp: %v", err))
	}
	s := newSyslog("udp", "udp://"+pc.LocalAddr().String())
	s.pc = pc
	s.startPackets()
	return s
}

// NewSyslogUnix listens on a unix datagram socket "syslog.sock" in dir,
// as a local daemon does on /dev/log, and accepts both formats.
func NewSyslogUnix(dir string) *Syslog {
	path := filepath.Join(dir, "syslog.sock")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		panic(fmt.Sprintf("apitest: syslog unix: %v", err))
	}
	s := newSyslog("unix", "unix://"+path)
	s.pc, s.sock = pc, path
	s.startPackets()
	return s
}

// NewSyslogTCP listens for octet-counted RFC 5424 messages over TCP.
func NewSyslogTCP() *Syslog {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("apitest: syslog tcp: %v", err))
	}
	s := newSyslog("tcp", "tcp://"+ln.Addr().String())
	s.ln = ln
	s.startStreams()
	return s
}

// NewSyslogTLS listens for octet-counted RFC 5424 messages over TLS with
// a self-signed certificate, made in memory, for 127.0.0.1, ::1 and
// localhost. Clients trust it through CAPEM or WriteCAFile.
func NewSyslogTLS() *Syslog {
	cert, caPEM, err := selfSigned()
	if err != nil {
		panic(fmt.Sprintf("apitest: syslog tls: certificate: %v", err))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("apitest: syslog tls: %v", err))
	}
	s := newSyslog("tls", "tls://"+ln.Addr().String())
	s.caPEM = caPEM
	s.ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	s.startStreams()
	return s
}

func newSyslog(scheme, address string) *Syslog {
	s := &Syslog{scheme: scheme, address: address, conns: map[net.Conn]struct{}{}}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Address is the channel's config address: "udp://127.0.0.1:40312",
// "unix:///tmp/x/syslog.sock", ...
func (s *Syslog) Address() string { return s.address }

// Addr is the listening address without scheme: host:port, or the
// socket path.
func (s *Syslog) Addr() string {
	if s.sock != "" {
		return s.sock
	}
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return s.pc.LocalAddr().String()
}

// CAPEM is the PEM certificate a TLS client must trust; nil for the
// other transports.
func (s *Syslog) CAPEM() []byte { return s.caPEM }

// WriteCAFile writes CAPEM to dir/syslog-ca.pem, for a channel's ca_file,
// and returns the path.
func (s *Syslog) WriteCAFile(dir string) (string, error) {
	if s.caPEM == nil {
		return "", errors.New("apitest: syslog: only the tls server has a certificate")
	}
	path := filepath.Join(dir, "syslog-ca.pem")
	if err := os.WriteFile(path, s.caPEM, 0o600); err != nil {
		return "", fmt.Errorf("apitest: syslog: %w", err)
	}
	return path, nil
}

// Messages returns a copy of what arrived so far.
func (s *Syslog) Messages() []SyslogMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SyslogMessage(nil), s.msgs...)
}

// Errors returns the framing and parse errors seen so far.
func (s *Syslog) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Accepted is how many stream connections were accepted so far.
func (s *Syslog) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Wait blocks until at least n messages arrived and returns them all.
// It fails when timeout passes first, when a message did not parse, or
// when the server is closed. Datagrams arrive after the sender's write
// returns, so tests wait here instead of reading Messages at once.
func (s *Syslog) Wait(n int, timeout time.Duration) ([]SyslogMessage, error) {
	err := s.waitFor(timeout, func() bool { return len(s.msgs) >= n })
	msgs := s.Messages()
	if err != nil {
		return msgs, fmt.Errorf("apitest: syslog: %d of %d messages: %w", len(msgs), n, err)
	}
	return msgs, nil
}

// WaitIdle blocks until every accepted stream connection has been closed
// by its client, which is how a test sees that a sender does not leak
// connections.
func (s *Syslog) WaitIdle(timeout time.Duration) error {
	open := 0
	err := s.waitFor(timeout, func() bool { open = len(s.conns); return open == 0 })
	if err != nil {
		return fmt.Errorf("apitest: syslog: %d connections still open: %w", open, err)
	}
	return nil
}

// waitFor waits on the condition variable until done holds (called with
// s.mu held); a timer broadcasts once at the timeout so the wait ends.
func (s *Syslog) waitFor(timeout time.Duration, done func() bool) error {
	expired := false
	t := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		expired = true
		s.mu.Unlock()
		s.cond.Broadcast()
	})
	defer t.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !done() {
		switch {
		case len(s.errs) > 0:
			return s.errs[0]
		case s.closed:
			return errors.New("server closed")
		case expired:
			return fmt.Errorf("timed out after %s", timeout)
		}
		s.cond.Wait()
	}
	return nil
}

// Close stops listening, closes open connections, waits for the readers
// to finish and removes a unix socket file. It is safe to call more than
// once.
func (s *Syslog) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cond.Broadcast()
	if s.ln != nil {
		s.ln.Close()
	} else {
		s.pc.Close()
	}
	s.wg.Wait()
	if s.sock != "" {
		os.Remove(s.sock)
	}
}

func (s *Syslog) add(raw string) {
	limit := map[string]int{"udp": syslogMaxDatagram, "tcp": syslogMaxStream, "tls": syslogMaxStream, "unix": syslogMaxLocal}[s.scheme]
	if len(raw) > limit {
		s.fail(fmt.Errorf("%s message of %d bytes: over the %d a collector must take", s.scheme, len(raw), limit))
		return
	}
	r, err := ParseSyslog(raw)
	s.mu.Lock()
	if err != nil {
		s.errs = append(s.errs, err)
	} else {
		s.msgs = append(s.msgs, r)
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *Syslog) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *Syslog) startPackets() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, _, err := s.pc.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			s.add(string(buf[:n]))
		}
	}()
}

func (s *Syslog) startStreams() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return // closed
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.accepted++
			s.mu.Unlock()
			s.wg.Add(1)
			go s.serve(c)
		}
	}()
}

// serve reads octet-counted frames until the client closes. A framing
// error ends the connection: after one, nothing that follows can be
// trusted to start at a frame boundary.
func (s *Syslog) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.cond.Broadcast()
	}()
	r := bufio.NewReader(c)
	for {
		raw, err := readFrame(r)
		if err == io.EOF {
			return
		}
		if err != nil {
			s.fail(err)
			return
		}
		s.add(raw)
	}
}

// readFrame reads "LEN SP MSG" (RFC 6587 section 3.4.1). Any end of the
// connection between frames is io.EOF: a client that hangs up, or fails
// the TLS handshake on purpose in a test, has sent nothing malformed.
// An end inside a frame is a framing error.
func readFrame(r *bufio.Reader) (string, error) {
	digits, err := r.ReadString(' ')
	if err != nil && digits == "" {
		return "", io.EOF
	}
	if err != nil {
		return "", fmt.Errorf("frame length: %w (got %q)", err, digits)
	}
	digits = digits[:len(digits)-1]
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n > maxFrame || digits[0] == '0' || digits[0] == '+' {
		return "", fmt.Errorf("frame length %q is not a positive decimal of at most %d (not octet counting?)", digits, maxFrame)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", fmt.Errorf("frame of %d bytes: %w", n, err)
	}
	return string(buf), nil
}

// selfSigned makes an ECDSA P-256 certificate that is its own CA.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "notifier apitest syslog"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
