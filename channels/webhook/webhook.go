// Package webhook sends each message as one JSON request (POST, or PUT)
// to an address of the user's: the policy's body template or the
// documented default body (Payload), headers fixed or read from files,
// an optional HMAC-SHA256 signature, and an Idempotency-Key. A resolve
// is the same request with action "resolve" and the same key. Failures
// are classified as PagerDuty's are: 429, 5xx and network trouble are
// retryable (Retry-After honoured), any other answer outside 2xx is a
// permanent failure carrying the receiver's text.
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"notifier/channels"
)

// UserAgent names the sender, and the default body's version.
const UserAgent = "notifier-webhook/1"

// Notifier sends to one webhook. It is safe for concurrent use. It keeps
// one HTTP client for its life, whose connections stay open between
// messages (HTTP/2 where offered); Close drops them.
type Notifier struct {
	cfg     Config // defaults applied
	url     string
	header  http.Header // every header but the per-message ones
	hmacKey []byte      // nil: no signature
	http    *http.Client
	secrets []string         // every form a secret may take in an error, longest first
	now     func() time.Time // the signature's clock
}

var _ channels.Channel = (*Notifier)(nil)

// Type is the webhook channel type, for channels/registry.
var Type = channels.NewType("webhook",
	"A JSON request (POST or PUT) to a URL of yours, for every notification and its resolve: the default body or a body template, headers from files, an optional HMAC-SHA256 signature. Needs url_file (or url).",
	map[string]string{
		"url":              "The address, inline (http or https). Lint warns: URLs often carry a token, prefer url_file.",
		"url_file":         "A file holding the address; relative to the policy file.",
		"method":           "POST (default) or PUT.",
		"headers":          "Headers sent as written, a list of {name, value}; may replace Content-Type and User-Agent. Lint warns about one that looks like a credential: use header_files.",
		"header_files":     "Headers whose value is a file's content (trimmed), a list of {name, file}: tokens such as Authorization: Bearer ...; relative to the policy file.",
		"hmac_secret_file": "A file holding the key of an HMAC-SHA256 signature over the timestamp and the body: signature_header carries sha256=<hex> of HMAC(key, timestamp + \".\" + body), X-Notifier-Timestamp the Unix time.",
		"signature_header": "The header carrying the signature; default X-Notifier-Signature. Only with hmac_secret_file.",
		"body":             "A template of the body; must render one JSON value (use the json function for texts). Default: the documented versioned JSON object with the key, action, severity, summary, rule and event.",
		"timeout":          "Bound on one request; default 10s. The run's deadline still bounds all attempts together.",
	}, New)

// New validates c, reads its secret files and applies defaults. It
// does no network I/O. Errors name the option and the file, never a
// secret.
func New(c Config) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	c = c.withDefaults()
	u, err := channels.ReadSecret("url", c.URL, c.URLFile)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	field := "url"
	if c.URLFile != "" {
		field = fmt.Sprintf("url_file %q", c.URLFile)
	}
	if err := channels.CheckHTTPURL(field, u); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	n := &Notifier{cfg: c, url: u, header: http.Header{}, http: channels.NewHTTPClient(c.Timeout), now: time.Now}
	n.secrets = channels.SecretForms(u)
	// A redirect is not followed: a 301-303 would resend the request as
	// a GET without its body, and any redirect would take the body and
	// the header files' tokens where the policy does not say.
	n.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n.header.Set("Content-Type", "application/json")
	n.header.Set("User-Agent", UserAgent)
	for _, h := range c.Headers {
		n.header.Set(h.Name, h.Value)
	}
	for _, h := range c.HeaderFiles {
		v, err := channels.ReadSecret("header", "", h.File)
		if err != nil {
			return nil, fmt.Errorf("webhook: header_files: %s: %w", h.Name, err)
		}
		if err := checkValue(fmt.Sprintf("header_files: %s: %q", h.Name, h.File), v); err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
		n.header.Set(h.Name, v)
		n.secrets = append(n.secrets, valueForms(v)...)
	}
	if c.HMACSecretFile != "" {
		k, err := channels.ReadSecret("hmac_secret", "", c.HMACSecretFile)
		if err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
		n.hmacKey = []byte(k)
		n.secrets = append(n.secrets, k)
	}
	// Longest first, so that a secret containing another is replaced
	// whole.
	slices.SortStableFunc(n.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return n, nil
}

// Close closes the connections kept open for the next message. A Notify
// after Close still works, on a new connection.
func (n *Notifier) Close() error {
	n.http.CloseIdleConnections()
	return nil
}

// Notify sends m as one request. Rate limits (429), server errors (5xx),
// network failures and timeouts come back as channels.Retryable,
// honouring Retry-After; any other answer outside 2xx is a permanent
// error with the receiver's text.
func (n *Notifier) Notify(ctx context.Context, m *channels.Message) error {
	body := Body(m)
	req, err := http.NewRequestWithContext(ctx, n.cfg.Method, n.url, bytes.NewReader(body))
	if err != nil {
		return n.fail(m, err.Error(), nil)
	}
	req.Header = n.header.Clone()
	req.Header.Set(IdempotencyHeader, ID(m))
	if n.hmacKey != nil {
		ts, sig := Sign(n.hmacKey, n.now(), body)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(n.cfg.SignatureHeader, sig)
	}
	rec := &channels.Recorder{Client: n.http, Secrets: n.secrets}
	resp, err := rec.Do(req)
	if resp != nil {
		resp.Body.Close() // reads what is left, so the connection carries the next request
	}
	var ue *url.Error
	switch {
	case rec.Status() >= 300 && rec.Status() <= 399:
		// The Location may hold a secret; the status says enough.
		return n.fail(m, fmt.Sprintf("HTTP %d: redirected, and redirects are not followed: set the url to the address it leads to", rec.Status()), nil)
	case errors.As(err, &ue):
		// The client's error quotes the URL, which may be the secret.
		msg := fmt.Sprintf("%s %q: %v", ue.Op, channels.RedactURL(n.url), ue.Err)
		return channels.Retryable(n.fail(m, msg, ue.Err), 0)
	case err != nil:
		return channels.Retryable(n.fail(m, err.Error(), nil), 0)
	}
	if rerr := rec.Err(); rerr != nil {
		return channels.RetryableAs(rerr, n.fail(m, rerr.Error(), nil))
	}
	return nil
}

// Sign is the signature of body sent at t: the timestamp (Unix seconds,
// the TimestampHeader's value) and "sha256=" and the hex HMAC-SHA256,
// under key, of the timestamp, ".", and the body's exact bytes (the
// signature header's value). A receiver recomputes it over what it
// received, compares in constant time, and refuses a timestamp far from
// its clock (a replay).
func Sign(key []byte, t time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return timestamp, "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// fail is the error for m: msg with every secret removed (see
// channels.SafeError).
func (n *Notifier) fail(m *channels.Message, msg string, cause error) error {
	return channels.SafeError(fmt.Sprintf("webhook: %s %q: %s", m.Action, m.Key, msg), cause, n.secrets)
}

// valueForms lists a header file's value and each of its words long
// enough to be the secret part ("Bearer <token>": a receiver may echo
// the token alone).
func valueForms(v string) []string {
	forms := []string{v}
	for _, w := range strings.Fields(v) {
		if len(w) >= 8 {
			forms = append(forms, w)
		}
	}
	return forms
}
