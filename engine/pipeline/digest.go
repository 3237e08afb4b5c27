package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"notifier/channels"
	"notifier/engine/event"
	"notifier/engine/state"
)

// digestMessage makes m, built from the digest's lead member, the
// group's notification: its severity the most severe open member's, its
// summary how many alerts of which types on which nodes, its members
// listed. The lead member's raw fields are left out: they are one
// member's, not the group's.
func digestMessage(m *channels.Message, d *state.Digest) {
	open, types, nodes := 0, []string{}, []string{}
	sev := ""
	for i, mem := range d.Members {
		ev := d.Events[i]
		summary := mem.Summary
		if summary == "" {
			summary = summaryOf(ev)
		}
		m.Members = append(m.Members, channels.Member{Key: mem.Key, Severity: ev.Severity, Summary: summary,
			Node: ev.Node, EventType: ev.EventType, Open: mem.Open, Count: mem.Count, Note: mem.Note})
		if !mem.Open {
			continue
		}
		open++
		if event.SeverityRank(ev.Severity) > event.SeverityRank(sev) {
			sev = ev.Severity
		}
		if ev.EventType != "" && !slices.Contains(types, ev.EventType) {
			types = append(types, ev.EventType)
		}
		if ev.Node != "" && !slices.Contains(nodes, ev.Node) {
			nodes = append(nodes, ev.Node)
		}
	}
	if sev != "" {
		m.Severity = sev
	}
	if len(d.Members) == 1 && d.RateCap == "" {
		// A group of one reads as that alert: its summary, text and
		// fields, as if it were told on its own.
		if m.Action == channels.Resolve {
			m.Summary = "cleared: " + m.Summary
		}
		if n := m.Members[0].Note; n != "" {
			m.Summary += " [" + n + "]"
		}
		return
	}
	// Every channel shows the text: it lists the members (PagerDuty,
	// syslog and the webhook also get them one by one).
	m.Details, m.Count, m.Node, m.Name, m.Recommendation = nil, len(d.Members), strings.Join(clip(nodes, 5), ","), "", ""
	m.Text = strings.Join(m.MemberList(maxTextMembers), "\n")
	cleared := len(d.Members) - open
	var b strings.Builder
	if d.RateCap != "" {
		fmt.Fprintf(&b, "%d more %s held by the rate cap of %s", open, plural(open, "alert", "alerts"), d.RateCap)
	} else {
		fmt.Fprintf(&b, "%d %s in %s", open, plural(open, "alert", "alerts"), d.Group)
	}
	if len(types) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(clip(types, 3), ", "))
	}
	if len(nodes) > 0 {
		fmt.Fprintf(&b, " on %s", strings.Join(clip(nodes, 5), ", "))
	}
	if cleared > 0 {
		fmt.Fprintf(&b, " (%d cleared)", cleared)
	}
	if d.Unlisted > 0 {
		fmt.Fprintf(&b, " (and %d more not listed)", d.Unlisted)
	}
	if m.Action == channels.Resolve {
		b.Reset()
		fmt.Fprintf(&b, "all %d alerts in %s cleared", len(d.Members), d.Group)
	}
	m.Summary = b.String()
}

// maxTextMembers bounds the members a digest's text lists.
const maxTextMembers = 50

// summaryOf is ev's one line, as a single alert's message has it.
func summaryOf(ev *event.Event) string {
	if s := event.Summary(ev); s != "" {
		return s
	}
	return ev.Key
}

// clip keeps the first n of list, and says how many more.
func clip(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(slices.Clone(list[:n]), fmt.Sprintf("%d more", len(list)-n))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
