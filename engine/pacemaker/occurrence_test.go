package pacemaker

import (
	"crypto/sha256"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"notifier/engine/event"
)

// The invocations Pacemaker starts for one alert (one per recipient)
// share an occurrence; other alerts, even of the same key, do not.
func TestOccurrence(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(samplesDir, "resource-monitor-fail.env"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvFile(data)
	if err != nil {
		t.Fatal(err)
	}
	occ := func(change map[string]string) string {
		t.Helper()
		e := maps.Clone(env)
		for k, v := range change {
			if v == "" {
				delete(e, k)
			} else {
				e[k] = v
			}
		}
		ev, err := Decode(e, Options{Host: "h", Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		return OccurrenceOf(&ev)
	}
	base := occ(nil)
	if base == "" {
		t.Fatal("no occurrence for a real alert")
	}
	same := map[string]map[string]string{
		"another recipient":        {"CRM_alert_recipient": "/var/log/other.log", "CRM_notify_recipient": "/var/log/other.log"},
		"another sequence":         {"CRM_alert_node_sequence": "999", "CRM_notify_node_sequence": "999"},
		"another timestamp-format": {"CRM_alert_timestamp": "2026-11-22 01:02:03.456", "CRM_notify_timestamp": "2026-11-22 01:02:03.456"},
	}
	for name, change := range same {
		if got := occ(change); got != base {
			t.Errorf("%s: occurrence changed", name)
		}
	}
	differ := map[string]map[string]string{
		"another microsecond": {"CRM_alert_timestamp_usec": "1", "CRM_notify_timestamp_usec": "1"},
		"another rc":          {"CRM_alert_rc": "1", "CRM_notify_rc": "1"},
		// A recipient with its own policy is another audience.
		"another recipient's NOTIFIER_CONFIG": {"NOTIFIER_CONFIG": "/etc/notifier/team-b.yaml"},
	}
	for name, change := range differ {
		if got := occ(change); got == base || got == "" {
			t.Errorf("%s: occurrence %q, want a different one", name, got)
		}
	}
	if got := occ(map[string]string{"CRM_alert_timestamp_epoch": "", "CRM_notify_timestamp_epoch": "", "CRM_alert_timestamp": "", "CRM_notify_timestamp": ""}); got != "" {
		t.Errorf("no timestamp: occurrence %q, want none (two alerts could not be told apart)", got)
	}
	if got := OccurrenceOf(&event.Event{Source: event.SourceCMON}); got != "" {
		t.Errorf("CMON event: occurrence %q", got)
	}
}

// OccurrenceWith(…, sha256.New()) is the identity versions before
// 2026-12 gave an alert (the value below is theirs, printed by the
// version at dbf580e), which engine/state still reads for an hour after
// an upgrade; Occurrence is now FNV-1a's, of the same fields.
func TestOccurrenceBothHashes(t *testing.T) {
	fields := map[string]string{"CRM_alert_kind": "node", "CRM_alert_node": "node2", "CRM_alert_desc": "lost",
		"CRM_alert_timestamp_epoch": "1764900000", "CRM_alert_timestamp": "x", "CRM_alert_recipient": "r1", "CRM_alert_node_sequence": "7"}
	if got, want := OccurrenceWith(fields, sha256.New()), "pacemaker/8bdecd520e780836dcaa4438e5fbc11f"; got != want {
		t.Errorf("SHA-256 identity %s, want the former version's %s", got, want)
	}
	fnv := Occurrence(fields)
	if len(fnv) != len("pacemaker/")+32 || fnv == OccurrenceWith(fields, sha256.New()) {
		t.Errorf("FNV identity %q", fnv)
	}
	other := maps.Clone(fields)
	other["CRM_alert_recipient"] = "r2" // another recipient's process: the same alert
	if Occurrence(other) != fnv {
		t.Error("the recipients of one alert have different identities")
	}
}
