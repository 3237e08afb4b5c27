package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"notifier/internal/hint"
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
	if err := exactNames(data); err != nil {
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
		if values := Closed[f.name]; !slices.Contains(values, f.value) {
			return ev, fmt.Errorf("json event: %s %q is not one of %s", f.name, f.value, hint.QuoteAll(values))
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

// jsonNames are the Event's field names in its JSON form.
var jsonNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeFor[Event]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
})

// exactNames refuses a top-level key that is not a field's name as
// written: encoding/json matches struct fields ignoring case, so
// {"action":"remove","Action":"new"} would be an event with action new
// although no key was given twice.
func exactNames(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		if !jsonNames()[k] {
			return fmt.Errorf("unknown field %q (field names are lower case, as explain --format json prints them)", k)
		}
	}
	return nil
}
