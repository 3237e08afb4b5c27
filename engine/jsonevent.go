package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// DecodeJSON reads an Event in explain's JSON shape (--source json,
// policy tests, callers other than CMON and Pacemaker). A missing time is
// now; a missing key is source/id.
func DecodeJSON(data []byte, now time.Time) (Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, fmt.Errorf("json event: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return ev, fmt.Errorf("json event: trailing data after the object")
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if ev.Key == "" {
		if ev.ID == "" {
			return ev, fmt.Errorf("json event: needs a key or an id")
		}
		ev.Key = strings.TrimPrefix(ev.Source+"/"+ev.ID, "/")
	}
	if SeverityRank(ev.Severity) == 0 {
		return ev, fmt.Errorf("json event: severity %q is not critical, warning or info", ev.Severity)
	}
	switch ev.Action {
	case ActionNew, ActionUpdate, ActionRemove:
	default:
		return ev, fmt.Errorf("json event: action %q is not new, update or remove", ev.Action)
	}
	return ev, nil
}
