package channels

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTPClientKeepsOneConnection: through a Recorder on the client
// NewHTTPClient makes, answers a library closes unread — a proxy's
// 100 KB error page, a chunked 200 — still leave the connection for the
// next request. net/http drops an HTTP/1.1 connection whose last body was
// not read to the end.
func TestHTTPClientKeepsOneConnection(t *testing.T) {
	page := strings.Repeat("<p>bad gateway</p>", 100_000/18)
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, page)
		case 1:
			w.(http.Flusher).Flush() // no Content-Length: chunked
			io.WriteString(w, `{"ok":true}`+"\n")
		default:
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := NewHTTPClient(10 * time.Second)
	defer c.CloseIdleConnections()
	for i := range 12 {
		for _, via := range []string{"RoundTrip", "Do"} {
			rec := &Recorder{Client: c}
			req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			var resp *http.Response
			if via == "Do" {
				resp, err = rec.Do(req)
			} else {
				resp, err = rec.HTTPClient().Do(req)
			}
			if err != nil {
				t.Fatalf("request %d via %s: %v", i, via, err)
			}
			resp.Body.Close() // unread, as slack-go does with a 5xx
		}
	}
	if c := conns.Load(); c != 1 {
		t.Errorf("24 requests took %d connections, want 1", c)
	}
}

// TestHTTPClient: what the channels' client is made of.
func TestHTTPClient(t *testing.T) {
	c := NewHTTPClient(3 * time.Second)
	tr, ok := c.Transport.(*http.Transport)
	if !ok || tr == http.DefaultTransport {
		t.Fatalf("transport %T: want one of its own", c.Transport)
	}
	if c.Timeout != 3*time.Second || !tr.ForceAttemptHTTP2 || tr.MaxIdleConnsPerHost < 16 ||
		tr.TLSHandshakeTimeout == 0 || tr.IdleConnTimeout == 0 || tr.Proxy == nil {
		t.Errorf("client %+v transport %+v", c, tr)
	}
}
