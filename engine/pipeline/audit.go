package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/state"
)

// auditLine is one decision in settings.audit_log (JSON lines).
type auditLine struct {
	Time       time.Time       `json:"time"`
	Key        string          `json:"key"`
	Source     string          `json:"source"`
	EventType  string          `json:"event_type"`
	Severity   string          `json:"severity"`
	Action     string          `json:"action"`
	Node       string          `json:"node,omitempty"`
	Cluster    string          `json:"cluster,omitempty"`
	Matched    []string        `json:"matched"` // the rules that matched, in order
	Dropped    bool            `json:"dropped,omitempty"`
	Sent       []state.Planned `json:"sent"`
	NotSent    []state.Planned `json:"not_sent,omitempty"`
	StateError string          `json:"state_error,omitempty"`
}

// audit appends one line per decision to settings.audit_log. A failure
// to write it is noted, never fatal: the page matters more.
func (p *Pipeline) audit(ev *event.Event, d *engine.Decision, res state.Result, stateErr error) {
	path := p.Policy.Settings.AuditLog
	if path == "" {
		return
	}
	line := auditLine{Time: p.now().UTC(), Key: ev.Key, Source: ev.Source, EventType: ev.EventType, Severity: ev.Severity,
		Action: ev.Action, Node: ev.Node, Cluster: ev.Cluster, Matched: d.Matched(), Dropped: d.Dropped, Sent: res.Send, NotSent: res.Skip}
	if line.Sent == nil {
		line.Sent = []state.Planned{}
	}
	if stateErr != nil {
		line.StateError = stateErr.Error()
	}
	data, err := json.Marshal(line)
	if err == nil {
		var f *os.File
		// One write of a whole line with O_APPEND: concurrent runs do not
		// interleave. Never through a link: the log's directory may be
		// shared with haclient, and a run as root must not append to
		// whatever a link there names.
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW, 0o640)
		if errors.Is(err, unix.ELOOP) {
			err = fmt.Errorf("%s is a link: not written through (remove it; notifier makes the file again)", path)
		}
		if err == nil {
			_, err = f.Write(append(data, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		p.note("audit log: %v", err)
	}
}
