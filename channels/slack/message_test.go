package slack

import (
	"strings"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"notifier/channels"
	"notifier/internal/keys"
)

func sampleMessage() *channels.Message {
	return &channels.Message{
		Key:            "cmon/ctl1/7/4242",
		Action:         channels.Trigger,
		Severity:       "critical",
		Summary:        "MySQL server disconnected",
		Rule:           "critical",
		Source:         "cmon",
		EventType:      "MySqlDisconnected",
		Cluster:        "prod-db",
		ClusterID:      7,
		Node:           "db1",
		Text:           "Server db1:3306 reported as disconnected.",
		Recommendation: "Check the mysqld error log on db1.",
		Count:          3,
		Time:           time.Unix(1700000000, 0),
	}
}

func fieldMap(a goslack.Attachment) map[string]string {
	f := map[string]string{}
	for _, x := range a.Fields {
		f[x.Title] = x.Value
	}
	return f
}

func TestBuildMessageColourAndHeader(t *testing.T) {
	tests := []struct {
		severity  string
		action    channels.Action
		wantColor string
		wantText  string
	}{
		{"critical", channels.Trigger, "#d00000", "[CRITICAL] MySQL server disconnected"},
		{"warning", channels.Trigger, "#daa038", "[WARNING] MySQL server disconnected"},
		{"info", channels.Trigger, "#439FE0", "[INFO] MySQL server disconnected"},
		{"critical", channels.Inform, "#d00000", "[CRITICAL] MySQL server disconnected"},
		{"warning", channels.Inform, "#daa038", "[WARNING] MySQL server disconnected"},
		{"info", channels.Inform, "#439FE0", "[INFO] MySQL server disconnected"},
		{"critical", channels.Resolve, "#2eb886", "Resolved: [CRITICAL] MySQL server disconnected"},
		{"warning", channels.Resolve, "#2eb886", "Resolved: [WARNING] MySQL server disconnected"},
	}
	for _, tt := range tests {
		t.Run(tt.severity+"/"+string(tt.action), func(t *testing.T) {
			m := sampleMessage()
			m.Severity, m.Action = tt.severity, tt.action
			got := BuildMessage(m)
			if got.Text != tt.wantText {
				t.Errorf("text %q, want %q", got.Text, tt.wantText)
			}
			if len(got.Attachments) != 1 {
				t.Fatalf("%d attachments, want 1", len(got.Attachments))
			}
			a := got.Attachments[0]
			if a.Color != tt.wantColor {
				t.Errorf("colour %q, want %q", a.Color, tt.wantColor)
			}
			if want := tt.wantText + " (cluster prod-db (id 7), node db1)"; a.Fallback != want {
				t.Errorf("fallback %q, want %q", a.Fallback, want)
			}
		})
	}
}

func TestBuildMessageContent(t *testing.T) {
	a := BuildMessage(sampleMessage()).Attachments[0]
	want := map[string]string{
		"Cluster": "prod-db (id 7)", "Node": "db1", "Type": "MySqlDisconnected", "Count": "3",
		"Recommendation": "Check the mysqld error log on db1.",
	}
	got := fieldMap(a)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("field %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want exactly %v", got, want)
	}
	for _, f := range a.Fields {
		if f.Short == (f.Title == "Recommendation") {
			t.Errorf("field %s short=%v: only the recommendation is long", f.Title, f.Short)
		}
	}
	if a.Text != "Server db1:3306 reported as disconnected." {
		t.Errorf("text %q", a.Text)
	}
	if a.Footer != "key cmon/ctl1/7/4242 · rule critical · cmon" {
		t.Errorf("footer %q", a.Footer)
	}
	if a.Ts != "1700000000" {
		t.Errorf("ts %q", a.Ts)
	}
}

func TestBuildMessageSparse(t *testing.T) {
	m := &channels.Message{Key: "pacemaker/c/node/n1", Action: channels.Trigger, Severity: "info", Summary: "node n1 joined", Kind: "node"}
	got := BuildMessage(m)
	a := got.Attachments[0]
	if f := fieldMap(a); len(f) != 1 || f["Type"] != "node" {
		t.Errorf("fields %v, want only Type=node (the kind, for want of an event type)", f)
	}
	if a.Text != "" || a.Ts != "" || a.Fallback != "[INFO] node n1 joined" {
		t.Errorf("attachment %+v", a)
	}
	if a.Footer != "key pacemaker/c/node/n1" {
		t.Errorf("footer %q", a.Footer)
	}
}

func TestBuildMessageEscapes(t *testing.T) {
	m := sampleMessage()
	m.Summary = "<!channel> disk & <b>full</b>"
	m.Text = "a < b"
	got := BuildMessage(m)
	if want := "[CRITICAL] &lt;!channel&gt; disk &amp; &lt;b&gt;full&lt;/b&gt;"; got.Text != want {
		t.Errorf("text %q, want %q", got.Text, want)
	}
	if got.Attachments[0].Text != "a &lt; b" {
		t.Errorf("attachment text %q", got.Attachments[0].Text)
	}
}

func TestBuildMessageTruncates(t *testing.T) {
	m := sampleMessage()
	m.Summary = strings.Repeat("s", 5000)
	m.Text = strings.Repeat("t", 50000)
	m.Recommendation = strings.Repeat("r", 5000)
	m.Node = strings.Repeat("n", 5000)
	m.Key = strings.Repeat("k", 1000)
	got := BuildMessage(m)
	a := got.Attachments[0]
	checks := []struct {
		name string
		s    string
		max  int
	}{
		{"text", got.Text, maxHeaderLen},
		{"fallback", a.Fallback, maxHeaderLen},
		{"attachment text", a.Text, maxAttachmentTextLen},
		{"node", fieldMap(a)["Node"], maxFieldValueLen},
		{"recommendation", fieldMap(a)["Recommendation"], maxFieldValueLen},
	}
	if k := "key " + keys.Bound(m.Key, maxKeyLen) + " "; len(a.Footer) > maxFooterLen || !strings.HasPrefix(a.Footer, k) {
		t.Errorf("footer %q: want at most %d bytes naming the key's hashed form", a.Footer, maxFooterLen)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if len(c.s) > c.max || !strings.HasSuffix(c.s, "…") {
				t.Errorf("%d bytes ending %q, want at most %d ending with …", len(c.s), c.s[max(0, len(c.s)-8):], c.max)
			}
		})
	}
	if maxHeaderLen > maxTextLen {
		t.Errorf("the header is the top-level text and must fit Slack's %d", maxTextLen)
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"fits", "a&b", 10, "a&amp;b"},
		{"cut after entity", "ab&cdef", 10, "ab&amp;…"},
		{"never half an entity", "abc&d", 8, "abc…"},
		{"multibyte", "ééé", 5, "é…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clip(tt.in, tt.n); got != tt.want {
				t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}
