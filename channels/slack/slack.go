// Package slack delivers messages to Slack through an incoming webhook or
// the Web API's chat.postMessage, using slack-go. It classifies failures
// for channels.Deliver (rate limits, 5xx and network trouble are
// retryable; Slack's own refusals such as invalid_auth are not) and keeps
// the webhook URL and token out of every error.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	goslack "github.com/slack-go/slack"

	"notifier/channels"
)

// retryableAPIError reports whether a Web API error code describes
// Slack's state rather than our request, so that trying later may work.
// https://api.slack.com/methods/chat.postMessage#errors
func retryableAPIError(code string) bool {
	switch code {
	case "ratelimited", "rate_limited", "request_timeout", "service_unavailable", "fatal_error", "internal_error":
		return true
	}
	return false
}

// Notifier posts to one Slack destination. It is safe for concurrent use.
// It keeps one HTTP client for its life, whose connections stay open
// between messages (HTTP/2 where offered); Close drops them.
type Notifier struct {
	webhook string // set for a webhook, else token and channel
	token   string
	channel string
	apiURL  string
	http    *http.Client
	secrets []string // every form in which a secret may show up in an error
}

var _ channels.Channel = (*Notifier)(nil)

// Type is the slack channel type, for channels/registry.
var Type = channels.NewType("slack",
	"Slack: an incoming webhook (webhook_url_file), or a bot token with a channel (token_file and channel).",
	map[string]string{
		"webhook_url":      "An incoming-webhook URL, inline. Lint warns: the URL is the secret, prefer webhook_url_file.",
		"webhook_url_file": "A file holding the incoming-webhook URL; relative to the policy file. The webhook posts to the channel it was created for.",
		"token":            "A bot token, inline. Lint warns: prefer token_file.",
		"token_file":       "A file holding a bot token (chat:write); relative to the policy file. Needs channel.",
		"channel":          "The channel ID or name to post to with a token, like #db-alerts. Not used with a webhook.",
		"api_url":          "The Web API base URL, with a token only; default https://slack.com/api/.",
		"timeout":          "Bound on one HTTP attempt; default 10s.",
		"title":            "Template of the header line, the message's top-level text (what notifications show); must not render blank. Default: [SEVERITY] summary, prefixed Resolved: on a resolve; a title replaces all of it, so branch on .delivery. Cut to 1024 bytes.",
		"text":             "Template of the attachment's text. Default: the event's message. Cut to 8000 bytes.",
		"footer":           "Template of the attachment's footer. Default: key KEY · rule RULE · SOURCE. Cut to 300 bytes.",
		"fields":           "Templates of attachment fields by title (no '.' in a title): one replaces the built-in field of that title in any case (Cluster, Node, Type, Count, Suppressed since the last message, Recommendation), else is added after them; one that renders blank is left out. Values are cut to 2000 bytes; a new one of up to 40 bytes on one line shows beside another.",
	}, New)

// New validates c, reads its secret file and returns a Notifier. Errors
// name the field and file, never the secret.
func New(c Config) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	n := &Notifier{
		channel: c.Channel,
		apiURL:  c.APIURL,
	}
	if n.apiURL == "" {
		n.apiURL = DefaultAPIURL
	}
	if !strings.HasSuffix(n.apiURL, "/") {
		n.apiURL += "/" // slack-go appends the method name as is
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	n.http = channels.NewHTTPClient(timeout)
	if c.WebhookURL != "" || c.WebhookURLFile != "" {
		u, err := channels.ReadSecret("webhook_url", c.WebhookURL, c.WebhookURLFile)
		if err != nil {
			return nil, fmt.Errorf("slack: %w", err)
		}
		field := "webhook_url"
		if c.WebhookURLFile != "" {
			field = fmt.Sprintf("webhook_url_file %q", c.WebhookURLFile)
		}
		if err := channels.CheckHTTPURL(field, u); err != nil {
			return nil, fmt.Errorf("slack: %w", err)
		}
		n.webhook = u
		n.secrets = channels.SecretForms(u)
		return n, nil
	}
	tok, err := channels.ReadSecret("token", c.Token, c.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	field := "token"
	if c.TokenFile != "" {
		field = fmt.Sprintf("token_file %q", c.TokenFile)
	}
	if err := checkToken(field, tok); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	n.token = tok
	n.secrets = []string{tok, url.QueryEscape(tok)}
	return n, nil
}

// Close closes the connections kept open for the next message. A
// Notify after Close still works, on a new connection.
func (n *Notifier) Close() error {
	n.http.CloseIdleConnections()
	return nil
}

// Notify posts one message. It does not retry: failures worth retrying
// come back wrapped by channels.Retryable, with Slack's Retry-After.
func (n *Notifier) Notify(ctx context.Context, m *channels.Message) error {
	_, err := n.NotifyRef(ctx, m)
	return err
}

// NotifyRef is Notify returning, for the Web API, where the message went
// ("<channel id>/<ts>"). A resolve, or a group's update, whose Ref names
// an earlier message updates that message in place (chat.update)
// instead of posting a new one; if Slack no longer has it, a new message
// is posted. A webhook
// cannot be updated: a resolve is a new, green message, and the ref "".
func (n *Notifier) NotifyRef(ctx context.Context, m *channels.Message) (string, error) {
	msg := BuildMessage(m)
	// A recorder per call, so it sees only this call's response;
	// connections are still pooled by the Notifier's client.
	rec := &channels.Recorder{Client: n.http, Explain: errorText, Secrets: n.secrets}
	hc := rec.HTTPClient()
	var (
		op  string
		err error
	)
	var ref string
	if n.webhook != "" {
		op = "webhook"
		err = goslack.PostWebhookCustomHTTPContext(ctx, n.webhook, hc, &msg)
	} else {
		api := goslack.New(n.token, goslack.OptionAPIURL(n.apiURL), goslack.OptionHTTPClient(hc))
		opts := []goslack.MsgOption{
			goslack.MsgOptionText(msg.Text, false), // already escaped by BuildMessage
			goslack.MsgOptionAttachments(msg.Attachments...),
		}
		var channel, ts string
		// A resolve, or a group's update (its members changed), updates
		// the message it follows in place.
		if ch, t, ok := strings.Cut(m.Ref, "/"); ok && (m.Action == channels.Resolve || len(m.Members) > 0) {
			op = "chat.update"
			channel, ts, _, err = api.UpdateMessageContext(ctx, ch, t, opts...)
			var se goslack.SlackErrorResponse
			if errors.As(err, &se) && (se.Err == "message_not_found" || se.Err == "channel_not_found") {
				err = nil // gone (deleted, or the channel archived): post instead
				ch = ""
			}
			if ch == "" {
				rec = &channels.Recorder{Client: n.http, Explain: errorText, Secrets: n.secrets}
				api = goslack.New(n.token, goslack.OptionAPIURL(n.apiURL), goslack.OptionHTTPClient(rec.HTTPClient()))
			}
			if err == nil && ch == "" {
				op = "chat.postMessage"
				channel, ts, err = api.PostMessageContext(ctx, n.channel, opts...)
			}
		} else {
			op = "chat.postMessage"
			channel, ts, err = api.PostMessageContext(ctx, n.channel, opts...)
		}
		if err == nil && channel != "" && ts != "" {
			ref = channel + "/" + ts
		}
	}
	if err != nil {
		return "", fmt.Errorf("slack: post %q: %w", m.Key, n.classify(op, err, rec))
	}
	return ref, nil
}

// classify turns what slack-go returned into an error that says what
// Slack said, is retryable when trying again may help, and carries no
// secret.
func (n *Notifier) classify(op string, err error, rec *channels.Recorder) error {
	if rec.Status() != 0 {
		if e := rec.Err(); e != nil {
			// slack-go drops the body of a non-2xx answer (where a
			// webhook says why: invalid_payload, no_service,
			// channel_is_archived) and reads Retry-After only as
			// seconds; the recorded response has both. 429 and 5xx
			// are retryable.
			return channels.RetryableAs(e, n.safe(op+": "+e.Error(), nil))
		}
	}
	var (
		apiErr goslack.SlackErrorResponse
		urlErr *url.Error
		netErr net.Error
	)
	switch {
	case errors.As(err, &apiErr):
		// HTTP 200 with {"ok":false,"error":"..."}: Slack's own verdict.
		safe := n.safe(op+": "+apiErr.Err, apiErr)
		if retryableAPIError(apiErr.Err) {
			return channels.Retryable(safe, 0)
		}
		return safe
	case errors.As(err, &urlErr):
		// The transport failed (refused, reset, timed out, ctx done).
		// slack-go keeps the client's url.Error, which says more than
		// the recorder's transport error: which URL, and whether
		// Client.Timeout ran out. It quotes the URL, which for a webhook
		// is the secret;
		// the Web API's URL is not, and says which api_url was used.
		u := urlErr.URL
		if n.webhook != "" {
			u = channels.RedactURL(u)
		}
		msg := fmt.Sprintf("%s: %s %q: %v", op, urlErr.Op, u, urlErr.Err)
		return channels.Retryable(n.safe(msg, urlErr.Err), 0)
	case errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Cut off while reading the answer.
		return channels.Retryable(n.safe(op+": "+err.Error(), nil), 0)
	}
	// Anything else (an answer that is not Slack's JSON, say, from a
	// wrong api_url) will not fix itself.
	return n.safe(op+": "+err.Error(), nil)
}

// errorText reduces a Web API error body, {"ok":false,"error":"code"}, to
// its code; other bodies (a webhook's plain "no_service") pass as they are.
func errorText(body []byte) []byte {
	var r struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &r) == nil && r.Error != "" {
		return []byte(r.Error)
	}
	return body
}

// safe builds the returned error: msg with every form of the secret
// removed, unwrapping only to cause, which must not carry the secret.
func (n *Notifier) safe(msg string, cause error) error {
	return channels.SafeError(msg, cause, n.secrets)
}
