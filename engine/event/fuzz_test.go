package event

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeJSON feeds arbitrary bytes to the JSON event decoder (what
// `--source json`, explain --event and policy tests read): it must never
// panic, an error is one line, and an event it accepts has the closed
// values and the key every decoder guarantees, and reads back the same
// from its own JSON form.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"source":"cmon","id":"1","severity":"critical","action":"new"}`))
	f.Add([]byte(`{"source":"pacemaker","kind":"node","key":"k","severity":"warning","action":"remove","fields":{"a":"b"}}`))
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeJSON(data, now)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		for name, v := range map[string]string{"severity": ev.Severity, "source": ev.Source, "kind": ev.Kind, "action": ev.Action} {
			if !slices.Contains(Closed[name], v) {
				t.Fatalf("accepted %s %q", name, v)
			}
		}
		if ev.Key == "" || ev.Time.IsZero() {
			t.Fatalf("accepted an event without a key or a time: %+v", ev)
		}
		out, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeJSON(out, now)
		if err != nil {
			t.Fatalf("its own JSON form %s does not decode: %v", out, err)
		}
		if !again.Time.Equal(ev.Time) {
			t.Fatalf("time %v read back as %v", ev.Time, again.Time)
		}
		again.Time = ev.Time
		a, _ := json.Marshal(again)
		if string(a) != string(out) {
			t.Fatalf("read back differently:\n%s\n%s", out, a)
		}
	})
}
