package policytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	chans "notifier/channels" // channels names this package's list of channels
	"notifier/engine"
	"notifier/engine/cmon"
	"notifier/engine/event"
	"notifier/engine/pacemaker"
	"notifier/engine/pipeline"
	"notifier/engine/policy"
	"notifier/engine/state"
	"notifier/engine/state/mem"
)

// DefaultStart is the virtual clock's offset 0 when a file gives none: a
// Monday, 03:00 UTC — the hour pages hurt most.
var DefaultStart = time.Date(2026, time.January, 5, 3, 0, 0, 0, time.UTC)

// DefaultHost is the local host name the decoders see unless a file says.
const DefaultHost = "notifier-test"

// Options says how to run test files.
type Options struct {
	// Load checks channels as a run would (cmd/notifier wires them).
	Load policy.Options
	// Wiring, when set, makes the wiring each file's policy loads
	// through instead of Load (pipeline.NewWiring): its channel checks,
	// and its templates, rendered for each delivery so that a step can
	// expect their text (parts).
	Wiring func() *pipeline.Wiring
	// DefaultPolicy is the policy of a file that names none.
	DefaultPolicy string
	// Filter, when set, runs only the tests whose name it matches.
	Filter *regexp.Regexp
}

// Result is one test file's outcome.
type Result struct {
	File string
	// Problems are what is wrong with the file or its policy; when any
	// is an error, no test ran.
	Problems policy.Problems
	// PolicyBroken says the problems are the policy's (it did not load),
	// not the test file's.
	PolicyBroken bool
	Tests        []TestResult
	// Uncovered lists the policy's rules that no step of the tests that
	// ran matched: behaviour nothing checks.
	Uncovered []string
}

// TestResult is one test's outcome.
type TestResult struct {
	Name     string
	Line     int
	Skipped  bool     // filtered out by Options.Filter
	Failures []string // one per failing step, possibly several lines each
	Duration time.Duration
}

// Failed reports whether the file failed: broken, or a test failed.
func (r *Result) Failed() bool {
	if len(r.Problems.Errors()) > 0 {
		return true
	}
	for _, t := range r.Tests {
		if len(t.Failures) > 0 {
			return true
		}
	}
	return false
}

// RunFile parses one test file, loads its policy and runs its tests.
func RunFile(path string, opts Options) *Result {
	res := &Result{File: path}
	f, ps := parseFile(path)
	if len(ps.Errors()) > 0 {
		res.Problems = ps
		return res
	}
	policyPath := opts.DefaultPolicy
	if f.Policy != "" {
		policyPath = relative(path, f.Policy)
	}
	srcs, err := policy.ReadSources(policyPath)
	if err != nil {
		res.Problems = policy.Problems{{File: path, Line: f.policyLine, Col: f.policyCol, Severity: "error", Check: "policy", Message: err.Error()}}
		return res
	}
	load := opts.Load
	var templates *pipeline.Templates
	if opts.Wiring != nil {
		w := opts.Wiring()
		load = w.LoadOptions()
		templates = w.Templates()
	}
	p, _ := engine.Compile(srcs, load)
	if p == nil {
		// Said as lint says it, lint's errors included.
		_, pps := engine.Lint(srcs, load)
		res.Problems, res.PolicyBroken = pps.Errors(), true
		return res
	}
	r := runner{file: path, spec: f, policy: p, templates: templates, matched: map[string]bool{}}
	for _, t := range f.Tests {
		tr := TestResult{Name: t.Name, Line: t.line}
		if opts.Filter != nil && !opts.Filter.MatchString(t.Name) {
			tr.Skipped = true
		} else {
			began := time.Now()
			tr.Failures = r.run(t)
			tr.Duration = time.Since(began)
		}
		res.Tests = append(res.Tests, tr)
	}
	ran := slices.ContainsFunc(res.Tests, func(t TestResult) bool { return !t.Skipped })
	for _, rule := range p.Rules {
		if ran && !r.matched[rule.Name] {
			res.Uncovered = append(res.Uncovered, rule.Name)
		}
	}
	return res
}

// relative resolves a path named in a test file against the file's
// directory.
func relative(testFile, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(testFile), p)
}

type runner struct {
	file    string
	spec    *parsedFile
	policy  *engine.Policy
	matched map[string]bool // rules some step matched
	// templates are the policy's, rendered for each delivery (nil: none)
	templates *pipeline.Templates
}

// run runs one test on a fresh store and returns its failures.
func (r *runner) run(t parsedTest) []string {
	var clock time.Time
	store := mem.New(func() time.Time { return clock })
	topology := state.NewTopology(store, nil)
	// Decided as a run decides (pipeline.Record: the silences, the rules
	// and the state, through the run's own decide path), on this test's
	// store at the virtual clock; nothing is queued or delivered.
	pl := &pipeline.Pipeline{
		Policy:    r.policy,
		Templates: r.templates,
		Open:      func() (*state.Topology, error) { return topology, nil }, // closing it closes nothing
		Clock:     func() time.Time { return clock },
		// As the engine decides: a group's first notification waits for
		// its wait (a run without an engine sends it at once).
		Engine: true,
		Occurrence: func(ev *event.Event, now time.Time) string {
			if occ := pacemaker.OccurrenceOf(ev); occ != "" {
				// A file replayed at another offset is another alert; two
				// steps at the same offset are one alert's invocations
				// (two recipients).
				return occ + "@" + now.Format(time.RFC3339Nano)
			}
			return ""
		},
	}
	ctx := context.Background()
	var failures []string
	for i, s := range t.Steps {
		clock = r.spec.start.Add(s.At)
		where := fmt.Sprintf("%s:%d:%d: step %d at +%s", r.file, s.node.Line, s.node.Column, i+1, s.At)
		if s.Silence != nil {
			sil := state.Silence{ID: fmt.Sprintf("s-test-%d", i+1), Match: s.Silence.Match, Comment: s.Silence.Comment, Created: clock, Expires: clock.Add(s.Silence.For)}
			id, rec, err := sil.Record()
			if err == nil {
				err = store.Update(ctx, []string{id}, func(recs map[string]*state.Record) error { recs[id] = rec; return nil })
			}
			if err != nil {
				failures = append(failures, where+": silence: "+err.Error())
			}
			continue
		}
		rel, err := r.release(ctx, pl)
		if err != nil {
			failures = append(failures, where+": "+err.Error())
			continue
		}
		if s.Release {
			if s.Expect != nil {
				if diff := compare(s.Expect, rel); diff != "" {
					failures = append(failures, where+" ("+rel.summary+"):"+diff)
				}
			}
			continue
		}
		if len(rel.result.Send) > 0 {
			// Exact, as every expectation is: a release nothing checks
			// could page anyone.
			failures = append(failures, fmt.Sprintf("%s: held events released before this step sent %s: check them with a step `release: true` at or before this time",
				where, strings.Join(sendList(rel), "; ")))
		}
		got, err := r.step(ctx, pl, s, clock)
		if err != nil {
			failures = append(failures, where+": "+err.Error())
			continue
		}
		if s.Expect != nil {
			if diff := compare(s.Expect, got); diff != "" {
				failures = append(failures, where+" ("+got.summary+"):"+diff)
			}
		}
	}
	return failures
}

// outcome is what one event caused.
type outcome struct {
	summary  string // the event, for failure messages
	decision *engine.Decision
	result   state.Result
	messages []*chans.Message // of result.Send, with their parts (Pipeline.Record), when templates render
	keys     []string         // the key of each of result.Send, when not all the decision's (releases)
}

// release decides again the held events due at the clock, together.
func (r *runner) release(ctx context.Context, pl *pipeline.Pipeline) (*outcome, error) {
	rep, err := pl.ReleaseDue(ctx)
	if err != nil {
		return nil, err
	}
	if len(rep.PartErrs) > 0 {
		return nil, rep.PartErrs[0]
	}
	got := &outcome{decision: &engine.Decision{}}
	var keys []string
	for _, rel := range rep.Releases {
		keys = append(keys, rel.Event.Key)
		got.result.Send = append(got.result.Send, rel.Plan.Send...)
		got.result.Skip = append(got.result.Skip, rel.Plan.Skip...)
		got.messages = append(got.messages, rel.Messages...)
		for _, s := range rel.Plan.Send {
			got.keys = append(got.keys, s.KeyOr(rel.Event.Key))
		}
	}
	got.summary = "release of the held events due: " + orNone(keys)
	return got, nil
}

// sendList names what an outcome sends, for a failure message.
func sendList(o *outcome) []string {
	var out []string
	for i, p := range o.result.Send {
		out = append(out, fmt.Sprintf("%s %s key=%s outcome=%s (%s)", p.Channel, p.Action, o.key(i), p.Outcome, p.Reason))
	}
	return out
}

// key is the key of the outcome's delivery i.
func (o *outcome) key(i int) string {
	if i < len(o.keys) {
		return o.keys[i]
	}
	return o.result.Send[i].KeyOr(o.decision.Key)
}

// step decodes a step's event and decides it as a run would.
func (r *runner) step(ctx context.Context, pl *pipeline.Pipeline, s stepSpec, now time.Time) (*outcome, error) {
	ev, err := r.event(s, now)
	var na *cmon.NotAlarmError
	if errors.As(err, &na) {
		return &outcome{summary: fmt.Sprintf("cmon message of type %q, ignored", na.Type), decision: &engine.Decision{}}, nil
	}
	if err != nil {
		return nil, err
	}
	ev.Time = now // the step's time is the event's: windows follow the virtual clock
	rep, err := pl.Record(ctx, ev, func(d *engine.Decision, bad []pipeline.BadSilence) error {
		if len(bad) > 0 {
			b := bad[len(bad)-1]
			return fmt.Errorf("silence %q does not compile: %v", b.Silence.Match, b.Err)
		}
		for _, rr := range d.Rules {
			r.matched[rr.Name] = r.matched[rr.Name] || rr.Matched
			if rr.Error != "" {
				// A rule failing at run time never matches: in production
				// that is an event quietly reaching the wrong rule.
				return fmt.Errorf("rule %q failed on this event: %s", rr.Name, rr.Error)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rep.PartErrs) > 0 {
		// A run would send the channel's built-in text and exit 1.
		return nil, rep.PartErrs[0]
	}
	d, res := rep.Decision, rep.Plan
	summary := event.Summary(ev)
	if summary == "" {
		summary = fmt.Sprintf("%s %s %s %s", ev.Source, ev.Kind, ev.Severity, ev.Action)
	}
	return &outcome{summary: summary + ", key " + ev.Key, decision: d, result: res, messages: rep.Messages}, nil
}

// event decodes the step's event with the decoder a run would use.
func (r *runner) event(s stepSpec, now time.Time) (*event.Event, error) {
	cluster := r.policy.Settings.Cluster
	var ev event.Event
	var err error
	switch {
	case s.CMONFile != "", s.cmon != nil:
		var data []byte
		if s.CMONFile != "" {
			data, err = os.ReadFile(relative(r.file, s.CMONFile))
		} else {
			data, err = inlineJSON(s.cmon)
		}
		if err != nil {
			return nil, fmt.Errorf("cmon: %w", err)
		}
		ev, err = cmon.Decode(data, cmon.Options{Now: now, Host: r.spec.host, Cluster: cluster})
	case s.PacemakerFile != "", s.pacemaker != nil:
		env := map[string]string{}
		if s.PacemakerFile != "" {
			var data []byte
			if data, err = os.ReadFile(relative(r.file, s.PacemakerFile)); err == nil {
				env, err = pacemaker.ParseEnvFile(data)
			}
		} else {
			for i := 0; i+1 < len(s.pacemaker.Content); i += 2 {
				env[s.pacemaker.Content[i].Value] = resolve(s.pacemaker.Content[i+1]).Value
			}
			// Pacemaker always stamps an alert; a hand-written one gets
			// the virtual clock's time, so two steps at one offset are
			// one alert's invocations (recipients), as with real ones.
			if _, ok := env["CRM_alert_timestamp_epoch"]; !ok {
				if _, ok := env["CRM_notify_timestamp_epoch"]; !ok {
					env["CRM_alert_timestamp_epoch"] = strconv.FormatInt(now.Unix(), 10)
					env["CRM_alert_timestamp_usec"] = strconv.Itoa(now.Nanosecond() / 1000)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("pacemaker: %w", err)
		}
		ev, err = pacemaker.Decode(env, pacemaker.Options{Host: r.spec.host, Now: now, Cluster: cluster})
	default:
		var data []byte
		if data, err = inlineJSON(s.event); err == nil {
			ev, err = event.DecodeJSON(data, now)
		}
	}
	if err != nil {
		return nil, err
	}
	return &ev, nil
}

// inlineJSON turns an inline YAML document into the JSON a decoder reads;
// a string is taken as JSON text.
func inlineJSON(n *yaml.Node) ([]byte, error) {
	if n.Kind == yaml.ScalarNode {
		return []byte(n.Value), nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// compare returns what differs between an expectation and an outcome, as
// indented lines, or "".
func compare(want *expectSpec, got *outcome) string {
	var b strings.Builder
	list := func(name string, want, got []string) {
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			fmt.Fprintf(&b, "\n    %s:\n      want: %s\n      got:  %s", name, orNone(want), orNone(got))
		}
	}
	if miss, extra := matchDeliveries(want.Deliveries, got); len(miss)+len(extra) > 0 {
		var w []string
		for _, d := range want.Deliveries {
			w = append(w, d.String())
		}
		var g []string
		for i, p := range got.result.Send {
			g = append(g, fmt.Sprintf("%s %s key=%s outcome=%s rule=%s%s (%s)", p.Channel, p.Action, got.key(i), p.Outcome, p.Rule, partsText(got.messages, i), p.Reason))
		}
		fmt.Fprintf(&b, "\n    deliveries:\n      want: %s\n      got:  %s", orNone(w), orNone(g))
		if len(miss) > 0 {
			fmt.Fprintf(&b, "\n      missing: %s", strings.Join(miss, "; "))
		}
		if len(extra) > 0 {
			fmt.Fprintf(&b, "\n      unexpected: %s", strings.Join(extra, "; "))
		}
	}
	list("suppressed", want.Suppressed, channels(got.result.Skip, state.OutcomeSuppressed))
	list("silenced", want.Silenced, channels(got.result.Skip, state.OutcomeSilenced))
	list("muted", want.Muted, channels(got.result.Skip, state.OutcomeMuted))
	list("escalated", want.Escalated, channels(got.result.Send, state.OutcomeEscalated))
	list("duplicate", want.Duplicate, channels(got.result.Skip, state.OutcomeDuplicate))
	list("inhibited", want.Inhibited, channels(got.result.Skip, state.OutcomeInhibited))
	list("flapping", want.Flapping, channels(got.result.Skip, state.OutcomeFlapping))
	list("grouped", want.Grouped, channels(got.result.Skip, state.OutcomeGrouped))
	list("rate_limited", want.RateLimited, channels(got.result.Skip, state.OutcomeRateLimited))
	if want.Dropped != got.decision.Dropped {
		fmt.Fprintf(&b, "\n    dropped:\n      want: %v\n      got:  %v", want.Dropped, got.decision.Dropped)
	}
	if want.Matched != nil {
		m := got.decision.Matched()
		if !slices.Equal(want.Matched, m) {
			fmt.Fprintf(&b, "\n    matched:\n      want: %s\n      got:  %s", orNone(want.Matched), orNone(m))
		}
	}
	if b.Len() > 0 {
		// Why what was not sent was not: the reason is the diagnosis.
		for i, p := range got.result.Skip {
			if i == 0 {
				b.WriteString("\n    not sent:")
			}
			fmt.Fprintf(&b, "\n      %s %s rule=%s: %s (%s)", p.Channel, p.Action, p.Rule, p.Outcome, p.Reason)
		}
		if len(got.result.Send)+len(got.result.Skip) == 0 {
			fmt.Fprintf(&b, "\n    matched: %s", orNone(got.decision.Matched()))
			if got.decision.Dropped {
				b.WriteString(" (dropped)")
			}
		}
	}
	return b.String()
}

func (d deliverySpec) String() string {
	s := d.Channel
	for _, f := range []struct{ name, v string }{{"", d.Action}, {"key=", d.Key}, {"outcome=", d.Outcome}, {"rule=", d.Rule}} {
		if f.v != "" {
			s += " " + f.name + f.v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.Parts)) {
		s += fmt.Sprintf(" %s=%q", k, d.Parts[k])
	}
	if d.Members != nil {
		s += " members=" + strings.Join(d.Members, ",")
	}
	return s
}

// partsText is the rendered parts of message i, and its members, for a
// failure message.
func partsText(ms []*chans.Message, i int) string {
	if i >= len(ms) {
		return ""
	}
	var s string
	for _, k := range slices.Sorted(maps.Keys(ms[i].Parts)) {
		s += fmt.Sprintf(" %s=%q", k, ms[i].Parts[k])
	}
	if len(ms[i].Members) > 0 {
		var keys []string
		for _, m := range ms[i].Members {
			keys = append(keys, m.Key)
		}
		s += " members=" + strings.Join(keys, ",")
	}
	return s
}

// matches says delivery p (its message m, nil without templates) is
// the one d expects: every field d gives, and every part d gives
// rendered to exactly that text.
func (d deliverySpec) matches(p state.Planned, m *chans.Message, key string) bool {
	if d.Channel != p.Channel || (d.Action != "" && d.Action != p.Action) || (d.Key != "" && d.Key != key) ||
		(d.Rule != "" && d.Rule != p.Rule) || (d.Outcome != "" && d.Outcome != string(p.Outcome)) {
		return false
	}
	for k, want := range d.Parts {
		if m == nil {
			return false
		}
		if got, ok := m.Parts[k]; !ok || got != want {
			return false
		}
	}
	if d.Members != nil {
		var got []string
		if m != nil {
			for _, mem := range m.Members {
				got = append(got, mem.Key)
			}
		}
		want := slices.Sorted(slices.Values(d.Members))
		slices.Sort(got)
		if !slices.Equal(want, got) {
			return false
		}
	}
	return true
}

// matchDeliveries pairs each expected delivery with a distinct one made
// (messages[i] is Send[i]'s message, when templates render); it returns
// the expected ones not made and the made ones not expected.
func matchDeliveries(want []deliverySpec, o *outcome) (missing, extra []string) {
	got, msgs := o.result.Send, o.messages
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			var m *chans.Message
			if i < len(msgs) {
				m = msgs[i]
			}
			if !used[i] && w.matches(g, m, o.key(i)) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w.String())
		}
	}
	for i, g := range got {
		if !used[i] {
			extra = append(extra, g.Channel+" "+g.Action)
		}
	}
	return missing, extra
}

func channels(ps []state.Planned, outcome state.Outcome) []string {
	var out []string
	for _, p := range ps {
		if p.Outcome == outcome {
			out = append(out, p.Channel)
		}
	}
	return out
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "(none)"
	}
	return strings.Join(list, "; ")
}
