package channels

import (
	"io"
	"net"
	"net/http"
	"time"
)

// maxIdlePerHost is how many idle connections a channel keeps to its
// service: one per engine worker (notifier serve --workers, 16 by
// default), so that a burst of deliveries reuses its connections instead
// of opening new ones (net/http keeps 2 unless told).
const maxIdlePerHost = 16

// maxDrain bounds what a Recorder reads of a response body its library
// left unread, so that the connection can carry the next request: more
// than an API answer or a proxy's error page, not an endless stream.
const maxDrain = 256 << 10

// NewHTTPClient returns the client an HTTP channel keeps for its life and
// sends every message through. Its Transport is its own, so the
// connections it keeps alive between messages (and its TLS sessions) are
// the channel's, and the channel's Close can drop them
// (CloseIdleConnections): the resident engine builds each channel once
// and sends many events through one connection, where a process per
// event paid a TCP and TLS handshake each. HTTP/2 is used where the
// service offers it over TLS. timeout bounds each request, answer
// included; the dial and the TLS handshake have bounds of their own, as
// in http.DefaultTransport, and proxies come from the environment as
// there.
func NewHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   maxIdlePerHost,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
}

// drainCloser is a response body that, when closed, first reads what
// is left of it (up to maxDrain): net/http reuses an HTTP/1.1
// connection only when its last response was read to the end, and the
// client libraries close without reading a body they do not want (an
// error page, the newline after a JSON answer).
type drainCloser struct {
	io.Reader
	body io.ReadCloser // the original, closed once drained
}

func (d drainCloser) Close() error {
	io.CopyN(io.Discard, d.Reader, maxDrain)
	return d.body.Close()
}
