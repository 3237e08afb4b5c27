// Package syslog delivers messages to syslog: the local daemon through
// log/syslog (/dev/log, or a unix datagram socket named in the address),
// or a remote collector over udp, tcp or tls in RFC 5424 format with
// RFC 6587 octet-counted framing on streams.
//
// Every message is one line of key=value pairs (see FormatLine), so a
// collector can parse it without knowing this program.
package syslog

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"notifier/channels"
)

// Notifier is a configured syslog channel. Remote messages use a new
// connection each, closed before Notify returns: the process lives for
// one event, and a connection kept for a second message that never comes
// is one nobody closes. The local writer is kept for retries of the same
// run and closed by Close.
type Notifier struct {
	cfg      Config
	ep       endpoint
	facility int
	tls      *tls.Config // tls:// only

	mu     sync.Mutex
	local  localWriter // lazily dialled; nil until the first local Notify
	closed bool
}

var _ channels.Channel = (*Notifier)(nil)

// Type is the syslog channel type, for channels/registry.
var Type = channels.NewType("syslog",
	"Syslog: the local daemon (default), or a remote collector speaking RFC 5424.",
	map[string]string{
		"address":  "Where messages go: empty for the local daemon, unix:///path, udp://host[:514], tcp://host[:601] or tls://host[:6514].",
		"facility": "A facility name, kern to local7; default daemon.",
		"tag":      "The program name (RFC 5424 APP-NAME); default notifier. At most 48 printable ASCII characters, no ':', '[' or ']'.",
		"ca_file":  "PEM roots added to the system pool, for tls:// addresses only; relative to the policy file.",
		"timeout":  "Bound on dial plus write of one message; default 5s.",
		"message":  "Template of the line's human text, the value of summary=; must not render blank. Default: notifier's one-line summary. The key=value pairs before it (severity, action, key, ...) stay as they are, so a resolve still matches its trigger. Cut, with the rest of the line, to fit the transport (4096 bytes at most).",
		"fields":   "Templates of NAME=value pairs added before summary= (env, team, runbook, ...) for collectors that extract key=value; a name is letters, digits, '_' and '-' and not one of the line's own keys; one that renders blank is left out. When the line is too long each is cut to 128 bytes.",
	}, New)

// New validates c, fills in defaults and reads the ca_file; it does
// not connect: that happens in Notify, so a run that sends nothing to
// syslog never touches the network or /dev/log.
func New(c Config) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	ep, _ := parseAddress(c.Address) // checked by Validate
	fac, _ := facilityCode(c.Facility)
	n := &Notifier{cfg: c, ep: ep, facility: fac}
	if ep.scheme == "tls" {
		cfg, err := channels.TLSConfig(ep.host, "ca_file", c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		n.tls = cfg
	}
	return n, nil
}

// Notify sends one line for m. Network and socket failures, timeouts
// included, are retryable; a certificate the collector presents that
// does not verify is not, since trying again cannot fix it.
func (n *Notifier) Notify(ctx context.Context, m *channels.Message) error {
	if m == nil {
		return errors.New("syslog: nil message")
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	var err error
	for _, line := range lines(m) {
		sev := severityCode(line.Severity)
		switch n.ep.scheme {
		case "", "unix":
			err = n.notifyLocal(ctx, sev, fitLine(line, min(maxLine, maxLocal-maxLocalHeader)))
		default:
			err = n.notifyRemote(ctx, sev, line)
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		return nil
	}
	if n.cfg.Address == "" {
		err = fmt.Errorf("syslog: %w", err)
	} else {
		err = fmt.Errorf("syslog: send to %q: %w", n.cfg.Address, err)
	}
	if errors.Is(err, errClosed) || isCertError(err) {
		return err
	}
	return channels.Retryable(err, 0)
}

// maxMemberLines bounds the lines a group's notification writes.
const maxMemberLines = 1000

// lines are the messages Notify writes for m: m itself, or for a
// group's notification one line per member (its own key, severity and
// summary, open or cleared) and then m's, the summary line. A retry
// writes them all again.
func lines(m *channels.Message) []*channels.Message {
	if len(m.Members) == 0 {
		return []*channels.Message{m}
	}
	out := make([]*channels.Message, 0, min(len(m.Members), maxMemberLines)+1)
	for _, mem := range m.Members[:min(len(m.Members), maxMemberLines)] {
		l := &channels.Message{Key: mem.Key, Action: m.Action, Severity: mem.Severity, Summary: mem.Line(), Rule: m.Rule,
			Source: m.Source, Cluster: m.Cluster, ClusterID: m.ClusterID, Node: mem.Node, EventType: mem.EventType, Count: mem.Count, Time: m.Time}
		if !mem.Open && m.Action != channels.Resolve {
			l.Action = channels.Resolve
		}
		out = append(out, l)
	}
	return append(out, m)
}

// Close closes the local writer if one was opened. Notify fails after
// Close rather than open a socket nobody would close.
func (n *Notifier) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.local == nil {
		return nil
	}
	err := n.local.Close()
	n.local = nil
	if err != nil {
		return fmt.Errorf("syslog: close: %w", err)
	}
	return nil
}

var errClosed = errors.New("notifier is closed")

func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	return errors.As(err, &cv)
}

// notifyRemote formats m as RFC 5424 and sends it on a connection of its
// own. The timestamp is the time of sending, as a local daemon would
// stamp it; the event's own time is in the event.
func (n *Notifier) notifyRemote(ctx context.Context, sev int, m *channels.Message) error {
	host, _ := os.Hostname() // "" becomes the NILVALUE
	pri := n.facility<<3 | sev
	// MSGID is the action (trigger, message or resolve): collectors
	// filter on it without parsing the line.
	now, pid, msgID := time.Now(), os.Getpid(), string(m.Action)
	// The header is bounded by FormatRFC5424 (about 500 bytes at most);
	// the line gets what the transport leaves.
	header := FormatRFC5424(pri, now, host, n.cfg.Tag, pid, msgID, "")
	max := maxStream
	if n.ep.scheme == "udp" {
		max = maxDatagram
	}
	limit := min(maxLine, max-len(header)-1)
	msg := FormatRFC5424(pri, now, host, n.cfg.Tag, pid, msgID, fitLine(m, limit))
	if n.ep.scheme != "udp" {
		msg = strconv.Itoa(len(msg)) + " " + msg // RFC 6587 3.4.1 octet counting
	}

	conn, err := n.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return err
		}
	}
	// One Write: a datagram must leave whole, and on a stream the frame
	// then goes out in one segment when it fits.
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err
	}
	// The error of Close is not ours to report: the message is written,
	// syslog has no acknowledgement to wait for, and a retry after a
	// failed TLS close_notify would only log the line twice.
	return nil
}

func (n *Notifier) dial(ctx context.Context) (net.Conn, error) {
	network := n.ep.scheme
	if network == "tls" {
		network = "tcp"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, n.ep.addr)
	if err != nil || n.tls == nil {
		return conn, err
	}
	tc := tls.Client(conn, n.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// notifyLocal writes through log/syslog. log/syslog takes no context and
// no deadline, and a stalled daemon (a full /dev/log queue) blocks its
// write while holding the writer's lock, so the dial and write run in a
// goroutine that Notify abandons at the deadline: the run moves on and
// the writer is closed whenever the write comes back.
func (n *Notifier) notifyLocal(ctx context.Context, sev int, line string) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return errClosed
	}
	w := n.local
	n.mu.Unlock()

	type result struct {
		w   localWriter
		err error
	}
	done := make(chan result, 1)
	go func() {
		w, err := w, error(nil)
		if w == nil {
			w, err = dialLocal(n.ep.path, n.facility, n.cfg.Tag)
		}
		if err == nil {
			err = w.write(sev, line)
		}
		done <- result{w, err}
	}()

	select {
	case r := <-done:
		n.mu.Lock()
		defer n.mu.Unlock()
		switch {
		case r.err != nil:
			if r.w != nil {
				r.w.Close()
			}
			if n.local == r.w {
				n.local = nil // the next attempt dials afresh
			}
			return r.err
		case n.local == nil && !n.closed:
			n.local = r.w
		case n.local != r.w:
			r.w.Close() // closed meanwhile, or a concurrent Notify dialled too
		}
		return nil
	case <-ctx.Done():
		n.mu.Lock()
		if n.local == w {
			n.local = nil
		}
		n.mu.Unlock()
		go func() {
			if r := <-done; r.w != nil {
				r.w.Close()
			}
		}()
		return fmt.Errorf("local daemon did not take the message in time: %w", context.Cause(ctx))
	}
}

// localWriter is the part of log/syslog's Writer Notify uses; it exists
// so platforms without log/syslog still build.
type localWriter interface {
	write(sev int, line string) error
	Close() error
}
