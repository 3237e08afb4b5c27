package msteams

import (
	"strconv"
	"strings"

	"notifier/channels"
	"notifier/internal/keys"
)

// The card's contract. Teams renders Adaptive Cards up to version 1.5,
// on the desktop, the web and mobile alike, and a Workflows webhook takes
// them only in a message with one attachment of this content type.
const (
	// CardVersion is the Adaptive Card schema version every card
	// declares: the highest Teams renders (the title's heading style is
	// 1.5's), and the schema the tests check each card against.
	CardVersion = "1.5"
	cardSchema  = "http://adaptivecards.io/schemas/adaptive-card.json"
	contentType = "application/vnd.microsoft.card.adaptive"
)

// Size limits, in bytes of the encoded request. Teams refuses a message
// over about 28 KB ("Request Entity too large"): a Workflows webhook
// answers 202 at once and the flow run fails later, so a card over it
// is lost without an error here. The budget leaves 1 KB of the limit
// to what the flow and Teams add around the card.
const (
	maxPayload = 27 * 1000
	// Each text is bounded as JSON spells it (a control character takes
	// six bytes), so that one runaway text cannot crowd out the rest;
	// together with the layout they stay far below maxPayload, and the
	// facts share what is left: if they do not fit, the largest go
	// first (see fit).
	maxTitleLen     = 1024
	maxTextLen      = 8000
	maxFactValueLen = 2000
	maxRecommendLen = 4000
	maxStatusLen    = 128
	maxKeyLen       = 256
	// noteReserve is what the note saying what was left out costs.
	noteReserve = 200
)

// Payload is the request body a Workflows webhook takes: a message
// holding one Adaptive Card.
type Payload struct {
	Type        string       `json:"type"` // "message"
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries the card; contentUrl is null, as Teams' own
// examples send it.
type Attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card with only what notifier uses.
type Card struct {
	Schema       string    `json:"$schema"`
	Type         string    `json:"type"` // "AdaptiveCard"
	Version      string    `json:"version"`
	FallbackText string    `json:"fallbackText,omitempty"`
	Body         []Element `json:"body"`
}

// Element is a TextBlock, a Container or a FactSet; only the fields of
// its type are set.
type Element struct {
	Type      string    `json:"type"`
	Text      string    `json:"text,omitempty"`
	Wrap      bool      `json:"wrap,omitempty"`
	Size      string    `json:"size,omitempty"`
	Weight    string    `json:"weight,omitempty"`
	Color     string    `json:"color,omitempty"`
	IsSubtle  bool      `json:"isSubtle,omitempty"`
	Style     string    `json:"style,omitempty"`
	Spacing   string    `json:"spacing,omitempty"`
	Separator bool      `json:"separator,omitempty"`
	Bleed     bool      `json:"bleed,omitempty"`
	Items     []Element `json:"items,omitempty"`
	Facts     []Fact    `json:"facts,omitempty"`
}

// Fact is one line of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// look is a card's severity colour: the header's container style and the
// status line's text colour.
type look struct{ style, color string }

// Severity colours, by Adaptive Card names: Teams picks the shades, in
// the light and dark themes alike.
var (
	lookCritical = look{"attention", "attention"}
	lookWarning  = look{"warning", "warning"}
	lookInfo     = look{"accent", "accent"}
	lookOther    = look{"emphasis", "default"}
	lookResolved = look{"good", "good"}
)

// content is what a card says, before it is laid out; fit may leave
// facts out.
type content struct {
	look
	status, title, text, recommendation string
	facts                               []Fact
	note                                string // what fit left out
}

// BuildPayload renders m as one card: a header coloured by severity (a
// resolve is a new, green card) with a status line and the title, the
// event's text, its facts, the recommendation. The policy's templates
// (m.Parts) replace the title, the text and facts by name; the card
// fits Teams' message limit. It is pure.
func BuildPayload(m *channels.Message) Payload {
	c := describe(m)
	fit(&c)
	return c.payload()
}

// describe is the card's content for m, each text within its own bound.
func describe(m *channels.Message) content {
	c := content{look: severityLook(m.Severity)}
	sev := strings.ToUpper(channels.FirstNonEmpty(m.Severity, "notice"))
	c.status = sev
	if m.Action == channels.Resolve {
		c.look, c.status = lookResolved, "RESOLVED (was "+sev+")"
	}
	c.status = cutEncoded(channels.OneLine(c.status), maxStatusLen)
	// A blank title part should not arrive (title is Required); if one
	// does, the built-in title is better than none.
	c.title = cutEncoded(channels.FirstNonEmpty(m.PartOr("title", ""), m.Summary, m.Key), maxTitleLen)
	c.text = cutEncoded(m.PartOr("text", m.Text), maxTextLen)
	c.recommendation = cutEncoded(m.Recommendation, maxRecommendLen)
	c.facts = facts(m)
	return c
}

func severityLook(severity string) look {
	switch severity {
	case channels.SeverityCritical:
		return lookCritical
	case channels.SeverityWarning:
		return lookWarning
	case channels.SeverityInfo:
		return lookInfo
	}
	return lookOther
}

// facts are the built-in facts, in their order, with the policy's: a
// template named like a built-in fact (in any case) replaces it in
// place, others follow by name; one that rendered blank leaves its fact
// out.
func facts(m *channels.Message) []Fact {
	var fs []Fact
	add := func(title, value string) { fs = append(fs, Fact{title, value}) }
	add("Cluster", m.ClusterLabel())
	add("Node", m.Node)
	add("Event type", channels.FirstNonEmpty(m.EventType, m.Kind))
	// A long key keeps its hashed form (as PagerDuty's dedup_key), so
	// the resolve's card names the same key as the trigger's.
	add("Key", keys.Bound(m.Key, maxKeyLen))
	add("Rule", m.Rule)
	if !m.Time.IsZero() {
		add("Time", m.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if m.Count > 0 {
		add("Count", strconv.Itoa(m.Count))
	}
	if m.Suppressed > 0 {
		add("Suppressed", strconv.Itoa(m.Suppressed)+" since the last message")
	}
	for _, p := range m.PartsUnder("facts") {
		i := 0
		for i < len(fs) && !strings.EqualFold(fs[i].Title, p.Name) {
			i++
		}
		if i == len(fs) {
			fs = append(fs, Fact{})
		}
		fs[i] = Fact{Title: p.Name, Value: p.Value}
	}
	out := fs[:0]
	for _, f := range fs {
		if strings.TrimSpace(f.Value) != "" {
			f.Title = cutEncoded(channels.OneLine(f.Title), maxFactNameLen)
			f.Value = cutEncoded(f.Value, maxFactValueLen)
			out = append(out, f)
		}
	}
	return out
}

// payload lays c out as the card.
func (c *content) payload() Payload {
	header := []Element{{Type: "TextBlock", Text: c.status, Size: "small", Weight: "bolder", Color: c.color, Wrap: true}}
	if c.title != "" {
		header = append(header, Element{Type: "TextBlock", Text: c.title, Size: "large", Weight: "bolder",
			Style: "heading", Spacing: "none", Wrap: true})
	}
	body := []Element{{Type: "Container", Style: c.style, Bleed: true, Items: header}}
	text := func(e Element) {
		if e.Text != "" {
			e.Type, e.Wrap = "TextBlock", true
			body = append(body, e)
		}
	}
	text(Element{Text: c.text})
	if len(c.facts) > 0 {
		body = append(body, Element{Type: "FactSet", Facts: c.facts, Spacing: "medium"})
	}
	if c.recommendation != "" {
		text(Element{Text: "Recommendation", Weight: "bolder", Separator: true, Spacing: "medium"})
		text(Element{Text: c.recommendation, Spacing: "small"})
	}
	text(Element{Text: c.note, Size: "small", IsSubtle: true})
	return Payload{
		Type: "message",
		Attachments: []Attachment{{ContentType: contentType, Content: Card{
			Schema:       cardSchema,
			Type:         "AdaptiveCard",
			Version:      CardVersion,
			FallbackText: channels.Truncate(channels.OneLine(strings.TrimSuffix(c.status+": "+c.title, ": ")), maxTitleLen),
			Body:         body,
		}}},
	}
}

// fit keeps the card within maxPayload by leaving facts out, the
// largest first (the one huge value rather than the cluster and the
// node), with a note saying how many. The rest of the card is bounded
// far below the limit (the texts' bounds add up to 15 KB), so the facts
// alone can be too many.
func fit(c *content) {
	size := encodedSize(c.payload())
	if size <= maxPayload {
		return
	}
	byTitle := make(map[string]string, len(c.facts))
	for _, f := range c.facts {
		byTitle[f.Title] = f.Value
	}
	drop := channels.Shed(byTitle, size-maxPayload+noteReserve, func(k, v string) int {
		return encodedSize(Fact{k, v}) + 1
	})
	total := len(c.facts)
	c.facts = withoutTitles(c.facts, drop)
	c.note = channels.OmittedNote(len(drop), total, "facts", "Teams' 28 KB message limit")
}

// withoutTitles removes the facts whose titles are listed.
func withoutTitles(fs []Fact, titles []string) []Fact {
	gone := make(map[string]bool, len(titles))
	for _, t := range titles {
		gone[t] = true
	}
	out := fs[:0]
	for _, f := range fs {
		if !gone[f.Title] {
			out = append(out, f)
		}
	}
	return out
}

// cutEncoded returns the longest cut of s (channels.Truncate, with its
// "…") whose JSON encoding takes at most n bytes: "" when none does.
func cutEncoded(s string, n int) string {
	if len(s)+2 <= n && encodedSize(s) <= n {
		return s
	}
	if n < 2 {
		return "" // not even "" fits; the caller leaves it out
	}
	s = channels.Truncate(s, n) // no cut that fits is longer
	lo, hi := 0, len(s)         // the answer's length lies in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if encodedSize(channels.Truncate(s, mid)) <= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	t := channels.Truncate(s, lo)
	if encodedSize(t) > n {
		return ""
	}
	return t
}

// Encode is the request body: the payload as JSON, with <, > and & as
// they are (Teams shows text, not HTML, and \u003c costs six bytes).
func Encode(p any) []byte {
	b, _ := channels.MarshalJSON(p) // cannot fail: strings, bools and slices of them
	return b
}

func encodedSize(v any) int { return len(Encode(v)) }
