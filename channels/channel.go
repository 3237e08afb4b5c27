// Package channels defines what every delivery channel implements and the
// helpers they share: retry classification, truncation and redaction.
// One channel is one package under channels/; it imports only this one.
package channels

import (
	"context"
	"time"
)

// Action says what a message does to the incident it belongs to.
type Action string

const (
	// Trigger opens or updates the incident (PagerDuty trigger, a Slack or
	// syslog message about a problem).
	Trigger Action = "trigger"
	// Resolve closes it (PagerDuty resolve, a green Slack message, a
	// syslog line saying it cleared).
	Resolve Action = "resolve"
)

// Message is one delivery, built from an event by the caller. Channels
// must not assume any field is non-empty except Key, Action, Severity and
// Summary.
type Message struct {
	Key      string // incident key: PagerDuty dedup_key, syslog/Slack correlation
	Action   Action
	Severity string // critical | warning | info
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
}

// Channel delivers messages to one configured destination. Notify must
// honour ctx (its deadline is the run's) and must not retry by itself:
// the caller owns the retry policy (see Deliver). A failure worth retrying
// is returned wrapped by Retryable.
type Channel interface {
	Notify(ctx context.Context, m *Message) error
}
