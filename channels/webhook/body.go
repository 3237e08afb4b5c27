package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"notifier/channels"
	"notifier/internal/keys"
)

// Version is the version of the default body, its "version" field. A
// change a receiver could trip over (a field renamed, removed or of
// another type) makes a new version; new fields do not.
const Version = 1

const (
	// MaxBody bounds the request body. Receivers and the proxies in front
	// of them commonly refuse more (nginx's default is 1 MiB); an alarm's
	// raw fields can add up to any size.
	MaxBody = 1 << 20
	// maxText bounds each text of the default body once the raw fields,
	// the message and the recommendation are left out and it is still
	// over MaxBody: only a pathological event (a node name of megabytes)
	// gets there.
	maxText = 1024
	// maxMembers bounds the members of a group's notification the
	// default body lists.
	maxMembers = 1000
	// limitName is how the note in "truncated" names MaxBody.
	limitName = "the webhook's 1 MiB body limit"
)

// Payload is the default body, sent when the policy has no body
// template (or its part is missing or not JSON). Every field is always
// present, in this order, except Members and Truncated.
type Payload struct {
	Version    int    `json:"version"`    // Version
	ID         string `json:"id"`         // ID(m), also the Idempotency-Key header
	Key        string `json:"key"`        // the incident key: a resolve carries its trigger's
	Action     string `json:"action"`     // trigger, message or resolve
	Severity   string `json:"severity"`   // critical, warning or info
	Summary    string `json:"summary"`    // notifier's one-line summary
	Rule       string `json:"rule"`       // the policy rule that chose this channel
	Suppressed int    `json:"suppressed"` // occurrences suppressed since the last notification about key
	Event      Event  `json:"event"`
	// Members are, for a group's notification only, its alerts: the
	// open ones first, the most severe first (at most maxMembers).
	Members []channels.Member `json:"members,omitempty"`
	// Truncated says what was left out to fit MaxBody; absent when
	// nothing was.
	Truncated string `json:"truncated,omitempty"`
}

// Event is the event the message is about, by the policy's field names.
type Event struct {
	Source         string            `json:"source"` // cmon or pacemaker
	Kind           string            `json:"kind"`
	EventType      string            `json:"event_type"`
	Cluster        string            `json:"cluster"`
	ClusterID      int               `json:"cluster_id"`
	Node           string            `json:"node"`
	Controller     string            `json:"controller"`
	Name           string            `json:"name"`
	Message        string            `json:"message"`
	Recommendation string            `json:"recommendation"`
	Count          int               `json:"count"`
	Time           *string           `json:"time"`   // RFC 3339 in UTC; null when the source gave none
	Fields         map[string]string `json:"fields"` // the raw fields; {} when none
}

// ID identifies one message to one receiver: the SHA-256, in hex, of
// its key, action, rule, event time, count and suppressed count. A retry
// (the same message from the outbox) has the same ID; another
// occurrence, a resolve or an escalation has another.
func ID(m *channels.Message) string {
	t := ""
	if !m.Time.IsZero() {
		t = m.Time.UTC().Format(time.RFC3339Nano)
	}
	h := sha256.New()
	for _, s := range []string{m.Key, string(m.Action), m.Rule, t, strconv.Itoa(m.Count), strconv.Itoa(m.Suppressed)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NewPayload is the default body of m, before fitting.
func NewPayload(m *channels.Message) *Payload {
	p := &Payload{
		Version: Version, ID: ID(m), Key: m.Key, Action: string(m.Action), Severity: m.Severity,
		Summary: m.Summary, Rule: m.Rule, Suppressed: m.Suppressed,
		Event: Event{
			Source: m.Source, Kind: m.Kind, EventType: m.EventType, Cluster: m.Cluster, ClusterID: m.ClusterID,
			Node: m.Node, Controller: m.Controller, Name: m.Name, Message: m.Text,
			Recommendation: m.Recommendation, Count: m.Count, Fields: make(map[string]string, len(m.Details)),
		},
	}
	if !m.Time.IsZero() {
		t := m.Time.UTC().Format(time.RFC3339Nano)
		p.Event.Time = &t
	}
	for k, v := range m.Details {
		p.Event.Fields[k] = v
	}
	p.Members = m.Members[:min(len(m.Members), maxMembers)]
	return p
}

// Body is what is sent for m: the policy's body part when it is one
// JSON value in UTF-8 (as RFC 8259 requires; a template that wrote an
// event's text without the json function may pass on invalid bytes)
// within MaxBody, as rendered; otherwise the default body, fitted to
// MaxBody.
func Body(m *channels.Message) []byte {
	if part, ok := m.Part("body"); ok && len(part) <= MaxBody && utf8.ValidString(part) && json.Valid([]byte(part)) {
		return []byte(part)
	}
	return DefaultBody(m)
}

// DefaultBody is m's default body, fitted to MaxBody.
func DefaultBody(m *channels.Message) []byte {
	p := NewPayload(m)
	b := encode(p)
	if len(b) <= MaxBody {
		return b
	}
	return fit(p)
}

// fit makes p fit MaxBody: the raw fields are left out, the largest
// first, until it fits; then the message and the recommendation; then
// every text is cut to maxText bytes (the key bounded as the state
// bounds it: its start and its hash, so a trigger and its resolve still
// agree). Truncated says what was done. Version and id are never
// touched.
func fit(p *Payload) []byte {
	// The note costs bytes too; reserve them before choosing.
	const noteReserve = 200
	total := len(p.Event.Fields)
	drop := channels.Shed(p.Event.Fields, len(encode(p))-MaxBody+noteReserve, func(k, v string) int {
		return len(encode(k)) + len(encode(v)) + 2 // "k":"v",
	})
	for _, k := range drop {
		delete(p.Event.Fields, k)
	}
	p.Truncated = channels.OmittedNote(len(drop), total, "event fields", limitName)
	if b := encode(p); len(b) <= MaxBody {
		return b
	}
	p.Event.Message, p.Event.Recommendation = "", ""
	p.Truncated += "; event message and recommendation left out"
	if b := encode(p); len(b) <= MaxBody {
		return b
	}
	p.Key = keys.Bound(p.Key, maxText)
	for _, s := range []*string{&p.Action, &p.Severity, &p.Summary, &p.Rule, &p.Event.Source, &p.Event.Kind, &p.Event.EventType, &p.Event.Cluster,
		&p.Event.Node, &p.Event.Controller, &p.Event.Name} {
		*s = channels.Truncate(*s, maxText)
	}
	p.Truncated += "; texts cut to " + strconv.Itoa(maxText) + " bytes"
	return encode(p)
}

// encode is v as JSON without HTML escaping (a receiver shows "<" as
// it is) and without the encoder's trailing newline. Invalid UTF-8
// becomes U+FFFD, so the result is always valid JSON.
func encode(v any) []byte {
	b, _ := channels.MarshalJSON(v) // cannot fail for strings, ints and maps of them
	return b
}
