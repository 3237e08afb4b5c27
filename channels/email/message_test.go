package email

import (
	"strings"
	"testing"
	"time"

	"notifier/channels"
)

const from = "Notifier <notifier@example.com>"

// The built-in texts are the documented defaults: pinned here.
func TestBuiltInTexts(t *testing.T) {
	m := trigger()
	if s := BuiltInSubject(m); s != "[CRITICAL] Disk almost full on db1" {
		t.Errorf("subject = %q", s)
	}
	want := `CRITICAL: Disk almost full on db1

/var/lib/mysql is 97% full

Recommendation: Free some space.

Cluster:     prod-db (id 7)
Node:        db1
Type:        StorageAlarm
Name:        DiskFull
Source:      cmon
Observed by: cmon1
Count:       3
Time:        2026-12-05T06:00:00Z

2 more like it were suppressed since the last message.

Key:         cmon:7:alarm:disk-full:db1
Rule:        disk

Fields:
  alarm_id: 42

-- 
Sent by notifier.
`
	if b := BuiltInBody(m); b != want {
		t.Errorf("body =\n%s\nwant\n%s", b, want)
	}
	r := resolveOf(m, "")
	if s := BuiltInSubject(r); s != "[RESOLVED] Disk almost full on db1" {
		t.Errorf("resolve subject = %q", s)
	}
	if b := BuiltInBody(r); !strings.HasPrefix(b, "RESOLVED (was critical): Disk almost full on db1\n") {
		t.Errorf("resolve body = %q", b)
	}

	// Only Key, Action, Severity and Summary are sure to be set.
	bare := &channels.Message{Key: "k1", Action: channels.Inform, Severity: channels.SeverityInfo}
	if s := BuiltInSubject(bare); s != "[INFO] k1" {
		t.Errorf("bare subject = %q", s)
	}
	if b := BuiltInBody(bare); b != "INFO: k1\n\nKey:         k1\n\n-- \nSent by notifier.\n" {
		t.Errorf("bare body = %q", b)
	}
}

func TestBuildMailBounds(t *testing.T) {
	m := trigger()
	m.Summary = strings.Repeat("é", 400) + "\r\nBcc: victim@example.com"
	m.Text = strings.Repeat("x", 1<<20)
	got := BuildMail(from, m)
	if len(got.Subject) > maxSubjectLen || strings.ContainsAny(got.Subject, "\r\n") {
		t.Errorf("subject of %d bytes, or with a line break", len(got.Subject))
	}
	if len(got.Body) > maxBodyLen || !strings.Contains(got.Body, "Key:") {
		t.Errorf("body of %d bytes, key kept: %v", len(got.Body), strings.Contains(got.Body, "Key:"))
	}
	m.Parts = map[string]string{"subject": "a\nb", "body": strings.Repeat("y", 2*maxBodyLen)}
	got = BuildMail(from, m)
	if got.Subject != "a b" || len(got.Body) > maxBodyLen {
		t.Errorf("parts: subject %q, body of %d bytes", got.Subject, len(got.Body))
	}
	m.Parts = map[string]string{"subject": " \n", "body": ""}
	if got = BuildMail(from, m); !strings.HasPrefix(got.Subject, "[CRITICAL] éé") || got.Body != channels.Truncate(BuiltInBody(m), maxBodyLen) {
		t.Errorf("blank parts: subject %q, body of %d bytes, not the built-in texts", got.Subject, len(got.Body))
	}
}

// Message-IDs: the same on a retry of a notification, different for
// another notification about the same key (a reminder, a re-opened
// incident, a resolve), never shared between keys; the thread is the
// key's.
func TestMessageIDs(t *testing.T) {
	m := trigger()
	a := BuildMail(from, m)
	retry := *m
	retry.Ref = "<whatever@example.com>"
	retry.Time = m.Time.In(time.FixedZone("CET", 3600))
	retry.Parts = map[string]string{}
	if b := BuildMail(from, &retry); b.MessageID != a.MessageID {
		t.Errorf("a retry has another Message-ID: %s, was %s", b.MessageID, a.MessageID)
	}
	reminder := *m
	reminder.Time, reminder.Suppressed = m.Time.Add(3600e9), 7
	other := *m
	other.Key = "cmon:7:alarm:disk-full:db2"
	r := BuildMail(from, &reminder)
	o := BuildMail(from, &other)
	if r.MessageID == a.MessageID || o.MessageID == a.MessageID {
		t.Errorf("distinct notifications share a Message-ID: %s %s %s", a.MessageID, r.MessageID, o.MessageID)
	}
	if r.References[0] != a.References[0] || o.References[0] == a.References[0] {
		t.Errorf("threads: %v, reminder %v, other key %v", a.References, r.References, o.References)
	}
	for _, id := range []string{a.MessageID, a.References[0]} {
		if !msgID().MatchString(id) || !strings.HasSuffix(id, "@example.com>") || strings.Contains(id, m.Key) {
			t.Errorf("%q is not a Message-ID of the sender's domain hiding the key", id)
		}
	}
	if !strings.HasPrefix(a.MessageID, strings.TrimSuffix(a.References[0], "@example.com>")+".") {
		t.Errorf("Message-ID %s does not extend the thread %s", a.MessageID, a.References[0])
	}
}

func TestResolveThreading(t *testing.T) {
	m := trigger()
	trig := BuildMail(from, m)
	thread := trig.References[0]
	for _, tc := range []struct {
		ref, parent string
	}{
		{trig.MessageID, trig.MessageID},
		{"", thread},
		{"C024BE91L/1401383885.000061", thread}, // a Slack ref, after the channel was retyped
		{"<a b@example.com>", thread},
		{"<x@y>\r\nBcc: victim@example.com", thread},
	} {
		got := BuildMail(from, resolveOf(m, tc.ref))
		if got.InReplyTo != tc.parent {
			t.Errorf("ref %q: In-Reply-To %q, want %q", tc.ref, got.InReplyTo, tc.parent)
		}
		want := []string{thread}
		if tc.parent != thread {
			want = append(want, tc.parent)
		}
		if strings.Join(got.References, " ") != strings.Join(want, " ") {
			t.Errorf("ref %q: References %v, want %v", tc.ref, got.References, want)
		}
	}
}

func TestIDDomain(t *testing.T) {
	for in, want := range map[string]string{
		"n@Example.COM":       "example.com",
		"Ops <ops@mail.x.io>": "mail.x.io",
		"n@[192.0.2.1]":       "[192.0.2.1]",
		"n@bücher.de":         "notifier.invalid",
		"not an address":      "notifier.invalid",
	} {
		if got := idDomain(in); got != want {
			t.Errorf("idDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
