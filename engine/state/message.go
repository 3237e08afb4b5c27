package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"notifier/channels"
)

// MessageVersion is the version of Message this code writes. A change to
// what a Message means gets a new version, and the code that reads it
// learns the older ones: the outbox outlives the binary that queued into
// it (an upgrade with deliveries waiting for their retry).
const MessageVersion = 1

// Message is what a queued delivery tells its channel: channels.Message
// as the outbox keeps it, with JSON names of its own and a version, so a
// change to channels.Message cannot silently change what a queued entry
// says. Entries queued before it existed hold channels.Message's own
// encoding (Go field names, no version); they decode the same (see
// UnmarshalJSON).
type Message struct {
	V              int               `json:"v"`
	Key            string            `json:"key"`
	Action         string            `json:"action"`
	Severity       string            `json:"severity,omitempty"`
	Summary        string            `json:"summary"`
	Rule           string            `json:"rule,omitempty"`
	Source         string            `json:"source,omitempty"`
	Kind           string            `json:"kind,omitempty"`
	EventType      string            `json:"event_type,omitempty"`
	Cluster        string            `json:"cluster,omitempty"`
	ClusterID      int               `json:"cluster_id,omitempty"`
	Node           string            `json:"node,omitempty"`
	Controller     string            `json:"controller,omitempty"`
	Name           string            `json:"name,omitempty"`
	Text           string            `json:"text,omitempty"`
	Recommendation string            `json:"recommendation,omitempty"`
	Count          int               `json:"count,omitempty"`
	Time           time.Time         `json:"time,omitzero"`
	Details        map[string]string `json:"details,omitempty"`
	Suppressed     int               `json:"suppressed,omitempty"`
	Ref            string            `json:"ref,omitempty"`
	// Parts are the policy's templates as rendered when the delivery was
	// decided (channels.Message.Parts): a retry sends what was decided,
	// whatever the policy says by then.
	Parts map[string]string `json:"parts,omitempty"`
	// Members are a digest's (channels.Message.Members); a field an
	// older binary's decoder ignores only loses the list, never the
	// message.
	Members []channels.Member `json:"members,omitempty"`

	// unreadable keeps a stored message that does not decode, as it was,
	// with why: the entry still decodes, and its delivery fails (see
	// Channels) instead of the entry vanishing from every scan.
	unreadable json.RawMessage
	why        error
}

// MessageOf is m as the outbox keeps it.
func MessageOf(m channels.Message) Message {
	return Message{V: MessageVersion, Key: m.Key, Action: string(m.Action), Severity: m.Severity, Summary: m.Summary, Rule: m.Rule,
		Source: m.Source, Kind: m.Kind, EventType: m.EventType, Cluster: m.Cluster, ClusterID: m.ClusterID, Node: m.Node,
		Controller: m.Controller, Name: m.Name, Text: m.Text, Recommendation: m.Recommendation, Count: m.Count, Time: m.Time,
		Details: m.Details, Suppressed: m.Suppressed, Ref: m.Ref, Parts: m.Parts, Members: m.Members}
}

// Channels is the message to deliver, or why the stored one is
// unreadable.
func (m Message) Channels() (channels.Message, error) {
	if m.why != nil {
		return channels.Message{}, m.why
	}
	if m.V == 0 {
		// Every message read or made is version 1 or above (entries of the
		// previous version are converted as they are read): version 0 is
		// an entry whose message is missing or null, which cannot be
		// delivered as anything but an empty page.
		return channels.Message{}, errors.New("message missing")
	}
	return channels.Message{Key: m.Key, Action: channels.Action(m.Action), Severity: m.Severity, Summary: m.Summary, Rule: m.Rule,
		Source: m.Source, Kind: m.Kind, EventType: m.EventType, Cluster: m.Cluster, ClusterID: m.ClusterID, Node: m.Node,
		Controller: m.Controller, Name: m.Name, Text: m.Text, Recommendation: m.Recommendation, Count: m.Count, Time: m.Time,
		Details: m.Details, Suppressed: m.Suppressed, Ref: m.Ref, Parts: m.Parts, Members: m.Members}, nil
}

// messageJSON is Message without its methods, for encoding/json.
type messageJSON Message

// MarshalJSON writes the message; an unreadable one is written back as
// it was read.
func (m Message) MarshalJSON() ([]byte, error) {
	if m.why != nil {
		return m.unreadable, nil
	}
	return json.Marshal(messageJSON(m))
}

// UnmarshalJSON reads a message of any version: without "v" (version 0,
// written before Message existed) it is channels.Message's own encoding.
// A message that does not decode is kept as it is and reported by
// Channels, not here: the entry around it must still decode, so that
// its delivery fails and it leaves the outbox as a dead letter.
func (m *Message) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	// One decode for this version's form; entries without a version
	// (written before Message existed, and only until they are
	// delivered) take a second.
	var v messageJSON
	err := json.Unmarshal(data, &v)
	switch {
	case v.V >= 1 && err == nil:
		// A version above MessageVersion was written by a newer binary
		// (a downgrade with entries queued): what this one knows of it is
		// read, which is all it can deliver.
		*m = Message(v)
		return nil
	case v.V < 0:
		err = fmt.Errorf("message version %d is below 1", v.V)
	case v.V == 0:
		var old channels.Message
		if err = json.Unmarshal(data, &old); err == nil {
			*m = MessageOf(old) // written back, it is in this version's form
			return nil
		}
	}
	*m = Message{unreadable: append(json.RawMessage(nil), data...), why: err}
	return nil
}
