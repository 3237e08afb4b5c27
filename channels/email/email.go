// Package email sends each notification as one email through an SMTP
// server, with go-mail: STARTTLS (mandatory) or implicit TLS, SMTP AUTH
// from files, To and Cc lists, subject and body from templates, and
// threading headers so that a resolve lands under the message it
// resolves (see BuildMail). It classifies failures for channels.Deliver:
// a 4xx reply, network trouble and timeouts are retryable, a 5xx reply
// is not and carries the server's text; no error holds the password.
package email

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"notifier/channels"
	"notifier/internal/keys"
)

// maxErrorText bounds the server's text quoted in an error.
const maxErrorText = 512

// authMechs are the SMTP AUTH mechanisms tried, the first the server
// offers winning. The connection is always TLS by then, so PLAIN, the
// one every server has, comes first; LOGIN is Microsoft's.
var authMechs = []gomail.SMTPAuthType{gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
	gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5}

// Notifier sends to one SMTP server. It is safe for concurrent use: each
// message is one SMTP session of its own.
type Notifier struct {
	cfg      Config // defaults applied
	addr     string // host:port, IPv6 in brackets (go-mail's own would not be)
	user     string
	password string
	tls      *tls.Config // nil with tls: none
	secrets  []string    // every form in which a secret may show up in an error
}

var (
	_ channels.Channel    = (*Notifier)(nil)
	_ channels.Referencer = (*Notifier)(nil)
)

// Type is the email channel type, for channels/registry.
var Type = channels.NewType("email",
	"Email through an SMTP server: one message per notification to the to and cc lists, STARTTLS or implicit TLS, SMTP AUTH from password_file; a resolve threads under its trigger. Needs host, from and to.",
	map[string]string{
		"host":          "The SMTP server's host name or IP address, without a port.",
		"port":          "The SMTP server's port; default 587 with tls starttls, 465 with implicit, 25 with none.",
		"tls":           "starttls (default: plain connection upgraded with STARTTLS, refused if the server does not offer it), implicit (TLS from the start, port 465) or none (plain text; lint warns; no AUTH).",
		"ca_file":       "PEM certificates added to the system's roots to verify the server, for a private CA; relative to the policy file.",
		"username":      "The SMTP AUTH user name. Needs password_file.",
		"username_file": "A file holding the SMTP AUTH user name, where the user is itself a key; relative to the policy file.",
		"password":      "The SMTP AUTH password, inline. Lint warns: prefer password_file.",
		"password_file": "A file holding the SMTP AUTH password (surrounding white space ignored); relative to the policy file. Needs username.",
		"from":          "The sender, like notifier@example.com or \"Notifier <notifier@example.com>\"; also the envelope sender, and its domain names the Message-IDs.",
		"to":            "The recipients, a list of addresses; one message goes to all of to and cc.",
		"cc":            "Copy recipients, a list of addresses.",
		"subject":       "Template of the subject; default \"[CRITICAL] <summary>\", \"[RESOLVED] <summary>\" for a resolve.",
		"body":          "Template of the plain-text body; default the event's summary, text, recommendation, cluster, node, type, count, time, suppressed count, key, rule and raw fields.",
		"timeout":       "Bound on one delivery (connect, TLS, AUTH, message); default 30s. The run's deadline still bounds all attempts together.",
		"helo":          "The name this host gives in EHLO; default its host name.",
	}, New)

// New validates c, reads its secret files and the ca_file, and applies
// defaults. It does no network I/O.
func New(c Config) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	c = c.withDefaults()
	n := &Notifier{cfg: c, addr: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}
	if c.Username != "" || c.UsernameFile != "" {
		user, err := channels.ReadSecret("username", c.Username, c.UsernameFile)
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		if err := checkCredential("username_file", user); err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		pw, err := channels.ReadSecret("password", c.Password, c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		if err := checkCredential("password_file", pw); err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		n.user, n.password = user, pw
		n.secrets = secretForms(user, pw, c.UsernameFile != "")
	}
	if c.TLS != TLSNone {
		cfg, err := channels.TLSConfig(c.Host, "ca_file", c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		n.tls = cfg
	}
	return n, nil
}

// secretForms are the password and what SMTP AUTH makes of it (PLAIN
// sends "\0user\0password" in base64, LOGIN the password in base64),
// and the user name when it came from a secret file: should a server
// echo one in its reply, the error is redacted.
func secretForms(user, pw string, userSecret bool) []string {
	forms := []string{pw,
		base64.StdEncoding.EncodeToString([]byte(pw)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))}
	if userSecret {
		forms = append(forms, user, base64.StdEncoding.EncodeToString([]byte(user)))
	}
	return forms
}

// Close releases nothing: every message has its own SMTP session.
func (n *Notifier) Close() error { return nil }

// Notify sends m as one email.
func (n *Notifier) Notify(ctx context.Context, m *channels.Message) error {
	_, err := n.NotifyRef(ctx, m)
	return err
}

// NotifyRef sends m as one email to every recipient and returns its
// Message-ID, which the pipeline keeps and hands back in Message.Ref on
// the resolve, so the resolve replies to it (BuildMail).
func (n *Notifier) NotifyRef(ctx context.Context, m *channels.Message) (string, error) {
	if m == nil {
		return "", errors.New("email: nil message")
	}
	em := BuildMail(n.cfg.From, m)
	msg, err := n.message(m, em)
	if err != nil {
		return "", n.fail(m, fmt.Errorf("build message: %w", err))
	}
	// timeout bounds the whole session, not each step as go-mail's does.
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	sess := &session{ctx: ctx, addr: n.addr, tls: n.tls, implicit: n.cfg.TLS == TLSImplicit}
	defer sess.stop()
	client, err := gomail.NewClient(n.cfg.Host, n.clientOptions(sess)...)
	if err != nil {
		return "", n.fail(m, err)
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The server took the message; a failed QUIT or RSET after it
		// changes nothing, and a retry would send it twice.
		return em.MessageID, nil
	}
	if err == nil {
		return "", n.fail(m, channels.Retryable(errors.New("the server did not confirm the message"), 0))
	}
	return "", n.fail(m, n.classify(ctx, err))
}

// message is em as go-mail's Msg, with n's sender and recipients.
func (n *Notifier) message(m *channels.Message, em Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(n.cfg.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(n.cfg.To...); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if len(n.cfg.Cc) > 0 {
		if err := msg.Cc(n.cfg.Cc...); err != nil {
			return nil, fmt.Errorf("cc: %w", err)
		}
	}
	msg.Subject(em.Subject)
	msg.SetMessageIDWithValue(strings.Trim(em.MessageID, "<>"))
	msg.SetDate()
	if em.InReplyTo != "" {
		msg.SetGenHeader(gomail.HeaderInReplyTo, em.InReplyTo)
	}
	msg.SetGenHeader(gomail.HeaderReferences, strings.Join(em.References, " "))
	msg.SetUserAgent("notifier")
	// RFC 3834: no vacation replies to an alarm.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Notifier-Key", keys.Bound(channels.OneLine(m.Key), maxKeyLen))
	msg.SetGenHeader("X-Notifier-Action", string(m.Action))
	msg.SetBodyString(gomail.TypeTextPlain, em.Body)
	return msg, nil
}

// clientOptions configure one session's go-mail client.
func (n *Notifier) clientOptions(s *session) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(n.cfg.Port),
		gomail.WithTimeout(n.cfg.Timeout),
		gomail.WithDialContextFunc(s.dial),
	}
	switch n.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(n.tls))
	case TLSImplicit:
		// The dialer speaks TLS; WithSSL only tells go-mail not to
		// STARTTLS on top of it.
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSConfig(n.tls))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if n.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(n.cfg.HELO))
	}
	if n.user != "" {
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(authMechs...),
			gomail.WithUsername(n.user), gomail.WithPassword(n.password))
	}
	return opts
}

// fail gives err its context, one line and bounded, with every secret
// redacted (at the cost of the error chain, keeping retryability).
func (n *Notifier) fail(m *channels.Message, err error) error {
	// Redacted before the cut: a secret the server echoed across it
	// would survive in part.
	reply := channels.Truncate(channels.OneLine(channels.Redact(err.Error(), n.secrets...)), maxErrorText)
	text := fmt.Sprintf("email: %s %q via %s: %s", m.Action, keys.Bound(m.Key, maxKeyLen), n.addr, reply)
	return channels.RetryableAs(err, errors.New(text))
}

// classify says whether a failed session is worth trying again: a 4xx
// reply, network trouble and timeouts are; a 5xx reply (a refused
// recipient, a wrong password), a certificate that does not verify and
// a server without STARTTLS or a usable AUTH are not, since trying
// again cannot fix them.
func (n *Notifier) classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return channels.Retryable(fmt.Errorf("%w (%v)", err, context.Cause(ctx)), 0)
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() || se.ErrorCode() < 500 {
			// 4xx, or no reply at all (the connection broke).
			return channels.Retryable(err, 0)
		}
		return err
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		if te.Code >= 400 && te.Code < 500 {
			return channels.Retryable(err, 0)
		}
		return err
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) || errors.Is(err, smtp.ErrUnencrypted) || refusal(err) {
		return err
	}
	return channels.Retryable(err, 0)
}

// refusal recognises go-mail's errors for a server that cannot do what
// the config asks: no STARTTLS (with tls: starttls), no SMTP AUTH or
// none of the mechanisms go-mail has. go-mail gives some of them no
// sentinel; its version is pinned and a test pins these texts.
func refusal(err error) bool {
	for _, e := range []error{gomail.ErrNoSupportedAuthDiscovered, gomail.ErrPlainAuthNotSupported,
		gomail.ErrLoginAuthNotSupported, gomail.ErrCramMD5AuthNotSupported} {
		if errors.Is(err, e) {
			return true
		}
	}
	s := err.Error()
	return strings.Contains(s, "does not support STARTTLS") || strings.Contains(s, "server does not support SMTP AUTH")
}

// session is one SMTP session's connection: bounded by the context's
// deadline whatever go-mail asks (it extends the deadline by its
// timeout before every step, which could outlive the run), and closed
// when the context ends.
type session struct {
	ctx      context.Context
	addr     string
	tls      *tls.Config
	implicit bool
	stops    []func() bool
}

// dial connects for go-mail, speaking TLS at once when implicit. It
// dials s.addr: go-mail's address has no brackets around IPv6.
func (s *session) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, s.addr)
	if err != nil {
		return nil, err
	}
	conn := net.Conn(&boundConn{Conn: raw, ctx: s.ctx})
	s.stops = append(s.stops, context.AfterFunc(s.ctx, func() { raw.Close() }))
	if !s.implicit {
		return conn, nil
	}
	tc := tls.Client(conn, s.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// stop forgets the connections' context watch.
func (s *session) stop() {
	for _, f := range s.stops {
		f()
	}
}

// boundConn is a connection whose deadlines never pass its context's.
type boundConn struct {
	net.Conn
	ctx context.Context
}

func (c *boundConn) bound(t time.Time) time.Time {
	if dl, ok := c.ctx.Deadline(); ok && (t.IsZero() || t.After(dl)) {
		return dl
	}
	return t
}

func (c *boundConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.bound(t)) }
func (c *boundConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.bound(t))
}
func (c *boundConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.bound(t))
}
