package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/pipeline"
	"notifier/engine/state"
)

// explanation is explain's JSON output (a contract: extend freely).
type explanation struct {
	Policy  policyInfo          `json:"policy"`
	Event   *event.Event        `json:"event"`
	Summary string              `json:"summary"`
	Key     string              `json:"key"`
	Rules   []engine.RuleResult `json:"rules"`
	Dropped bool                `json:"dropped"`
	// Deliveries are what would be sent, each with its reason (first,
	// first after N suppressed, escalated, resolves the incident ...) and
	// its rendered templates.
	Deliveries []explained `json:"deliveries"`
	// NotSent are deliveries a rule chose that would not be made, and why
	// (suppressed until T, silenced by ID, muted by a window ...).
	NotSent []state.Planned `json:"not_sent"`
	// State says what state the decision was made against.
	State string `json:"state"`
	// Ignored is set when the input is deliberately not acted on (a CMON
	// message that is not an alarm); the other fields are then empty.
	Ignored string `json:"ignored,omitempty"`
	// Problems are what the run would report on stderr, exiting 1, though
	// nothing is lost: a channel that cannot be built (its deliveries
	// would be queued, not sent).
	Problems []string `json:"problems,omitempty"`
}

// explained is one delivery that would be made, with the parts its
// templates render (by option; a template that fails is not among them,
// and is one of the problems).
type explained struct {
	state.Planned
	Parts map[string]string `json:"parts,omitempty"`
}

// policyInfo says which policy decided.
type policyInfo struct {
	Files []string `json:"files"`
	// Snapshot is always false: it said the policy came from the snapshot
	// cache, which is gone (every run compiles). Kept because the JSON is
	// read by scripts; removing a field breaks them.
	Snapshot bool `json:"snapshot"`
}

// explainCmd reads the event exactly as run does and shows the decision
// without delivering anything.
func (a *app) explainCmd(args []string) error {
	fs := a.newFlags("explain")
	configFlag := fs.String("config", "", configUsage)
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
	defer w.close()
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
	ev, err := decode(in, when, p.Settings.Cluster)
	if errors.Is(err, errIgnored) {
		// Not an error: the run would exit 0 without telling anyone.
		x := explanation{Policy: policyInfo{Files: p.Files}, Rules: []engine.RuleResult{},
			Deliveries: []explained{}, NotSent: []state.Planned{}, Ignored: err.Error()}
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
	pl := a.newPipeline(p, w)
	if *at != "" {
		pl.Clock = func() time.Time { return when } // the state is judged at --at
	}
	r := pl.Decide(ctx, ev)
	d, res := r.Decision, r.Plan
	stateNote, failing := a.explainState(p, r)
	x := explanation{Policy: policyInfo{Files: p.Files}, Event: ev, Summary: event.Summary(ev), Key: d.Key,
		Rules: d.Rules, Dropped: d.Dropped, NotSent: res.Skip, State: stateNote,
		Problems: append(explainChannels(res.Send, r.ChannelErrs), failing...)}
	x.Deliveries = make([]explained, len(res.Send))
	for i, s := range res.Send {
		x.Deliveries[i] = explained{Planned: s, Parts: r.Messages[i].Parts}
	}
	for _, err := range r.PartErrs { // the run sends the built-in text, says so and exits 1
		x.Problems = append(x.Problems, err.Error()+"; the run would say so and exit 1")
	}
	for _, r := range d.Rules {
		if r.Error != "" { // the run reports it and exits 1 (reportDecision)
			x.Problems = append(x.Problems, fmt.Sprintf("rule %q failed on %s: %s", r.Name, ev.Key, r.Error))
		}
	}
	if x.NotSent == nil {
		x.NotSent = []state.Planned{}
	}
	err = nil
	if *format == "json" {
		err = writeJSON(a.stdout, x)
	} else {
		writeExplanation(a.stdout, &x)
	}
	for _, msg := range x.Problems {
		fmt.Fprintf(a.stderr, "notifier: %s\n", msg)
	}
	if err == nil && len(x.Problems) > 0 {
		return problemsFound() // as the run would
	}
	return err
}

// explainChannels says what the run would do about the channels of the
// plan that cannot be built (the pipeline built each, as the run does
// before delivering: secret files read, nothing sent): their deliveries
// would be queued, not sent, and the run would exit 1. Those deliveries'
// reasons say so; the problems are returned, one per channel. The errors
// name files and options, never a secret's content.
func explainChannels(send []state.Planned, errs map[string]error) []string {
	var problems []string
	said := map[string]bool{}
	for i, d := range send {
		err := errs[d.Channel]
		if err == nil {
			continue
		}
		why := fmt.Sprintf("channel %q cannot be built: %s", d.Channel, channels.OneLine(err.Error()))
		if !said[d.Channel] {
			said[d.Channel] = true
			problems = append(problems, why+"; its deliveries would be queued and retried, not sent, and the run would exit 1")
		}
		send[i].Reason += "; would be queued, not sent: " + why
	}
	return problems
}

// explainState says what state the decision was made against, and the
// problems a run would report on stderr, exiting 1: the state unusable,
// shared with another policy, channels whose deliveries were given up
// (pipeline.FailureLine).
func (a *app) explainState(p *engine.Policy, r *pipeline.Report) (string, []string) {
	if r.FailedOpen {
		why := r.StateErr.Error()
		return "unavailable: " + why, []string{"state unusable, the run would deliver without suppression and exit 1: " + why}
	}
	var failing []string // the run would say these too, and exit 1
	for _, f := range r.Marks {
		failing = append(failing, pipeline.FailureLine(f))
	}
	slices.Sort(failing)
	where := a.statePath(p)
	if p.Settings.RedisURL != "" {
		where += " and Redis"
	}
	note := "read from " + where
	for _, other := range r.Plan.SharedWith {
		path := state.PolicyPath(other)
		note += "; also used by the policy " + path + ", which decided this key before (give each policy its own settings.state.path)"
		failing = append(failing, "the state "+where+" is also used by the policy "+path+": the run would say so and exit 1")
	}
	return note, failing
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
	matched := false
	for _, r := range x.Rules {
		matched = matched || r.Matched
	}
	switch {
	case x.Dropped && len(x.Deliveries) == 0:
		fmt.Fprintf(out, "result:  dropped by rule %q; nobody is told\n", last.Name)
	case !matched && len(x.Deliveries) == 0:
		fmt.Fprintln(out, "result:  no rule matched; nobody is told")
	default:
		if x.Dropped {
			fmt.Fprintf(out, "dropped by rule %q after earlier rules with continue decided:\n", last.Name)
		}
		fmt.Fprintln(out, "would send:")
		for _, d := range x.Deliveries {
			fmt.Fprintf(out, "  %s (%s): %s, by rule %q: %s\n", d.Channel, d.Type, d.Action, d.Rule, d.Reason)
			for _, option := range slices.Sorted(maps.Keys(d.Parts)) {
				text := d.Parts[option]
				if strings.ContainsAny(text, "\r\n") || text != strings.TrimSpace(text) {
					text = strconv.Quote(text)
				}
				fmt.Fprintf(out, "    %s: %s\n", option, text)
			}
		}
		if len(x.Deliveries) == 0 {
			fmt.Fprintln(out, "  nothing")
		}
		for _, d := range x.NotSent {
			fmt.Fprintf(out, "  %s (%s): not sent, %s (rule %q)\n", d.Channel, d.Type, strings.TrimSpace(d.Reason), d.Rule)
		}
	}
	fmt.Fprintf(out, "state:   %s\n", x.State)
}
