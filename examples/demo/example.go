package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"notifier/channels"
)

// exampleEvents are the events the second part runs through the complete
// example policy: a CMON alarm raised, a warning, the alarm cleared, and
// a Pacemaker node lost and back.
var exampleEvents = []string{
	"cmon/alarm-new-critical.json",
	"cmon/alarm-new-warning.json",
	"pacemaker/node-lost-cluster-node-crash.env",
	"pacemaker/resource-monitor-fail.env",
	"cmon/alarm-remove-critical.json",
	"pacemaker/node-member-cluster-node.env",
}

// example runs exampleEvents through the complete example policy, whose
// channels carry templates (a PagerDuty summary naming the cluster, a
// runbook link, custom details), and which mails what no person was
// told: every channel type against its local endpoint, an SMTP server
// (mailpit) included. Like the first part it fails when what arrived
// differs from what explain predicted.
func example(bin, policy, eventsDir string) error {
	h, stop, err := start(bin, policy)
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	fmt.Printf("\n\nnotifier demo, part 2: %s (templates, email, webhook, Teams)\n", policy)
	fmt.Printf("endpoints: PagerDuty %s  Slack %s  syslog %s  webhook %s  Teams %s  SMTP %s\n\n",
		h.PagerDuty.URL(), h.Slack.URL(), h.Syslog.Address(), h.Webhook.URL(), channels.RedactURL(h.Teams.URL()), h.Mail.Addr())
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tDECISION (explain)\tEXIT")
	want := map[string]int{}
	var problems, rendered []string
	for _, name := range exampleEvents {
		f := filepath.Join(eventsDir, name)
		x, err := h.Explain(ctx, f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var ds []string
		for _, d := range x.Deliveries {
			ds = append(ds, d.Channel+" "+d.Action)
			want[d.Type]++
			for _, p := range sortedKeys(d.Parts) {
				if p == "summary" || p == "subject" || p == "title" || strings.HasPrefix(p, "links.") {
					rendered = append(rendered, fmt.Sprintf("%s  %s %s: %s", name, d.Channel, p, d.Parts[p]))
				}
			}
		}
		decision := strings.Join(ds, ", ")
		if decision == "" {
			decision = "nothing to send"
		}
		res, err := h.Run(ctx, f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", name, decision, res.Exit)
		if res.Exit != 0 {
			problems = append(problems, fmt.Sprintf("%s: exit %d: %s", name, res.Exit, strings.TrimSpace(res.Stderr)))
		}
	}
	tw.Flush()
	fmt.Printf("\n== what the templates rendered (explain) ==\n")
	for _, r := range rendered {
		fmt.Printf("  %s\n", r)
	}

	pd := h.PagerDuty.Events()
	fmt.Printf("\n== PagerDuty received %d ==\n", len(pd))
	for _, r := range pd {
		e := r.Event
		if e.Payload == nil {
			fmt.Printf("  HTTP %d  %-8s dedup_key=%s\n", r.Status, e.EventAction, e.DedupKey)
			continue
		}
		fmt.Printf("  HTTP %d  %-8s %s  owner=%v environment=%v\n", r.Status, e.EventAction, e.Payload.Summary,
			e.Payload.CustomDetails["owner"], e.Payload.CustomDetails["environment"])
		for _, l := range e.Links {
			fmt.Printf("           link %v: %v\n", l["text"], l["href"])
		}
	}
	mails, err := h.Mail.WaitMessages(want["email"])
	if err != nil {
		problems = append(problems, err.Error())
	}
	fmt.Printf("\n== email received %d ==\n", len(mails))
	for _, m := range mails {
		fmt.Printf("  To %s  Subject %q  In-Reply-To %q\n", m.Header.Get("To"), m.Header.Get("Subject"), m.Header.Get("In-Reply-To"))
	}
	hooks := h.Webhook.Requests()
	fmt.Printf("\n== webhook received %d ==\n", len(hooks))
	for _, r := range hooks {
		fmt.Printf("  %s %d  %s\n", r.Method, r.Status, oneLine(string(r.Body)))
	}
	cards := h.Teams.Cards()
	fmt.Printf("\n== Teams received %d cards ==\n", len(cards))
	for _, c := range cards {
		fmt.Printf("  %s\n", cardTitle(c))
	}
	logs, err := h.Syslog.Wait(want["syslog"], 10*time.Second)
	if err != nil {
		problems = append(problems, err.Error())
	}
	got := map[string]int{"pagerduty": len(pd), "slack": len(h.Slack.Messages()), "syslog": len(logs),
		"email": len(mails), "webhook": len(hooks), "msteams": len(cards)}
	fmt.Printf("\n== Slack received %d, syslog %d ==\n", got["slack"], got["syslog"])
	for _, typ := range sortedKeys(got) {
		if got[typ] != want[typ] {
			problems = append(problems, fmt.Sprintf("%s received %d, explain predicted %d", typ, got[typ], want[typ]))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Println("\nEvery endpoint received exactly what explain predicted.")
	return nil
}

// cardTitle is the text of the first heading of an Adaptive Card's
// message, for the listing.
func cardTitle(raw json.RawMessage) string {
	var card struct {
		Body []struct {
			Items []struct {
				Text  string `json:"text"`
				Style string `json:"style"`
			} `json:"items"`
			Style string `json:"style"`
		} `json:"body"`
	}
	if json.Unmarshal(raw, &card) != nil || len(card.Body) == 0 {
		return oneLine(string(raw))
	}
	var texts []string
	for _, it := range card.Body[0].Items {
		if it.Text != "" {
			texts = append(texts, it.Text)
		}
	}
	return "[" + card.Body[0].Style + "] " + strings.Join(texts, " / ")
}

// oneLine is s on one line, cut to 160 bytes (whole characters).
func oneLine(s string) string { return channels.Truncate(channels.OneLine(s), 160) }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
