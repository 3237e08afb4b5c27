package pagerduty

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"notifier/channels"
)

// maxHrefLen bounds a link's URL. PagerDuty states no limit; a cut URL
// would lead somewhere else, so a longer one is left out instead, and a
// runaway template cannot crowd out the page.
const maxHrefLen = 2048

// link is one entry of the Events API's links.
type link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// links builds the event's links from the parts links.N.href and
// links.N.text, in the order of N: a retry sends what was rendered
// even if the policy has changed since. A link whose href is missing,
// blank or over maxHrefLen is left out; its text is cut to maxFieldLen.
func links(m *channels.Message) []any {
	type indexed struct {
		n int
		link
	}
	byN := map[int]*indexed{}
	for _, p := range m.PartsUnder(linksOption) {
		num, field, ok := strings.Cut(p.Name, ".")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 {
			continue
		}
		l := byN[n]
		if l == nil {
			l = &indexed{n: n}
			byN[n] = l
		}
		switch field {
		case "href":
			l.Href = strings.TrimSpace(p.Value)
		case "text":
			l.Text = channels.Truncate(channels.OneLine(p.Value), maxFieldLen)
		}
	}
	all := make([]*indexed, 0, len(byN))
	for _, l := range byN {
		all = append(all, l)
	}
	slices.SortFunc(all, func(a, b *indexed) int { return cmp.Compare(a.n, b.n) })
	var out []any
	for _, l := range all {
		if l.Href == "" || len(l.Href) > maxHrefLen {
			continue
		}
		out = append(out, l.link)
	}
	return out
}

// templatedDetails are the custom_details entries in d that the
// policy's templates wrote, so that fit can tell them from raw fields.
func templatedDetails(d map[string]any, m *channels.Message) map[string]string {
	out := map[string]string{}
	for _, p := range m.PartsUnder(detailsOption) {
		if v, ok := d[p.Name].(string); ok {
			out[p.Name] = v
		}
	}
	return out
}
