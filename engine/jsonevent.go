package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"notifier/internal/jsonkeys"
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
	if err := jsonkeys.Check(data); err != nil {
		return ev, fmt.Errorf("json event: %w", err)
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if ev.Kind == "" && ev.Source == SourceCMON {
		ev.Kind = KindAlarm // CMON sends nothing else
	}
	// The same closed sets policies are checked against (lint's
	// impossible-value): an event no decoder could produce would meet
	// rules written for the events that exist.
	for _, f := range []struct{ name, value string }{{"severity", ev.Severity}, {"action", ev.Action}, {"source", ev.Source}, {"kind", ev.Kind}} {
		if values := closedFields[f.name]; !slices.Contains(values, f.value) {
			return ev, fmt.Errorf("json event: %s %q is not one of %s", f.name, f.value, quoteAll(values))
		}
	}
	if ev.Key == "" {
		if ev.ID == "" {
			return ev, fmt.Errorf("json event: needs a key or an id")
		}
		ev.Key = ev.Source + "/" + ev.ID
	}
	return ev, nil
}
