package channels

import (
	"bytes"
	"io"
	"net/http"
)

// maxErrorBody bounds how much of a failed response's body a Recorder
// keeps: room for PagerDuty's error object or Slack's error code, not for
// a proxy's whole HTML error page.
const maxErrorBody = 16 << 10

// Recorder sits between a client library and the network and remembers
// what the libraries throw away, so a channel can report the failure as
// HTTPStatusError: go-pagerduty decodes an Events API error body in the
// REST API's shape (and loses PagerDuty's explanation) and flattens
// transport errors with %v (and loses net.Error); slack-go drops the body
// of a non-200 answer and reads Retry-After only as seconds.
//
// A Recorder describes the last exchange only: use one per Notify call,
// from one goroutine. The response it hands on is unchanged, body
// included, so the library behaves as it would without it.
type Recorder struct {
	// Client sends the requests: its Timeout, redirect policy and
	// Transport (nil: http.DefaultTransport) apply. Nil means a client
	// without a timeout. Its Transport must not be the Recorder itself.
	Client *http.Client
	// Explain turns the body of a failed response into the text worth
	// showing, such as an API error object into its message; nil keeps
	// the body as it is.
	Explain func(body []byte) []byte
	// Secrets are removed from the body (Redact) before it is explained
	// and cut to what an error shows: redacted after the cut, a secret
	// the server echoed across it would survive in part.
	Secrets []string

	status int
	header http.Header
	body   []byte
	err    error
}

// HTTPClient returns a copy of Client that sends through the Recorder,
// for libraries that take an *http.Client (slack-go).
func (r *Recorder) HTTPClient() *http.Client {
	var c http.Client
	if r.Client != nil {
		c = *r.Client
	}
	c.Transport = r
	return &c
}

// Do sends req with Client, for libraries that take anything with a Do
// method (go-pagerduty), and records the outcome as RoundTrip does. The
// error it records is the client's own, which names the URL and says
// when Client.Timeout ran out; and as Client's transport is left alone,
// net/http knows it and words that timeout the same way every time.
func (r *Recorder) Do(req *http.Request) (*http.Response, error) {
	c := r.Client
	if c == nil {
		c = &http.Client{}
	}
	resp, err := c.Do(req)
	return r.record(resp, err)
}

// RoundTrip implements http.RoundTripper. It sends req through Client's
// transport and records the outcome: the transport error, or the status
// and, for a status outside 2xx, the headers and the first bytes of the
// body.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := http.DefaultTransport
	if r.Client != nil && r.Client.Transport != nil {
		base = r.Client.Transport
	}
	return r.record(base.RoundTrip(req))
}

// record remembers one exchange, forgetting the one before, and hands
// resp on with its body intact; closing it reads what the library left
// unread, so the connection can be reused.
func (r *Recorder) record(resp *http.Response, err error) (*http.Response, error) {
	r.status, r.header, r.body, r.err = 0, nil, nil, err
	if err != nil || resp == nil {
		return resp, err
	}
	r.status = resp.StatusCode
	if success(resp.StatusCode) {
		resp.Body = drainCloser{resp.Body, resp.Body}
		return resp, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	r.header, r.body = resp.Header.Clone(), b
	resp.Body = drainCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	return resp, nil
}

// Status is the HTTP status of the last response, 0 when none arrived.
func (r *Recorder) Status() int { return r.status }

// Err classifies the last exchange for Deliver. It is nil when nothing
// was sent or the answer was 2xx (whatever the library made of the
// answer: the server took the message, and sending it again would
// duplicate it). A transport or client error, a timeout included, is
// returned retryable; any other status becomes HTTPStatusError with the
// recorded Retry-After and the explained body.
//
// Through Do the error is the client's url.Error, which quotes the
// request URL: a channel whose URL carries a secret must redact it.
// Through RoundTrip it is the transport's, which for Client.Timeout says
// only "request canceled" or "context deadline exceeded"; a library that
// keeps the client's error (slack-go) has the better text.
func (r *Recorder) Err() error {
	switch {
	case r.err != nil:
		return Retryable(r.err, 0)
	case r.status == 0 || success(r.status):
		return nil
	}
	body := r.body
	if len(r.Secrets) > 0 {
		body = []byte(Redact(string(body), r.Secrets...))
	}
	if r.Explain != nil {
		body = r.Explain(body)
	}
	return HTTPStatusError(r.status, r.header, body)
}

func success(status int) bool { return status >= 200 && status <= 299 }
