package slack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goslack "github.com/slack-go/slack"

	"notifier/channels"
	"notifier/internal/keys"
)

// Slack's size limits. Lengths are counted in bytes here, which is never
// more than Slack's characters, so a cut string always fits.
const (
	// maxTextLen: Slack truncates top-level text beyond this.
	// https://api.slack.com/methods/chat.postMessage#truncating
	maxTextLen = 40000
	// maxHeaderLen bounds the header line (severity and summary), which
	// is the top-level text: a legacy attachment title's limit, as it
	// should stay one line, and well below maxTextLen.
	// https://api.slack.com/reference/messaging/attachments#legacy_fields
	maxHeaderLen = 1024
	// maxFooterLen: https://api.slack.com/reference/messaging/attachments#fields
	maxFooterLen = 300
	// maxKeyLen bounds the key in the footer, leaving the rule and the
	// source room in it.
	maxKeyLen = 128
	// maxFieldValueLen: the legacy field limit is not documented; this is
	// Block Kit's section-field limit, the strictest Slack states for the
	// same kind of text. https://api.slack.com/reference/block-kit/blocks#section
	maxFieldValueLen = 2000
	// maxAttachmentTextLen bounds the event text. Slack collapses long
	// attachment text behind "Show more" and states no limit of its own;
	// this keeps a runaway alarm text from pushing the whole message
	// past maxTextLen.
	maxAttachmentTextLen = 8000
)

// Attachment colours: the left bar is what an on-call engineer scans.
const (
	colorCritical = "#d00000"
	colorWarning  = "#daa038"
	colorInfo     = "#439FE0"
	colorResolved = "#2eb886"
)

// escaper applies Slack's three mandatory escapes, so that event text
// like "<none>" shows as typed and cannot turn into a link or an
// @channel mention. https://api.slack.com/reference/surfaces/formatting#escaping
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// BuildMessage renders m as one Slack message: a plain header line in
// text (what notifications and screen readers show), and one attachment
// coloured by severity (green when resolved) with the event's text,
// where it happened, the recommendation, and the key and rule in the
// footer. channels.Trigger and channels.Inform look alike: Slack keeps
// no incident, and both are news of a problem or a notice. It is pure,
// and the same payload goes to a webhook and to chat.postMessage.
//
// Those are the built-in texts. The message's parts (the policy's
// templates, rendered) replace them: title the whole header line
// ("Resolved: " included: a title template branches on .delivery),
// text the attachment's text, footer the footer, and fields.NAME the
// field titled NAME (any case) or, when there is none, a new one; a
// field that renders blank is left out. A part is escaped and bounded
// as the text it replaces. The colour stays the severity's, green on a
// resolve.
func BuildMessage(m *channels.Message) goslack.WebhookMessage {
	header := fmt.Sprintf("[%s] %s", strings.ToUpper(m.Severity), m.Summary)
	color := severityColor(m.Severity)
	if m.Action == channels.Resolve {
		header = "Resolved: " + header
		color = colorResolved
	}
	if title, ok := m.Part("title"); ok && strings.TrimSpace(title) != "" {
		header = title
	}

	var fields []goslack.AttachmentField
	short := func(title, value string) {
		if value != "" {
			fields = append(fields, goslack.AttachmentField{Title: title, Value: clip(value, maxFieldValueLen), Short: true})
		}
	}
	short("Cluster", m.ClusterLabel())
	short("Node", m.Node)
	short("Type", channels.FirstNonEmpty(m.EventType, m.Kind))
	if m.Count > 0 {
		short("Count", strconv.Itoa(m.Count))
	}
	if m.Suppressed > 0 {
		short("Suppressed since the last message", strconv.Itoa(m.Suppressed))
	}
	if m.Recommendation != "" {
		fields = append(fields, goslack.AttachmentField{
			Title: "Recommendation", Value: clip(m.Recommendation, maxFieldValueLen),
		})
	}
	fields = templatedFields(fields, m)

	// A long key keeps its hashed form (as PagerDuty's dedup_key and
	// syslog's key=) rather than being cut where the footer ends, so
	// the resolve's footer still names the same key.
	footer := "key " + keys.Bound(m.Key, maxKeyLen)
	if m.Rule != "" {
		footer += " · rule " + m.Rule
	}
	if m.Source != "" {
		footer += " · " + m.Source
	}

	att := goslack.Attachment{
		Color:    color,
		Fallback: fallback(header, m),
		Text:     clip(m.PartOr("text", m.Text), maxAttachmentTextLen),
		Fields:   fields,
		Footer:   clip(m.PartOr("footer", footer), maxFooterLen),
	}
	if !m.Time.IsZero() {
		att.Ts = json.Number(strconv.FormatInt(m.Time.Unix(), 10))
	}
	return goslack.WebhookMessage{
		Text: clip(header, maxHeaderLen), // far below maxTextLen

		Attachments: []goslack.Attachment{att},
	}
}

// maxShortFieldLen is the longest value a templated field shows beside
// another (Short): longer ones, and ones of several lines, take the
// attachment's whole width, as the recommendation does.
const maxShortFieldLen = 40

// templatedFields applies the fields.NAME parts to the built-in fields:
// a part replaces the value (and the title's spelling) of the field
// titled NAME in any case, keeping its place and width, or is added
// after them in the order of the names; a blank one removes the field.
func templatedFields(fields []goslack.AttachmentField, m *channels.Message) []goslack.AttachmentField {
	for _, p := range m.PartsUnder(fieldsOption) {
		title := clip(p.Name, maxFieldValueLen)
		i := slices.IndexFunc(fields, func(f goslack.AttachmentField) bool { return strings.EqualFold(f.Title, title) })
		if strings.TrimSpace(p.Value) == "" {
			if i >= 0 {
				fields = slices.Delete(fields, i, i+1)
			}
			continue
		}
		f := goslack.AttachmentField{Title: title, Value: clip(p.Value, maxFieldValueLen),
			Short: len(p.Value) <= maxShortFieldLen && !strings.Contains(p.Value, "\n")}
		if i >= 0 {
			f.Short = fields[i].Short
			fields[i] = f
			continue
		}
		fields = append(fields, f)
	}
	return fields
}

func severityColor(severity string) string {
	switch severity {
	case channels.SeverityCritical:
		return colorCritical
	case channels.SeverityWarning:
		return colorWarning
	}
	return colorInfo
}

// fallback is the attachment's plain-text stand-in for clients that
// cannot show attachments: the (raw) header plus where it happened.
func fallback(header string, m *channels.Message) string {
	var where []string
	if c := m.ClusterLabel(); c != "" {
		where = append(where, "cluster "+c)
	}
	if m.Node != "" {
		where = append(where, "node "+m.Node)
	}
	if len(where) > 0 {
		header += " (" + strings.Join(where, ", ") + ")"
	}
	return clip(header, maxHeaderLen)
}

// clip escapes s for Slack and truncates it to n bytes, never cutting an
// entity like "&amp;" in half (which Slack would show as "&am").
// Escaping an already escaped string is harmless only once, so clip is
// applied once, to raw text.
func clip(s string, n int) string {
	if strings.ContainsAny(s, "&<>") {
		s = escaper.Replace(s)
	}
	if len(s) <= n {
		return s
	}
	t := channels.Truncate(s, n)
	body, marked := strings.CutSuffix(t, "…")
	if i := strings.LastIndexByte(body, '&'); i >= 0 && !strings.Contains(body[i:], ";") {
		if marked {
			return body[:i] + "…"
		}
		return body[:i]
	}
	return t
}
