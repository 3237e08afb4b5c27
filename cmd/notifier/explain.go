package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"notifier/engine"
)

// explanation is explain's JSON output (a contract: extend freely).
type explanation struct {
	Policy     policyInfo          `json:"policy"`
	Event      *engine.Event       `json:"event"`
	Summary    string              `json:"summary"`
	Key        string              `json:"key"`
	Rules      []engine.RuleResult `json:"rules"`
	Dropped    bool                `json:"dropped"`
	Deliveries []engine.Delivery   `json:"deliveries"`
	Muted      []engine.Delivery   `json:"muted,omitempty"`
	// Ignored is set when the input is deliberately not acted on (a CMON
	// message that is not an alarm); the other fields are then empty.
	Ignored string `json:"ignored,omitempty"`
}

// policyInfo says which policy decided, and whether it came from the
// snapshot cache.
type policyInfo struct {
	Files    []string `json:"files"`
	Snapshot bool     `json:"snapshot"`
}

// explainCmd reads the event exactly as run does and shows the decision
// without delivering anything.
func (a *app) explainCmd(args []string) error {
	fs := a.newFlags("explain")
	configFlag := fs.String("config", "", "policy file or directory (default $NOTIFIER_CONFIG, else "+defaultConfig+")")
	source := fs.String("source", sourceAuto, "event source: auto, cmon, pacemaker or json")
	eventFile := fs.String("event", "", "read the event from `FILE` (CMON JSON or a Pacemaker KEY=VALUE environment) instead of stdin/environment")
	format := fs.String("format", "text", "output format: text or json")
	at := fs.String("at", "", "evaluate as if the event happened at `TIME` (RFC 3339)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usageErr("explain: --format %q: want text or json", *format)
	}
	when := a.start
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErr("explain: --at %q: want RFC 3339 like 2026-11-21T03:00:00+01:00", *at)
		}
		when = t
	}
	w := newWiring()
	p, err := a.loadPolicy(a.configPath(*configFlag), w)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithDeadline(context.Background(), a.start.Add(p.Settings.Deadline))
	defer cancel()
	in, err := a.readInput(ctx, *source, *eventFile)
	if err != nil {
		return err
	}
	ev, err := in.decode(when, p.Settings.Cluster)
	if errors.Is(err, errIgnored) {
		// Not an error: the run would exit 0 without telling anyone.
		x := explanation{Policy: policyInfo{Files: p.Files, Snapshot: p.FromSnapshot}, Rules: []engine.RuleResult{},
			Deliveries: []engine.Delivery{}, Ignored: err.Error()}
		if *format == "json" {
			return writeJSON(a.stdout, x)
		}
		fmt.Fprintf(a.stdout, "result:  %v; nobody is told\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	if *at != "" {
		ev.Time = when
	}
	d := p.Evaluate(ev)
	x := explanation{Policy: policyInfo{Files: p.Files, Snapshot: p.FromSnapshot}, Event: ev, Summary: engine.Summary(ev), Key: d.Key, Rules: d.Rules, Dropped: d.Dropped, Deliveries: d.Deliveries, Muted: d.Muted}
	if *format == "json" {
		return writeJSON(a.stdout, x)
	}
	writeExplanation(a.stdout, &x)
	return nil
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeExplanation(out io.Writer, x *explanation) {
	ev := x.Event
	fmt.Fprintf(out, "event:   %s %s %s, severity %s, at %s\n", ev.Source, ev.EventType, ev.Action, ev.Severity, ev.Time.Format(time.RFC3339))
	fmt.Fprintf(out, "summary: %s\n", x.Summary)
	fmt.Fprintf(out, "key:     %s\n\nrules:\n", x.Key)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, r := range x.Rules {
		verdict := "no match"
		switch {
		case r.Error != "":
			verdict = "error: " + r.Error
		case r.Matched && r.Muted != "":
			verdict = "MATCH, " + r.Muted
		case r.Matched:
			verdict = "MATCH"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", r.Name, verdict)
	}
	tw.Flush()
	fmt.Fprintln(out)
	last := x.Rules[len(x.Rules)-1]
	switch {
	case x.Dropped && len(x.Deliveries) == 0:
		fmt.Fprintf(out, "result:  dropped by rule %q; nobody is told\n", last.Name)
	case len(x.Deliveries) == 0 && len(x.Muted) == 0:
		fmt.Fprintln(out, "result:  no rule matched; nobody is told")
	default:
		if x.Dropped {
			fmt.Fprintf(out, "dropped by rule %q after earlier rules with continue decided:\n", last.Name)
		}
		fmt.Fprintln(out, "would send:")
		for _, d := range x.Deliveries {
			fmt.Fprintf(out, "  %s (%s): %s, by rule %q\n", d.Channel, d.Type, d.Action, d.Rule)
		}
		if len(x.Deliveries) == 0 {
			fmt.Fprintln(out, "  nothing")
		}
		for _, d := range x.Muted {
			fmt.Fprintf(out, "  %s (%s): not sent, %s (rule %q)\n", d.Channel, d.Type, strings.TrimSpace(d.Reason), d.Rule)
		}
	}
}
