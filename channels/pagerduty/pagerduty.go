// Package pagerduty delivers messages to PagerDuty through the Events API
// v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/),
// using go-pagerduty's client. A Trigger message opens or updates the
// alert whose dedup_key is the message key, and so does an Inform:
// PagerDuty has no plain notification, and paging is what it was chosen
// for. A Resolve message with the same key closes it.
package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	pd "github.com/PagerDuty/go-pagerduty"

	"notifier/channels"
	"notifier/internal/keys"
)

// Events API v2 limits, from
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ .
const (
	routingKeyLen  = 32   // integration keys are 32 characters
	maxDedupKeyLen = 255  // dedup_key: "maximum of 255 characters"
	maxSummaryLen  = 1024 // payload.summary: "maximum of 1024 characters"
	// maxEventSize is the Events API's limit on one event, "512 KB"
	// (https://developer.pagerduty.com/docs/events-api-v2/overview/ and
	// .../trigger-events/); a bigger event is answered 400 and never
	// pages. Read as 512 000 bytes, the stricter of the two readings.
	maxEventSize = 512 * 1000
)

const (
	// maxMembers bounds the members a group's custom_details lists.
	maxMembers = 200
	// maxDetailLen bounds each custom_details value so a huge raw field
	// cannot push the event past the API's 512 KB limit.
	maxDetailLen = 4096
	// maxFieldLen bounds payload.source, component, group and class,
	// for which PagerDuty states no limit of its own: they name a host
	// or a kind, and a 100 KB node name must not crowd out the rest.
	maxFieldLen = maxSummaryLen
	// truncatedKey is the custom_details entry that says what was left
	// out to fit maxEventSize.
	truncatedKey = "truncated"
	// defaultSource is payload.source when the message names no host.
	defaultSource = "notifier"
)

// Notifier sends messages to one PagerDuty integration. It is safe for
// concurrent use. It keeps one HTTP client for its life, whose
// connections stay open between messages (HTTP/2 where offered); Close
// drops them.
type Notifier struct {
	cfg        Config // defaults applied
	routingKey string
	http       *http.Client
}

var _ channels.Channel = (*Notifier)(nil)

// Type is the pagerduty channel type, for channels/registry.
var Type = channels.NewType("pagerduty",
	"PagerDuty Events API v2: critical events open incidents, and a recovery resolves them. Needs routing_key_file (or routing_key).",
	map[string]string{
		"routing_key":      "The Events API v2 integration key, inline (32 characters). Lint warns: prefer routing_key_file, which keeps the secret out of the policy.",
		"routing_key_file": "A file holding the Events API v2 integration key; relative to the policy file.",
		"events_url":       "The Events API base URL; default https://events.pagerduty.com. EU accounts: https://events.eu.pagerduty.com.",
		"timeout":          "Bound on one request; default 10s. The run's deadline still bounds all attempts together.",
		"client":           "The sender PagerDuty shows as the event's origin; default notifier.",
		"client_url":       "The link PagerDuty shows next to client, e.g. the ClusterControl UI.",
		"summary":          "Template of payload.summary, the line PagerDuty pages with; must not render blank. Default: notifier's one-line summary. Cut to 1024 bytes.",
		"source":           "Template of payload.source, the affected host; must not render blank. Default: the node, else the controller, else notifier.",
		"component":        "Template of payload.component; blank leaves it out. Default: the event's kind (alarm, node, resource, ...).",
		"group":            "Template of payload.group; blank leaves it out. Default: the cluster's name, else cluster-<id>.",
		"class":            "Template of payload.class; blank leaves it out. Default: the event type.",
		"custom_details":   "Templates of custom_details entries by name (no '.' in a name): added to the built-in entries (the event's fields, rule, key, message, ...), replacing the one of the same name; one that renders blank is left out. Each value is cut to 4096 bytes.",
		"links":            "Links shown on the incident, in order: a list of {href, text}, both templates; href is required, and a link whose href renders blank (or is over 2048 bytes) is left out; text defaults to the URL.",
	}, New)

// New validates c, reads the routing key (from routing_key_file when
// given) and applies defaults. It does no network I/O.
func New(c Config) (*Notifier, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("pagerduty: %w", err)
	}
	key, err := channels.ReadSecret("routing_key", c.RoutingKey, c.RoutingKeyFile)
	if err != nil {
		return nil, fmt.Errorf("pagerduty: %w", err)
	}
	if err := checkRoutingKey("routing_key_file", key); err != nil {
		return nil, fmt.Errorf("pagerduty: %w", err)
	}
	c = c.withDefaults()
	return &Notifier{
		cfg:        c,
		routingKey: key,
		http:       channels.NewHTTPClient(c.Timeout),
	}, nil
}

// Close closes the connections kept open for the next message. A
// Notify after Close still works, on a new connection.
func (n *Notifier) Close() error {
	n.http.CloseIdleConnections()
	return nil
}

// Notify sends m as one Events API v2 event. Rate limits (429), server
// errors (5xx), network failures and timeouts are returned as
// channels.Retryable, honouring Retry-After; a rejected event (400) is a
// permanent error carrying PagerDuty's own explanation.
func (n *Notifier) Notify(ctx context.Context, m *channels.Message) error {
	ev := BuildEvent(n.routingKey, n.cfg, m)
	// A client per call is a few allocations; it lets the recorder
	// belong to this one request. go-pagerduty flattens transport errors
	// and misreads Events API error bodies; the recorder keeps both.
	rec := &channels.Recorder{Client: n.http, Explain: explain}
	client := pd.NewClient("", pd.WithV2EventsAPIEndpoint(n.cfg.EventsURL))
	client.HTTPClient = rec
	_, err := client.ManageEventWithContext(ctx, ev)
	if err == nil {
		return nil
	}
	if rerr := rec.Err(); rerr != nil {
		return n.wrap(ev, rerr)
	}
	if rec.Status() != 0 {
		// PagerDuty accepted the event (2xx); only its answer was
		// unreadable. Sending it again would be a duplicate, so this is
		// success.
		return nil
	}
	// Failed before any request went out (e.g. building it).
	return n.wrap(ev, err)
}

// wrap gives err its context and makes sure the routing key cannot leak
// through it: should the key appear (a server echoing it, a URL), the
// text is redacted, at the cost of the error chain.
func (n *Notifier) wrap(ev *pd.V2Event, err error) error {
	wrapped := fmt.Errorf("pagerduty: %s %q: %w", ev.Action, ev.DedupKey, err)
	msg := wrapped.Error()
	if red := channels.Redact(msg, n.routingKey); red != msg {
		return channels.RetryableAs(err, errors.New(red))
	}
	return wrapped
}

// explain turns an Events API error body into the text an operator
// needs, "Event object is invalid: Length of 'routing_key' is incorrect
// ...". go-pagerduty's client decodes error bodies in the REST API's
// shape, so for the Events API it reports "no JSON error object" and
// drops PagerDuty's explanation; the recorder keeps the body instead.
// Bodies that are not the API's error object pass through as they are.
func explain(body []byte) []byte {
	var e struct {
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
		return body
	}
	if len(e.Errors) == 0 {
		return []byte(e.Message)
	}
	return []byte(e.Message + ": " + strings.Join(e.Errors, "; "))
}

// BuildEvent maps a message onto an Events API v2 event. It is pure: the
// whole mapping is tested without a network.
//
//   - event_action: resolve for channels.Resolve, otherwise trigger
//     (channels.Trigger and channels.Inform alike). A resolve carries
//     only routing_key and dedup_key: PagerDuty ignores the rest.
//   - dedup_key: m.Key, or DedupKey's hashed form when it is too long.
//   - payload.summary: m.Summary (m.Key when blank), cut to 1024 bytes.
//   - payload.severity: critical, warning and info map to themselves,
//     anything else to error.
//   - payload.source: m.Node, else m.Controller, else "notifier".
//   - payload.component: m.Kind (alarm, node, resource, fencing, ...);
//     payload.class: m.EventType; payload.group: m.Cluster, else
//     "cluster-<id>".
//   - payload.custom_details: m.Details, overlaid with rule, key,
//     cluster_id, count, message, recommendation, controller and the rest
//     of the normalised fields.
//   - client, client_url: from c (client defaults to "notifier").
//
// Those are the built-in texts. The message's parts (the policy's
// templates, rendered) replace them option by option: summary, source
// (still never blank), component, group and class; custom_details.NAME
// entries are added or replace the built-in entry NAME (blank: left
// out); links.N.href and links.N.text become the event's links. The
// same bounds apply to a part as to the text it replaces.
func BuildEvent(routingKey string, c Config, m *channels.Message) *pd.V2Event {
	ev := &pd.V2Event{
		RoutingKey: routingKey,
		Action:     "trigger",
		DedupKey:   DedupKey(m.Key),
	}
	if m.Action == channels.Resolve {
		ev.Action = "resolve"
		return ev
	}
	ev.Client, ev.ClientURL = c.Client, c.ClientURL
	if ev.Client == "" {
		ev.Client = DefaultClient
	}
	summary := m.PartOr("summary", m.Summary)
	if strings.TrimSpace(summary) == "" {
		summary = m.Key
	}
	group := m.Cluster
	if group == "" && m.ClusterID > 0 {
		group = "cluster-" + strconv.Itoa(m.ClusterID)
	}
	source, _ := m.Part("source")
	pl := &pd.V2Payload{
		Summary: channels.Truncate(summary, maxSummaryLen),
		// A blank source is refused (400): the page would be lost.
		Source:    channels.Truncate(channels.FirstNonEmpty(source, m.Node, m.Controller, defaultSource), maxFieldLen),
		Severity:  severity(m.Severity),
		Component: channels.Truncate(m.PartOr("component", m.Kind), maxFieldLen),
		Class:     channels.Truncate(m.PartOr("class", m.EventType), maxFieldLen),
		Group:     channels.Truncate(m.PartOr("group", group), maxFieldLen),
		Details:   details(m),
	}
	if !m.Time.IsZero() {
		pl.Timestamp = m.Time.UTC().Format(time.RFC3339Nano)
	}
	ev.Payload = pl
	if ls := links(m); len(ls) > 0 {
		ev.Links = ls
	}
	fit(ev, m)
	return ev
}

// fit keeps ev within maxEventSize. Each custom_details value is capped,
// but an alarm may carry any number of raw fields: when the event is too
// big, raw fields are left out, the largest first, and custom_details
// says how many ("truncated"). The routing key, dedup_key, action,
// severity, summary and the normalised fields (rule, key, message, ...)
// are what the page is about and are kept; the entries the policy's
// templates wrote go only if the raw fields were not enough, and the
// message and the recommendation last (they cannot be needed: the rest
// is bounded far below the limit).
func fit(ev *pd.V2Event, m *channels.Message) {
	size := encodedSize(ev)
	if size <= maxEventSize {
		return
	}
	d := ev.Payload.Details.(map[string]any)
	templated := templatedDetails(d, m)
	raw := make(map[string]string, len(m.Details))
	for k := range m.Details {
		if _, mine := templated[k]; !mine && !normalised[k] {
			if v, ok := d[k].(string); ok {
				raw[k] = v
			}
		}
	}
	final := last(d)
	for k := range templated {
		delete(final, k)
	}
	total, omitted := len(d), 0
	// The note costs bytes too; reserve them before choosing.
	const noteReserve = 200
	for _, group := range []map[string]string{raw, templated, final} {
		drop := channels.Shed(group, size-maxEventSize+noteReserve, entrySize)
		for _, k := range drop {
			delete(d, k)
		}
		omitted += len(drop)
		d[truncatedKey] = channels.OmittedNote(omitted, total, "custom_details fields", "PagerDuty's 512 KB event limit")
		if size = encodedSize(ev); size <= maxEventSize {
			return
		}
	}
}

// last is what fit gives up after the raw fields: the long free texts.
func last(d map[string]any) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"message", "recommendation"} {
		if v, ok := d[k].(string); ok {
			out[k] = v
		}
	}
	return out
}

// normalised names the custom_details entries details sets from the
// message itself; they win over a raw field of the same name.
var normalised = map[string]bool{
	"rule": true, "key": true, "source": true, "kind": true, "event_type": true, "cluster": true,
	"node": true, "controller": true, "name": true, "message": true, "recommendation": true,
	"cluster_id": true, "count": true, "suppressed_since_last": true, truncatedKey: true,
}

// encodedSize is the size of ev on the wire, as go-pagerduty encodes it.
func encodedSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0 // cannot happen for strings, ints and maps of them
	}
	return len(b)
}

// entrySize is what one custom_details entry adds to the encoded event:
// "key":"value", and a comma.
func entrySize(k, v string) int {
	return encodedSize(k) + encodedSize(v) + 2
}

// DedupKey returns key as PagerDuty can take it: keys of up to 255 bytes
// as they are, longer ones bounded by keys.Bound (their first 190 bytes,
// "~" and the SHA-256 of the whole key), so a resolve finds the alert its
// trigger opened. The state bounds its record ids the same way. The full
// key is also sent in custom_details.key.
func DedupKey(key string) string {
	return keys.Bound(key, maxDedupKeyLen)
}

// severity maps our severities onto PagerDuty's; "error" is PagerDuty's
// own level between warning and critical and the safe choice for
// anything unknown: it pages, but is not dressed up as critical.
func severity(s string) string {
	switch s {
	case channels.SeverityCritical, channels.SeverityWarning, channels.SeverityInfo:
		return s
	default:
		return "error"
	}
}

// details builds custom_details: the raw fields first, then the
// normalised ones, which win a name clash because they are what the
// policy matched on, then the policy's templated entries, which win
// over both because the policy wrote them for this channel.
func details(m *channels.Message) map[string]any {
	d := make(map[string]any, len(m.Details)+12)
	for k, v := range m.Details {
		d[k] = channels.Truncate(v, maxDetailLen)
	}
	for k, v := range map[string]string{
		"rule":           m.Rule,
		"key":            m.Key,
		"source":         m.Source,
		"kind":           m.Kind,
		"event_type":     m.EventType,
		"cluster":        m.Cluster,
		"node":           m.Node,
		"controller":     m.Controller,
		"name":           m.Name,
		"message":        m.Text,
		"recommendation": m.Recommendation,
	} {
		if v != "" {
			d[k] = channels.Truncate(v, maxDetailLen)
		}
	}
	if m.ClusterID != 0 {
		d["cluster_id"] = m.ClusterID
	}
	if m.Count != 0 {
		d["count"] = m.Count
	}
	if m.Suppressed != 0 {
		d["suppressed_since_last"] = m.Suppressed
	}
	if list := m.MemberList(maxMembers); list != nil {
		d["members"] = list // a group's alerts, the most severe first
	}
	for _, p := range m.PartsUnder(detailsOption) {
		if strings.TrimSpace(p.Value) == "" {
			delete(d, p.Name)
			continue
		}
		d[p.Name] = channels.Truncate(p.Value, maxDetailLen)
	}
	return d
}
