// Command demo runs the real notifier binary over every example event with
// the shipped policy, against PagerDuty- and Slack-compatible endpoints and
// a syslog collector that it starts on 127.0.0.1, and prints what each
// endpoint received; then a few events through the complete example
// policy (templates, email, webhook, Teams), against those endpoints and
// a webhook receiver, a Teams endpoint and an SMTP server (mailpit). `make demo` runs it; it needs no account and fakes
// nothing inside the binary. It exits non-zero when what arrived differs
// from what `notifier explain` predicted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"notifier/internal/harness"
)

func main() {
	bin := flag.String("bin", "bin/notifier", "the notifier binary")
	policy := flag.String("policy", "policies/default.yaml", "the policy to run")
	events := flag.String("events", "examples/events", "directory of example events (cmon/*.json, pacemaker/*.env)")
	examplePolicy := flag.String("example", "examples/config/notifier.yaml", "the complete example policy, run in the second part (\"\": none)")
	flag.Parse()
	if err := demo(*bin, *policy, *events); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
	if *examplePolicy == "" {
		return
	}
	if err := example(*bin, *examplePolicy, *events); err != nil {
		fmt.Fprintf(os.Stderr, "demo, part 2: %v\n", err)
		os.Exit(1)
	}
}

// start runs the local endpoints and writes policy's copy pointing at
// them; stop closes them and removes its directory.
func start(bin, policy string) (h *harness.Harness, stop func(), err error) {
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "notifier-demo-")
	if err != nil {
		return nil, nil, err
	}
	if h, err = harness.New(bin, policy, dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return h, func() { h.Close(); os.RemoveAll(dir) }, nil
}

func demo(bin, policy, eventsDir string) error {
	h, stop, err := start(bin, policy)
	if err != nil {
		return err
	}
	defer stop()
	files, err := harness.Events(eventsDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	fmt.Printf("notifier demo: %s with %s\n", bin, policy)
	fmt.Printf("endpoints: PagerDuty %s  Slack %s  syslog %s\n\n", h.PagerDuty.URL(), h.Slack.URL(), h.Syslog.Address())
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tCALLED AS\tDECISION (explain)\tEXIT")
	want := map[string]int{}
	var problems []string
	for _, f := range files {
		name, _ := filepath.Rel(eventsDir, f)
		x, err := h.Explain(ctx, f)
		decision := ""
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", name, err)
		case x.Ignored != "":
			decision = "ignored (not an alarm)"
		case len(x.Deliveries) > 0:
			// A dropped recovery still resolves what its problem told.
			var parts []string
			for _, d := range x.Deliveries {
				parts = append(parts, d.Channel+" "+d.Action+" ("+shortReason(d.Reason)+")")
				want[d.Type]++
			}
			decision = strings.Join(parts, ", ")
		case len(x.NotSent) > 0:
			decision = "not sent: " + shortReason(x.NotSent[0].Reason)
		case x.Dropped:
			decision = "dropped"
		default:
			decision = "no rule matched"
		}
		res, err := h.Run(ctx, f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		caller := "CMON: stdin, no args, empty env"
		if harness.IsPacemakerEvent(f) {
			caller = "Pacemaker: env, stdin /dev/null"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", name, caller, decision, res.Exit)
		if res.Exit != 0 {
			problems = append(problems, fmt.Sprintf("%s: exit %d: %s", name, res.Exit, strings.TrimSpace(res.Stderr)))
		}
	}
	tw.Flush()

	logs, err := h.Syslog.Wait(want["syslog"], 10*time.Second)
	if err != nil {
		problems = append(problems, err.Error())
	}
	pd := h.PagerDuty.Events()
	fmt.Printf("\n== PagerDuty Events API v2 received %d ==\n", len(pd))
	for _, r := range pd {
		summary := ""
		if r.Event.Payload != nil {
			summary = r.Event.Payload.Severity + "  " + r.Event.Payload.Summary
		}
		fmt.Printf("  HTTP %d  %-8s dedup_key=%s  %s\n", r.Status, r.Event.EventAction, r.Event.DedupKey, summary)
	}
	sl := h.Slack.Messages()
	fmt.Printf("\n== Slack webhook received %d ==\n", len(sl))
	for _, m := range sl {
		fmt.Printf("  %s\n", m.Text)
	}
	fmt.Printf("\n== syslog received %d ==\n", len(logs))
	for _, m := range logs {
		fmt.Printf("  <facility %d, severity %d> %s: %s\n", m.Facility, m.Severity, m.AppName, m.Msg)
	}
	for typ, got := range map[string]int{"pagerduty": len(pd), "slack": len(sl), "syslog": len(logs)} {
		if got != want[typ] {
			problems = append(problems, fmt.Sprintf("%s received %d, explain predicted %d", typ, got, want[typ]))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Println("\nEvery endpoint received exactly what explain predicted.")
	return nil
}

// shortReason keeps the gist of a reason for the table.
func shortReason(r string) string {
	for _, cut := range []string{" until ", " opened ", " within "} {
		if i := strings.Index(r, cut); i > 0 {
			return r[:i]
		}
	}
	return r
}
