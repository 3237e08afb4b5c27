package cmon

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"notifier/engine/event"
)

// FuzzDecode: Decode never panics, every error is one short line, and a
// successful decode yields an event the rest of the pipeline can rely on.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(sampleDir, "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples in %s: %v", sampleDir, err)
	}
	for _, file := range files {
		f.Add(readSample(f, filepath.Base(file)))
	}
	for _, s := range []string{
		"", " ", "{}", "[]", "null", `{"type":"alarm"}`, `{"alarm_id":1}`,
		`{"type":"alarm","action":"remove","alarm":{"id":18446744073709551615,"cid":-1,"severity":2}}`,
		`{"type":"alarm","action":"new","alarm":{"id":"x","type":1,"type_name":"T","counter":1e3}}`,
		`{"type":"alarm","action":"new","alarm":{"id":1}} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data, Options{Host: "h"})
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || len(msg) > 400 || !utf8.ValidString(msg) {
				t.Fatalf("error is not one short line: %q", msg)
			}
			return
		}
		if ev.Key == "" || ev.ID == "" {
			t.Fatalf("empty Key %q or ID %q", ev.Key, ev.ID)
		}
		if !strings.HasPrefix(ev.Key, "cmon/") || !strings.HasSuffix(ev.Key, "/"+ev.ID) {
			t.Fatalf("Key %q does not match cmon/<controller>/<cluster_id>/%s", ev.Key, ev.ID)
		}
		if event.SeverityRank(ev.Severity) == 0 {
			t.Fatalf("invalid severity %q", ev.Severity)
		}
		switch ev.Action {
		case event.ActionNew, event.ActionUpdate, event.ActionRemove:
		default:
			t.Fatalf("invalid action %q", ev.Action)
		}
		if ev.OK != (ev.Action == event.ActionRemove) || ev.Source != "cmon" || ev.Kind != "alarm" {
			t.Fatalf("inconsistent event: %+v", ev)
		}
	})
}
