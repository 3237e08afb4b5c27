package email

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"notifier/channels"
	"notifier/internal/keys"
)

// Size bounds of what one message carries.
const (
	// maxSubjectLen bounds the subject: one line a mail client shows in
	// a list; RFC 5322 (section 2.1.1) asks for lines under 78
	// characters, which go-mail folds to, and this keeps the folded
	// header short.
	maxSubjectLen = 256
	// maxBodyLen bounds the body, built in or rendered: an alarm is read
	// on a phone, and some relays refuse messages over a few MB.
	maxBodyLen = 256 << 10
	// maxFieldLen bounds each field of the built-in body, so one huge
	// raw field cannot push the rest out.
	maxFieldLen = 2048
	// maxKeyLen bounds the key in the X-Notifier-Key header and the
	// body; a longer one keeps its hashed form, as PagerDuty's dedup_key
	// and syslog's key= do.
	maxKeyLen = 200
)

// Mail is one notification as an email, before go-mail encodes it.
type Mail struct {
	Subject string
	Body    string // plain text
	// MessageID is this message's own Message-ID, "<...@domain>".
	MessageID string
	// InReplyTo and References thread the message (see BuildMail).
	InReplyTo  string
	References []string
}

// BuildMail renders m as an email from the sender from (an address
// Validate accepted). It is pure: the whole mapping is tested without a
// server.
//
//   - Subject: the "subject" template's part, else "[CRITICAL] <summary>"
//     ("[RESOLVED] <summary>" for a resolve), one line, cut to 256 bytes.
//   - Body: the "body" template's part, else the built-in plain text
//     (BuiltInBody), cut to 256 KB.
//   - Message-ID: unique per notification and the same on every retry of
//     it: "<notifier.K.M@domain>", K the hash of the sender and the key,
//     M the hash of the message (Ref left out), domain the sender's. A
//     retry that reaches a mailbox the earlier attempt also reached
//     (an answer lost after the data went through) is then a duplicate
//     mail clients hide; a reminder or a re-opened incident is a new
//     message, not one Gmail hides as a duplicate of the first.
//   - References: the key's thread, "<notifier.K@domain>", a Message-ID
//     no message has: clients that thread by References (Thunderbird,
//     Apple Mail, mutt) put every message about the key under it. A
//     resolve also names, in In-Reply-To and References, the message it
//     resolves: Ref, the Message-ID NotifyRef returned for the trigger
//     (the last one sent about the key), or the thread's when there is
//     none.
func BuildMail(from string, m *channels.Message) Mail {
	domain := idDomain(from)
	keyHash := hash(from + "\x00" + m.Key)[:24]
	thread := "<notifier." + keyHash + "@" + domain + ">"
	out := Mail{
		Subject:    channels.Truncate(channels.OneLine(part(m, "subject", BuiltInSubject)), maxSubjectLen),
		Body:       channels.Truncate(part(m, "body", BuiltInBody), maxBodyLen),
		MessageID:  "<notifier." + keyHash + "." + hash(canonical(m))[:16] + "@" + domain + ">",
		References: []string{thread},
	}
	if m.Action == channels.Resolve {
		parent := thread
		if msgID().MatchString(m.Ref) {
			parent = m.Ref
		}
		out.InReplyTo = parent
		if parent != thread {
			out.References = append(out.References, parent)
		}
	}
	return out
}

// canonical is m as the Message-ID's hash sees it: what a retry of it
// read back from the outbox has too (not Ref, which a retry may have
// gained; empty maps as none; the time in UTC).
func canonical(m *channels.Message) string {
	c := *m
	c.Ref = ""
	c.Time = c.Time.UTC()
	if len(c.Details) == 0 {
		c.Details = nil
	}
	if len(c.Parts) == 0 {
		c.Parts = nil
	}
	b, _ := json.Marshal(&c) // strings, numbers, a time and maps of strings: cannot fail
	return string(b)
}

// part is the rendered template for option, or the built-in text when
// there is none or it is blank: the pipeline never hands a blank
// required part on, and an email without a subject or body must not
// go out should it ever.
func part(m *channels.Message, option string, builtIn func(*channels.Message) string) string {
	if p, ok := m.Part(option); ok && strings.TrimSpace(p) != "" {
		return p
	}
	return builtIn(m)
}

// msgID is a Message-ID as NotifyRef returns it: anything else in Ref
// (another channel type's reference, after a channel was retyped) is
// ignored. Compiled on first use: every run of the binary would pay for
// it at start-up, email or not.
var msgID = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^<[!#-'*+\-/-9=?A-Z^-~.]+@[!#-'*+\-/-9=?A-Z^-~.\[\]]+>$`)
})

// domainRe is what idDomain keeps of the sender's domain: a host name
// or an address literal, ASCII only. Compiled on first use.
var domainRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])$`)
})

// idDomain is the right-hand side of the Message-IDs: the sender's
// domain, which the sender controls, so the IDs are unique to it;
// "notifier.invalid" when it cannot be used as it is (an
// internationalised domain).
func idDomain(from string) string {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return "notifier.invalid"
	}
	_, d, _ := strings.Cut(a.Address, "@")
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if !domainRe().MatchString(d) {
		return "notifier.invalid"
	}
	return d
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// BuiltInSubject is the subject without a template: "[CRITICAL]
// <summary>", or "[RESOLVED] <summary>" for a resolve; the key when the
// summary is blank.
func BuiltInSubject(m *channels.Message) string {
	summary := channels.FirstNonEmpty(m.Summary, m.Key)
	if m.Action == channels.Resolve {
		return "[RESOLVED] " + summary
	}
	return "[" + strings.ToUpper(m.Severity) + "] " + summary
}

// BuiltInBody is the plain-text body without a template: a headline,
// the event's text and recommendation, where and what it was, the
// suppressed count, the key and the rule, and the event's raw fields
// (sorted by name), in paragraphs. Empty fields and paragraphs are left
// out.
func BuiltInBody(m *channels.Message) string {
	head := strings.ToUpper(m.Severity)
	if m.Action == channels.Resolve {
		head = "RESOLVED (was " + strings.ToLower(m.Severity) + ")"
	}
	paras := []string{head + ": " + clip(channels.OneLine(channels.FirstNonEmpty(m.Summary, m.Key))) + "\n"}
	add := func(p string) {
		if p != "" {
			paras = append(paras, p)
		}
	}
	if m.Text != "" {
		add(clip(m.Text) + "\n")
	}
	if m.Recommendation != "" {
		add("Recommendation: " + clip(m.Recommendation) + "\n")
	}
	var count, at string
	if m.Count > 0 {
		count = strconv.Itoa(m.Count)
	}
	if !m.Time.IsZero() {
		at = m.Time.UTC().Format(time.RFC3339)
	}
	add(fields("Cluster", m.ClusterLabel(), "Node", m.Node, "Type", channels.FirstNonEmpty(m.EventType, m.Kind),
		"Name", m.Name, "Source", m.Source, "Observed by", m.Controller, "Count", count, "Time", at))
	if m.Suppressed > 0 {
		add(fmt.Sprintf("%d more like it were suppressed since the last message.\n", m.Suppressed))
	}
	add(fields("Key", keys.Bound(m.Key, maxKeyLen), "Rule", m.Rule))
	var raw strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m.Details)) {
		if v := channels.OneLine(m.Details[k]); v != "" {
			fmt.Fprintf(&raw, "  %s: %s\n", clip(channels.OneLine(k)), clip(v))
		}
	}
	if raw.Len() > 0 {
		add("Fields:\n" + raw.String())
	}
	add("-- \nSent by notifier.\n")
	return strings.Join(paras, "\n")
}

// fields is a paragraph of "Name:       value" lines, one per pair
// whose value is not empty; "" when all are.
func fields(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		if v := pairs[i+1]; v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", pairs[i]+":", clip(channels.OneLine(v)))
		}
	}
	return b.String()
}

func clip(s string) string { return channels.Truncate(s, maxFieldLen) }
