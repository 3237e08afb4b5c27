// Package msteams posts messages to a Microsoft Teams channel through a
// Workflows webhook ("Post to a channel when a webhook request is
// received"), as one Adaptive Card each: coloured by severity, with the
// event's facts, and a new green card for a resolve (a webhook cannot
// update what it posted). It classifies failures for channels.Deliver
// (429, 5xx and network trouble are retryable; other refusals are not,
// with the service's own text) and keeps the webhook URL, whose sig=
// parameter is the secret, out of every error.
package msteams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"notifier/channels"
)

// Notifier posts to one Workflows webhook. It is safe for concurrent
// use. It keeps one HTTP client for its life, whose connections stay
// open between messages (HTTP/2 where offered); Close drops them.
type Notifier struct {
	url     string
	http    *http.Client
	secrets []string // every form in which the URL's secret may show in an error
}

var _ channels.Channel = (*Notifier)(nil)

// Type is the msteams channel type, for channels/registry.
var Type = channels.NewType("msteams",
	"Microsoft Teams: an Adaptive Card posted to a channel through a Workflows webhook (webhook_url_file); a resolve is a new, green card.",
	map[string]string{
		"webhook_url":      "A Workflows webhook URL, inline. Lint warns: its sig= parameter is the secret, prefer webhook_url_file.",
		"webhook_url_file": "A file holding the URL of a Teams Workflows webhook (template \"Post to a channel when a webhook request is received\"); relative to the policy file.",
		"timeout":          "Bound on one HTTP attempt; default 10s.",
		"title":            "A template for the card's heading, under the severity line; default the event's summary. Must not render blank.",
		"text":             "A template for the card's text, under the heading (Adaptive Card markdown); default the event's message.",
		"facts":            "Facts to add, NAME: template; one named like a built-in fact (Cluster, Node, Event type, Key, Rule, Time, Count, Suppressed) replaces it, and one that renders blank leaves it out.",
	}, New)

// New validates c, reads its secret file and returns a Notifier. It does
// no network I/O. Errors name the option and the file, never the URL.
func New(c Config) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("msteams: %w", err)
	}
	u, err := channels.ReadSecret("webhook_url", c.WebhookURL, c.WebhookURLFile)
	if err != nil {
		return nil, fmt.Errorf("msteams: %w", err)
	}
	field := "webhook_url"
	if c.WebhookURLFile != "" {
		field = fmt.Sprintf("webhook_url_file %q", c.WebhookURLFile)
	}
	if err := checkURL(field, u); err != nil {
		return nil, fmt.Errorf("msteams: %w", err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &Notifier{url: u, http: channels.NewHTTPClient(timeout), secrets: channels.SecretForms(u)}, nil
}

// Close closes the connections kept open for the next message. A
// Notify after Close still works, on a new connection.
func (n *Notifier) Close() error {
	n.http.CloseIdleConnections()
	return nil
}

// Notify posts m as one card. It does not retry: failures worth retrying
// come back wrapped by channels.Retryable, with the service's
// Retry-After.
func (n *Notifier) Notify(ctx context.Context, m *channels.Message) error {
	if err := n.post(ctx, Encode(BuildPayload(m))); err != nil {
		return fmt.Errorf("msteams: post %q: %w", m.Key, err)
	}
	return nil
}

// post sends body and classifies the outcome. Any 2xx is success: a
// Workflows webhook answers 202 Accepted and runs the flow afterwards.
func (n *Notifier) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		// The URL passed checkURL, so this is hardly reachable; its text
		// may quote the URL.
		return n.safe("build the request: "+err.Error(), nil)
	}
	req.Header.Set("Content-Type", "application/json")
	// The Recorder keeps a refusal's body with the URL's secret forms
	// removed before it is cut to what an error shows.
	rec := &channels.Recorder{Client: n.http, Explain: explain, Secrets: n.secrets}
	resp, err := rec.Do(req)
	if resp != nil {
		resp.Body.Close() // drains what is left, so the connection is reused
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Refused, reset, timed out, ctx done: worth another try. The
		// client's url.Error quotes the URL; the transport's own error
		// under it, kept for errors.As (net.Error's Timeout), does not.
		msg := fmt.Sprintf("%s %q: %v", ue.Op, channels.RedactURL(ue.URL), ue.Err)
		return channels.Retryable(n.safe(msg, ue.Err), 0)
	}
	err = rec.Err()
	if err == nil {
		return nil // any 2xx: a Workflows webhook answers 202 Accepted
	}
	return channels.RetryableAs(err, n.safe(err.Error(), nil))
}

// explain reduces the Azure error object a flow's trigger answers with,
// {"error":{"code":"...","message":"..."}}, to "code: message"; other
// bodies pass as they are.
func explain(body []byte) []byte {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Error.Code == "" && e.Error.Message == "") {
		return body
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		return []byte(e.Error.Code + e.Error.Message)
	}
	return []byte(e.Error.Code + ": " + e.Error.Message)
}

// safe builds a returned error: msg with every form of the secret
// removed, unwrapping to cause only when cause's own text holds none.
func (n *Notifier) safe(msg string, cause error) error {
	return channels.SafeError(msg, cause, n.secrets)
}
