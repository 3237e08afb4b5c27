package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"

	"notifier/channels"
	"notifier/engine"
	"notifier/engine/drop"
	"notifier/engine/lastgood"
	"notifier/engine/pipeline"
	"notifier/engine/spool"
	"notifier/engine/state"
)

// statusEngineBound is how long status waits for the engine's answer.
const statusEngineBound = time.Second

// statusSpoolMaxAge: an entry older than this in new/ or claimed/ means
// nothing is taking entries (no engine, no invocation, no flush).
const statusSpoolMaxAge = 2 * time.Minute

// statusProblemAge is how long a problem the engine met in a decision
// (what makes an invocation exit 1: a template that failed, a delivery
// neither made nor queued) keeps `notifier status` unhealthy: long
// enough for a check that runs every few minutes to see it, short enough
// that one that passed clears without a restart.
const statusProblemAge = time.Hour

// statusReport is what `notifier status` finds; --format json prints it
// as is.
type statusReport struct {
	Healthy  bool         `json:"healthy"`
	Problems []string     `json:"problems"`
	Engine   engineReport `json:"engine"`
	Spool    spoolReport  `json:"spool"`
	Policy   policyReport `json:"policy"`
	State    stateReport  `json:"state"`
	now      time.Time    // when the report was made, for ages
	marks    []state.Failure
}

type engineReport struct {
	// State is "up", "not running", "not answering" (it accepted the
	// connection, did not answer in time) or "unknown" (it answered
	// something else than a status; Error says what).
	State  string              `json:"state"`
	Status *spool.EngineStatus `json:"status,omitempty"`
	Error  string              `json:"error,omitempty"`
}

type spoolReport struct {
	Path    string    `json:"path"`
	Exists  bool      `json:"exists"`
	New     int       `json:"new"`
	Claimed int       `json:"claimed"`
	Bad     int       `json:"bad"`
	Oldest  time.Time `json:"oldest,omitzero"`
	OldestS float64   `json:"oldest_age_seconds"`
	Error   string    `json:"error,omitempty"`
}

type policyReport struct {
	Path     string `json:"path"`
	Loads    bool   `json:"loads"`
	LastGood bool   `json:"last_good"`
	Error    string `json:"error,omitempty"`
}

type stateReport struct {
	Reachable    bool   `json:"reachable"`
	Outbox       int    `json:"outbox"`
	DeadLetters  int    `json:"dead_letters"`
	FailureMarks int    `json:"failure_marks"`
	Error        string `json:"error,omitempty"`
}

// statusCmd says whether notifier is healthy: exit 0 when it is, 1 with
// a line per reason on stderr when not. It reads and changes nothing of
// the state or the spool (status may run as any user that can read
// them, from a monitoring system).
func (a *app) statusCmd(args []string) error {
	fs := a.newFlags("status")
	configFlag := fs.String("config", "", configUsage)
	spoolFlag := fs.String("spool", "", "spool directory (default $NOTIFIER_SPOOL, else beside $NOTIFIER_STATE_PATH, else "+spool.Default+")")
	format := fs.String("format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usageErr("status: --format %q: want text or json", *format)
	}
	r := &statusReport{now: time.Now()}
	dir := a.spoolDir(*spoolFlag)
	r.Engine = engineStatus(dir)
	r.Spool = spoolStatus(dir, r.now)
	a.policyAndState(a.configPath(*configFlag), r)
	r.judge()

	var err error
	if *format == "json" {
		r.Problems = nonNil(r.Problems)
		err = writeJSON(a.stdout, r)
	} else {
		r.writeText(a.stdout)
	}
	if err != nil {
		return problemErr(err)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(a.stderr, "notifier: %s\n", p)
	}
	if !r.Healthy {
		return problemsFound()
	}
	return nil
}

// spoolDir is where the spool is: the drop's rule (drop.SpoolDir), so
// that every command looks where the invocations write.
func (a *app) spoolDir(flag string) string { return drop.SpoolDir(flag, a.env) }

// engineStatus asks the engine of the spool at dir, bounded.
func engineStatus(dir string) engineReport {
	st, err := spool.AskStatus(dir, statusEngineBound)
	switch {
	case err == nil:
		return engineReport{State: "up", Status: st}
	case errors.Is(err, spool.ErrNoEngine):
		return engineReport{State: "not running"}
	case errors.Is(err, spool.ErrNoAnswer):
		return engineReport{State: "not answering", Error: fmt.Sprintf("no answer within %v: hung, or stopped", statusEngineBound)}
	}
	return engineReport{State: "unknown", Error: channels.OneLine(err.Error())}
}

// spoolStatus counts the spool's entries without making the spool: a
// missing spool is an empty one (no drop ran yet).
func spoolStatus(dir string, now time.Time) spoolReport {
	r := spoolReport{Path: dir}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return r
	}
	r.Exists = true
	st, err := spool.ReadStats(dir)
	if err != nil {
		r.Error = channels.OneLine(err.Error())
		return r
	}
	r.New, r.Claimed, r.Bad, r.Oldest = st.New, st.Claimed, st.Bad, st.Oldest
	if !st.Oldest.IsZero() {
		r.OldestS = now.Sub(st.Oldest).Seconds()
	}
	return r
}

// policyAndState loads the policy at path (or its last good copy) and
// reads its state: outbox depth, dead letters and failure marks. Scan and
// View open the state read-only.
func (a *app) policyAndState(path string, r *statusReport) {
	r.Policy.Path = path
	w := newWiring()
	defer w.close()
	p, err := a.loadPolicy(path, w)
	if err != nil {
		r.Policy.Error = channels.OneLine(err.Error())
		lg, notes := lastgood.Fallback(path, a.cacheDir(), err, w.loadOptions())
		if lg == nil {
			// Only why a kept copy was refused, if one was.
			for _, n := range notes {
				r.Policy.Error += "; " + channels.OneLine(n)
			}
			r.State.Error = "not looked at: no policy says where it is"
			return
		}
		p = lg
		r.Policy.LastGood = true
	} else {
		r.Policy.Loads = true
	}
	ctx, cancel := context.WithDeadline(context.Background(), a.start.Add(p.Settings.Deadline))
	defer cancel()
	if err := a.readState(ctx, p, &r.State, &r.marks); err != nil {
		r.State.Error = channels.OneLine(err.Error())
	}
}

// readState fills sr from policy p's state.
func (a *app) readState(ctx context.Context, p *engine.Policy, sr *stateReport, marks *[]state.Failure) error {
	st, err := a.openStores(p)
	if err != nil {
		return err
	}
	defer st.Close()
	queued, err := st.Shared().Scan(ctx, state.OutboxPrefix)
	if err != nil {
		return err
	}
	dead, err := st.Shared().Scan(ctx, state.DeadPrefix)
	if err != nil {
		return err
	}
	fm, err := pipeline.FailureMarks(ctx, p, st.Shared())
	if err != nil {
		return err
	}
	if st.Separate() {
		// The history is in the local file: reachable too, or say so.
		if _, err := st.History().View(ctx, nil); err != nil {
			return err
		}
	}
	sr.Reachable = true
	sr.Outbox, sr.DeadLetters, sr.FailureMarks = len(state.Entries(queued)), len(state.Entries(dead)), len(fm)
	for _, ch := range slices.Sorted(maps.Keys(fm)) {
		*marks = append(*marks, fm[ch])
	}
	return nil
}

// judge decides health and lists the reasons it is not.
func (r *statusReport) judge() {
	var ps []string
	switch {
	case r.Policy.LastGood:
		ps = append(ps, r.Policy.Error+" (the last good policy decides until it is fixed)")
	case !r.Policy.Loads:
		ps = append(ps, r.Policy.Error)
	}
	if !r.State.Reachable && (r.Policy.Loads || r.Policy.LastGood) {
		ps = append(ps, "state unreachable: "+r.State.Error)
	}
	if n := r.State.DeadLetters; n > 0 {
		ps = append(ps, fmt.Sprintf("%d dead letter(s): deliveries given up, someone may not have been told (see notifier history)", n))
	}
	for _, f := range r.marks {
		ps = append(ps, pipeline.FailureLine(f))
	}
	if r.Spool.Error != "" {
		ps = append(ps, fmt.Sprintf("spool %s unreadable: %s", r.Spool.Path, r.Spool.Error))
	}
	if !r.Spool.Oldest.IsZero() && r.now.Sub(r.Spool.Oldest) > statusSpoolMaxAge {
		ps = append(ps, fmt.Sprintf("spool %s: the oldest entry is %v old (over %v): nothing is deciding them (notifier serve, or the notifier-flush timer)", r.Spool.Path, r.now.Sub(r.Spool.Oldest).Round(time.Second), statusSpoolMaxAge))
	}
	if r.Spool.Bad > 0 {
		ps = append(ps, fmt.Sprintf("spool %s: %d file(s) in bad/: entries that could not be read, each with a .reason file", r.Spool.Path, r.Spool.Bad))
	}
	if st := r.Engine.Status; st != nil {
		for _, p := range st.Policies {
			if p.LastGood {
				ps = append(ps, fmt.Sprintf("the engine's policy %s does not load, it decides with the last good one: %s", p.Path, channels.OneLine(p.Error)))
			}
			if p.Problems > 0 && r.now.Sub(p.LastProblemAt) < statusProblemAge {
				ps = append(ps, fmt.Sprintf("the engine's policy %s: %d problem(s) needed a person since it was loaded, the last %v ago: %s (the engine's log has each)",
					p.Path, p.Problems, r.now.Sub(p.LastProblemAt).Round(time.Second), channels.OneLine(p.LastProblem)))
			}
		}
	}
	r.Problems, r.Healthy = ps, len(ps) == 0
}

// writeText prints the report as `name: value` lines, in a fixed order
// with fixed names (README.md, "notifier status"), so scripts may grep
// them.
func (r *statusReport) writeText(out io.Writer) {
	line := func(name, format string, args ...any) {
		fmt.Fprintf(out, "%s: %s\n", name, fmt.Sprintf(format, args...))
	}
	e := r.Engine
	if st := e.Status; st != nil {
		line("engine", "up")
		line("engine_pid", "%d", st.PID)
		line("engine_uptime", "%v", r.now.Sub(st.Started).Round(time.Second))
		line("engine_version", "%s", st.Version)
		for _, p := range st.Policies {
			if p.LastGood {
				line("engine_policy", "%s (last good: %s)", p.Path, channels.OneLine(p.Error))
			} else {
				line("engine_policy", "%s (loaded %s)", p.Path, p.LoadedAt.UTC().Format(time.RFC3339))
			}
			if p.Problems > 0 {
				line("engine_policy_problems", "%d (the last at %s: %s)", p.Problems, p.LastProblemAt.UTC().Format(time.RFC3339), channels.OneLine(p.LastProblem))
			}
		}
		line("engine_in_flight", "%d", st.InFlight)
	} else if e.Error != "" {
		line("engine", "%s (%s)", e.State, e.Error)
	} else {
		line("engine", "%s", e.State)
	}
	s := r.Spool
	line("spool", "%s", s.Path)
	switch {
	case s.Error != "":
		line("spool_error", "%s", s.Error)
	default:
		line("spool_new", "%d", s.New)
		line("spool_claimed", "%d", s.Claimed)
		line("spool_bad", "%d", s.Bad)
		if s.Oldest.IsZero() {
			line("spool_oldest", "none")
		} else {
			line("spool_oldest", "%v", r.now.Sub(s.Oldest).Round(time.Second))
		}
	}
	p := r.Policy
	line("policy", "%s", p.Path)
	switch {
	case p.Loads:
		line("policy_loads", "yes")
	case p.LastGood:
		line("policy_loads", "no, the last good one is used")
	default:
		line("policy_loads", "no")
	}
	switch {
	case r.State.Reachable:
		line("state", "reachable")
		line("outbox", "%d", r.State.Outbox)
		line("dead_letters", "%d", r.State.DeadLetters)
		line("failure_marks", "%d", r.State.FailureMarks)
	case r.Policy.Loads || r.Policy.LastGood:
		line("state", "unreachable: %s", r.State.Error)
	default:
		line("state", "unknown (%s)", r.State.Error)
	}
	if r.Healthy {
		line("healthy", "yes")
	} else {
		line("healthy", "no")
	}
}
