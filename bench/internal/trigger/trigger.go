// Package trigger is what bench/post and bench/floor share, so the two
// baselines read and send exactly the same: the CMON alarm on stdin and
// one Events API v2 trigger, posted with net/http.
package trigger

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
)

// Alarm is the part of a CMON plugin message the baselines use.
type Alarm struct {
	ID      json.Number `json:"id"`
	CID     int         `json:"cid"`
	Message string      `json:"message"`
}

// Read decodes the message on r.
func Read(r io.Reader) (Alarm, error) {
	var msg struct {
		Alarm Alarm `json:"alarm"`
	}
	in, err := io.ReadAll(r)
	if err == nil {
		err = json.Unmarshal(in, &msg)
	}
	return msg.Alarm, err
}

// Body is the trigger for a, deduplicated by dedupKey.
func Body(routingKey, dedupKey, source string, a Alarm) []byte {
	body, _ := json.Marshal(map[string]any{
		"routing_key":  routingKey,
		"event_action": "trigger",
		"dedup_key":    dedupKey,
		"payload":      map[string]string{"summary": a.Message, "source": source, "severity": "critical"},
	})
	return body
}

// Post sends body to the Events API at url and wants it accepted (202).
func Post(url string, body []byte) error { return PostWith(http.DefaultClient, url, body) }

// PostWith is Post through c.
func PostWith(c *http.Client, url string, body []byte) error {
	resp, err := c.Post(url+"/v2/enqueue", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// Trusting is a client like http.DefaultClient (HTTP/2 where the server
// offers it) that trusts only the CA certificates in the PEM file
// caFile, and verifies the server against them.
func Trusting(caFile string) (*http.Client, error) {
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	return &http.Client{Transport: tr}, nil
}
