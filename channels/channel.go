// Package channels defines what every delivery channel implements — a
// Type (config, option docs, Validate, Lint, declared secrets and files,
// New) and a Channel (Notify, Close) — the Set through which a run
// builds and closes channels, and the helpers channels share: retry
// classification, response recording, truncation, redaction and config
// checks. One channel is one package under channels/; it imports only
// this one, and channels/registry lists it.
package channels

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Action says what a message does to the incident it belongs to.
type Action string

// The values are what `notifier explain` prints and syslog carries as
// action= and MSGID, so they are a contract. A channel that cannot tell
// Trigger from Inform treats them alike; only Resolve is a different
// kind of message everywhere.
const (
	// Trigger opens or updates the incident (PagerDuty trigger, a Slack or
	// syslog message about a problem).
	Trigger Action = "trigger"
	// Inform is a plain notification about the event, for channels that
	// keep no incident (Slack, syslog). PagerDuty has no such thing and
	// sends it as a trigger, since paging is why it was chosen; Slack
	// renders it as it renders Trigger (not green); syslog says
	// action=message.
	Inform Action = "message"
	// Resolve closes it (PagerDuty resolve, a green Slack message, a
	// syslog line saying it cleared).
	Resolve Action = "resolve"
)

// Severities a Message carries. They are event.Event's severity values,
// repeated here because channels must not import the engine; each
// channel maps them onto its own levels and treats anything else as
// unknown rather than failing.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Message is one delivery, built from an event by the caller. Channels
// must not assume any field is non-empty except Key, Action, Severity and
// Summary.
type Message struct {
	Key      string // incident key: PagerDuty dedup_key, syslog/Slack correlation
	Action   Action
	Severity string // SeverityCritical, SeverityWarning or SeverityInfo
	Summary  string // one line, what happened
	Rule     string // the policy rule that chose this channel

	Source         string // cmon | pacemaker
	Kind           string
	EventType      string
	Cluster        string
	ClusterID      int
	Node           string
	Controller     string // who observed it: CMON host or the Pacemaker node
	Name           string
	Text           string // the event's message/description
	Recommendation string
	Count          int
	Time           time.Time
	// Details are extra key/value pairs (the event's raw fields) for
	// channels that can carry them (PagerDuty custom_details).
	Details map[string]string
	// Suppressed is how many occurrences were suppressed since the last
	// notification about Key; channels mention it when not zero.
	Suppressed int `json:",omitempty"`
	// Ref is, on a resolve, the reference a Referencer returned for the
	// original message (Slack: channel and ts), so it can be updated in
	// place; "" when there is none.
	Ref string `json:",omitempty"`
	// Parts are the policy's templates rendered for this message, by
	// option (see Template): a channel sends a part in place of its
	// built-in text for that option, and its built-in text when the part
	// is missing.
	Parts map[string]string `json:",omitempty"`
	// Members, for a group's notification (a digest), are its alerts:
	// the open ones first, the most severe first. Channels list them
	// where they can (PagerDuty's custom_details, Slack's text, a syslog
	// line each); Summary says how many. Nil for one alert's message.
	Members []Member `json:",omitempty"`
}

// Member is one alert of a digest.
type Member struct {
	Key       string `json:"key"`
	Severity  string `json:"severity,omitempty"`
	Summary   string `json:"summary,omitempty"`
	Node      string `json:"node,omitempty"`
	EventType string `json:"event_type,omitempty"`
	Open      bool   `json:"open"`
	Count     int    `json:"count,omitempty"`
	// Note is what the digest says of this alert besides its summary:
	// that it flaps.
	Note string `json:"note,omitempty"`
}

// Line is how a digest lists m: one line, the severity first.
func (m Member) Line() string {
	s := strings.ToUpper(m.Severity) + " " + m.Summary
	if !m.Open {
		s = "cleared: " + s
	}
	if m.Count > 1 {
		s += fmt.Sprintf(" (x%d)", m.Count)
	}
	if m.Note != "" {
		s += " [" + m.Note + "]"
	}
	return strings.TrimSpace(s)
}

// Referencer is a Channel whose messages can be found again: NotifyRef
// returns a reference to what it posted (Slack's Web API: channel and
// ts), which comes back in Message.Ref on the resolve.
type Referencer interface {
	NotifyRef(ctx context.Context, m *Message) (ref string, err error)
}

// Channel delivers messages to one configured destination. Notify must
// honour ctx (its deadline is the run's) and must not retry by itself:
// the caller owns the retry policy (see Deliver). A failure worth retrying
// is returned wrapped by Retryable. Close releases what the channel
// holds (syslog's local socket); Notify fails after it. A channel that
// holds nothing returns nil. Callers build and close channels through a
// Set.
type Channel interface {
	Notify(ctx context.Context, m *Message) error
	Close() error
}

// ClusterLabel names the message's cluster for people: "prod-db (id 7)"
// when both are known, the name or "id 7" when only one is, "" when
// neither is.
func (m *Message) ClusterLabel() string {
	switch {
	case m.Cluster != "" && m.ClusterID != 0:
		return m.Cluster + " (id " + strconv.Itoa(m.ClusterID) + ")"
	case m.Cluster != "":
		return m.Cluster
	case m.ClusterID != 0:
		return "id " + strconv.Itoa(m.ClusterID)
	}
	return ""
}

// MaxMemberLine bounds one member's line in a digest.
const MaxMemberLine = 300

// MemberList is a digest's members, one line each (Member.Line, at most
// MaxMemberLine bytes), at most max of them and then a line saying how
// many more; nil for one alert's message.
func (m *Message) MemberList(max int) []string {
	if len(m.Members) == 0 {
		return nil
	}
	n := min(len(m.Members), max)
	out := make([]string, 0, n+1)
	for _, mem := range m.Members[:n] {
		out = append(out, Truncate(OneLine(mem.Line()), MaxMemberLine))
	}
	if more := len(m.Members) - n; more > 0 {
		out = append(out, fmt.Sprintf("... and %d more", more))
	}
	return out
}
