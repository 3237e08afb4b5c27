package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"notifier/engine"
	"notifier/engine/event"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

func TestDecide(t *testing.T) {
	type step struct {
		min  int    // minutes after t0
		want string // N notify, S suppress, +E escalate; then the count
	}
	tests := []struct {
		name   string
		sup    time.Duration
		after  int
		within time.Duration
		steps  []step
	}{
		{"no state", 0, 0, 0, []step{{0, "N0"}, {1, "N0"}}},
		{"suppress 30m", 30 * time.Minute, 0, 0, []step{{0, "N0"}, {10, "S1"}, {29, "S2"}, {30, "N2"}, {31, "S1"}, {90, "N1"}, {200, "N0"}}},
		{"escalate 3rd in 30m", 0, 3, 30 * time.Minute, []step{{0, "N0"}, {5, "N0"}, {10, "N0+E"}, {15, "N0"}, {31, "N0"}, {32, "N0"}, {33, "N0+E"}}},
		{"window restarts after within", 0, 2, 10 * time.Minute, []step{{0, "N0"}, {10, "N0"}, {19, "N0+E"}}},
		{"suppressed occurrences count", 30 * time.Minute, 3, 30 * time.Minute, []step{{0, "N0"}, {1, "S1"}, {2, "S2+E"}, {3, "S3"}}},
		{"a clock a little behind is still inside", 30 * time.Minute, 3, 30 * time.Minute, []step{{10, "N0"}, {9, "S1"}, {8, "S2+E"}}},
		{"a clock far behind opens a new window", 30 * time.Minute, 0, 0, []step{{100, "N0"}, {60, "N0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Window
			for i, s := range tt.steps {
				var v Verdict
				v, w = Decide(w, at(s.min), tt.sup, tt.after, tt.within)
				got := "S"
				if v.Notify {
					got = "N"
				}
				got += fmt.Sprint(v.Suppressed)
				if v.Escalate {
					got += "+E"
				}
				if got != s.want {
					t.Fatalf("step %d (minute %d): got %s, want %s (window %+v)", i, s.min, got, s.want, w)
				}
			}
		})
	}
}

func hitPolicy(sup time.Duration, after int) (*event.Event, *engine.Decision) {
	ev := &event.Event{Key: "cmon/cc/1/42", Action: event.ActionNew, Severity: "critical"}
	d := &engine.Decision{
		Key:        ev.Key,
		Hits:       []engine.Hit{{Rule: "crit", SuppressKey: ev.Key, SuppressFor: sup, EscalateAfter: after, EscalateWithin: time.Hour, Escalation: []engine.Delivery{{Channel: "boss", Type: "pagerduty", Action: "trigger", Rule: "crit"}}}},
		Deliveries: []engine.Delivery{{Channel: "pager", Type: "pagerduty", Action: "trigger", Rule: "crit"}, {Channel: "ops", Type: "slack", Action: "message", Rule: "crit"}},
	}
	return ev, d
}

func summary(r Result) string {
	var s []string
	for _, p := range r.Send {
		s = append(s, "send "+p.Channel+" "+p.Action+": "+p.Reason)
	}
	for _, p := range r.Skip {
		s = append(s, "skip "+p.Channel+": "+p.Reason)
	}
	return strings.Join(s, "\n")
}

// TestApplyLifecycle walks one alarm through first, suppressed, escalated,
// resolved, and a new occurrence after the resolve.
func TestApplyLifecycle(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 3)
	apply := func(min int, action string) Result {
		t.Helper()
		e := *ev
		e.Action = action
		dd := *d
		if action == event.ActionRemove {
			dd.Hits = nil // removes are decided by the incident, not rules
		}
		res, err := Apply(Input{Event: &e, Decision: &dd, Now: at(min)}, recs)
		if err != nil {
			t.Fatal(err)
		}
		for id, r := range recs {
			if r == nil {
				delete(recs, id) // what a store does with nil
			}
		}
		return res
	}
	toward := "; occurrence 1 of 3 toward escalation within 1h0m0s"
	if got := summary(apply(0, "new")); got != "send pager trigger: first"+toward+"\nsend ops message: first"+toward {
		t.Fatalf("first:\n%s", got)
	}
	if got := summary(apply(5, "update")); !strings.Contains(got, "skip pager: suppressed until 2026-11-22T03:30:00Z (1 so far); occurrence 2 of 3 toward escalation") {
		t.Fatalf("second:\n%s", got)
	}
	got := summary(apply(6, "update"))
	if !strings.Contains(got, "send boss trigger: escalated: occurrence 3 of 3 within 1h0m0s") || strings.Contains(got, "send pager") {
		t.Fatalf("third (escalation while suppressed):\n%s", got)
	}
	var inc Incident
	json.Unmarshal(recs[IncidentID(ev.Key)].Data, &inc)
	if len(inc.Told) != 3 {
		t.Fatalf("incident told %+v, want pager, ops, boss", inc.Told)
	}
	SetRef(recs, ev.Key, "ops", "C123/1700000000.000100")
	got = summary(apply(7, "remove"))
	want := "send pager resolve: resolves the incident opened 2026-11-22T03:00:00Z\nsend ops resolve: resolves the incident opened 2026-11-22T03:00:00Z\nsend boss resolve: resolves the incident opened 2026-11-22T03:00:00Z"
	if got != want {
		t.Fatalf("resolve:\n%s\nwant\n%s", got, want)
	}
	if len(recs) != 0 {
		t.Fatalf("records left after the resolve: %v", recs)
	}
	if res := apply(8, "remove"); len(res.Send) != 0 {
		t.Fatalf("a second resolve must send nothing:\n%s", summary(res))
	}
	if got := summary(apply(9, "new")); got != "send pager trigger: first"+toward+"\nsend ops message: first"+toward {
		t.Fatalf("after the resolve a new occurrence notifies at once:\n%s", got)
	}
}

func TestApplyResolveCarriesRef(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(0, 0)
	Apply(Input{Event: ev, Decision: d, Now: at(0)}, recs)
	if !SetRef(recs, ev.Key, "ops", "C1/2") {
		t.Fatal("SetRef found no incident")
	}
	rm := *ev
	rm.Action = event.ActionRemove
	res, _ := Apply(Input{Event: &rm, Decision: &engine.Decision{}, Now: at(1)}, recs)
	if len(res.Send) != 2 || res.Send[1].Ref != "C1/2" || res.Send[0].Ref != "" {
		t.Fatalf("resolve = %+v, want the Slack resolve to carry the message reference", res.Send)
	}
}

func TestApplySilencedAndMuted(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	res, _ := Apply(Input{Event: ev, Decision: d, Now: at(0), Silence: &Silence{ID: "s-1"}}, recs)
	if len(res.Send) != 0 || len(res.Skip) != 2 || res.Skip[0].Reason != "silenced by s-1" {
		t.Fatalf("silenced: %s", summary(res))
	}
	if len(recs) != 0 {
		t.Fatalf("a silenced event must not open windows or incidents: %v", recs)
	}
	// A resolve goes out even while silenced.
	Apply(Input{Event: ev, Decision: d, Now: at(1)}, recs)
	rm := *ev
	rm.Action = event.ActionRemove
	res, _ = Apply(Input{Event: &rm, Decision: &engine.Decision{}, Now: at(2), Silence: &Silence{ID: "s-1"}}, recs)
	if len(res.Send) != 2 {
		t.Fatalf("resolve while silenced: %s", summary(res))
	}
	// Muted deliveries are skipped with the window's reason.
	d.Hits[0].Muted = "muted during window \"nights\""
	d.Muted = []engine.Delivery{{Channel: "pager", Reason: "muted during window \"nights\"", Rule: "crit"}}
	d.Deliveries = nil
	res, _ = Apply(Input{Event: ev, Decision: d, Now: at(3)}, recs)
	if len(res.Send) != 0 || len(res.Skip) != 1 || !strings.Contains(res.Skip[0].Reason, "nights") {
		t.Fatalf("muted: %s", summary(res))
	}
}

func TestApplyNeverToldNoResolve(t *testing.T) {
	ev := &event.Event{Key: "k", Action: event.ActionRemove}
	d := &engine.Decision{Deliveries: []engine.Delivery{{Channel: "pager", Action: "resolve", Rule: "recovery"}}}
	res, _ := Apply(Input{Event: ev, Decision: d, Now: at(0)}, map[string]*Record{})
	if len(res.Send) != 0 || len(res.Skip) != 1 {
		t.Fatalf("a key never told must get no resolve: %s", summary(res))
	}
}

// TestApplySharedKeyOutlivesIncident: a window keyed by suppress.key
// (several alarms of a cluster) must not reset when one of them resolves.
func TestApplySharedKeyOutlivesIncident(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(30*time.Minute, 0)
	d.Hits[0].SuppressKey = "cluster-1"
	Apply(Input{Event: ev, Decision: d, Now: at(0)}, recs)
	rm := *ev
	rm.Action = event.ActionRemove
	Apply(Input{Event: &rm, Decision: &engine.Decision{}, Now: at(1)}, recs)
	for id, r := range recs {
		if r == nil {
			delete(recs, id)
		}
	}
	other := *ev
	other.Key = "cmon/cc/1/43"
	res, _ := Apply(Input{Event: &other, Decision: d, Now: at(2)}, recs)
	if len(res.Send) != 0 {
		t.Fatalf("another alarm of the same cluster must stay suppressed: %s", summary(res))
	}
}

// One alert, several invocations (one per Pacemaker recipient): each rule
// acts once; the other invocations' deliveries are duplicates and do not
// count toward suppression or escalation. Another alert of the same key
// counts as usual.
func TestApplyOccurrence(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(0, 2) // no suppression; the 2nd occurrence escalates
	apply := func(min int, occ string) Result {
		t.Helper()
		res, err := Apply(Input{Event: ev, Decision: d, Now: at(min), Occurrence: occ}, recs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := summary(apply(0, "alert-1"))
	if strings.Contains(first, "skip") || !strings.Contains(first, "send pager trigger: first") {
		t.Fatalf("first invocation:\n%s", first)
	}
	for i := range 3 {
		got := summary(apply(0, "alert-1"))
		if strings.Contains(got, "send") || strings.Count(got, "skip") != 2 || !strings.Contains(got, "skip pager: already decided for this alert") {
			t.Fatalf("invocation %d of the same alert:\n%s", i+2, got)
		}
	}
	// The next alert is occurrence 2, not 5: duplicates did not count.
	if got := summary(apply(1, "alert-2")); !strings.Contains(got, "escalated: occurrence 2 of 2") {
		t.Fatalf("second alert:\n%s", got)
	}
	// A decision without an occurrence (CMON) is never a duplicate.
	if got := summary(apply(2, "")); strings.Contains(got, "already decided") {
		t.Fatalf("no occurrence:\n%s", got)
	}
	if d.Deliveries == nil || len(d.Hits) == 0 {
		t.Fatal("Apply changed the caller's decision")
	}
}

// A rule with escalate and no notify of its own: until it escalates, the
// plan says how far along it is (or that a silence holds it), never
// nothing; the escalation resolves like any delivery.
func TestApplyEscalateOnly(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(0, 3)
	d.Deliveries = nil // the rule only escalates
	apply := func(min int, in Input) string {
		t.Helper()
		in.Event, in.Now = ev, at(min)
		if in.Decision == nil {
			in.Decision = d
		}
		res, err := Apply(in, recs)
		if err != nil {
			t.Fatal(err)
		}
		for id, r := range recs {
			if r == nil {
				delete(recs, id)
			}
		}
		return summary(res)
	}
	steps := []struct {
		in   Input
		want string
	}{
		{Input{}, "skip boss: occurrence 1 of 3 toward escalation within 1h0m0s"},
		{Input{Silence: &Silence{ID: "s-1"}}, "skip boss: silenced by s-1"},
		{Input{}, "skip boss: occurrence 2 of 3 toward escalation within 1h0m0s"},
		{Input{}, "send boss trigger: escalated: occurrence 3 of 3 within 1h0m0s"},
	}
	for i, s := range steps {
		if got := apply(i, s.in); got != s.want {
			t.Fatalf("step %d:\n%s\nwant\n%s", i+1, got, s.want)
		}
	}
	rm := *ev
	rm.Action = event.ActionRemove
	res, _ := Apply(Input{Event: &rm, Decision: &engine.Decision{}, Now: at(9)}, recs)
	if got := summary(res); !strings.HasPrefix(got, "send boss resolve: resolves the incident") {
		t.Fatalf("resolve:\n%s", got)
	}
}

// Two policies on one host sharing a state file read each other's
// records: every decision that does says so. Another host's records
// (Redis) and unmarked ones (written before marks, or by explain) do not.
func TestApplySharedWith(t *testing.T) {
	ev, d := hitPolicy(30*time.Minute, 0)
	recs := map[string]*Record{}
	apply := func(policy string, min int) Result {
		t.Helper()
		res, err := Apply(Input{Event: ev, Decision: d, Now: at(min), Policy: policy}, recs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, other := PolicyID("db1", "/etc/notifier/notifier.yaml"), PolicyID("db1", "/etc/notifier/dba.yaml"), PolicyID("db2", "/etc/notifier/dba.yaml")
	for _, step := range []struct {
		policy string
		want   string
	}{
		{a, "[]"},     // first: nothing read
		{a, "[]"},     // its own records
		{other, "[]"}, // another host: the same policy elsewhere
	} {
		if got := fmt.Sprint(apply(step.policy, 1).SharedWith); got != step.want {
			t.Errorf("%s: shared with %s, want %s", step.policy, got, step.want)
		}
	}
	apply(a, 2) // a writes last
	if got := apply(b, 3).SharedWith; fmt.Sprint(got) != "["+a+"]" {
		t.Errorf("b after a: shared with %v, want [%s]", got, a)
	}
	if got := apply(a, 4).SharedWith; fmt.Sprint(got) != "["+b+"]" {
		t.Errorf("a after b: shared with %v, want [%s]", got, b)
	}
	if got := apply("", 5).SharedWith; len(got) != 0 {
		t.Errorf("unmarked input: shared with %v", got)
	}
}

// A resolve renders with the templates of the rule that last told its
// channel (Planned.Templates), while its Delivery.Rule stays "resolve";
// an incident written before Told.Rule existed resolves with the
// channel's own templates ("").
func TestApplyResolveKeepsTheTellingRule(t *testing.T) {
	recs := map[string]*Record{}
	ev, d := hitPolicy(0, 0)
	res, _ := Apply(Input{Event: ev, Decision: d, Now: at(0)}, recs)
	if res.Send[0].Templates() != "crit" {
		t.Errorf("a trigger renders with %q's templates, want crit's", res.Send[0].Templates())
	}
	later := *d
	later.Deliveries = []engine.Delivery{{Channel: "ops", Type: "slack", Action: "message", Rule: "later"}}
	later.Hits = []engine.Hit{{Rule: "later"}}
	Apply(Input{Event: ev, Decision: &later, Now: at(1)}, recs)
	rm := *ev
	rm.Action = event.ActionRemove
	res, _ = Apply(Input{Event: &rm, Decision: &engine.Decision{}, Now: at(2)}, recs)
	var got []string
	for _, p := range res.Send {
		got = append(got, p.Channel+":"+p.Rule+":"+p.Templates())
	}
	if strings.Join(got, " ") != "pager:resolve:crit ops:resolve:later" {
		t.Errorf("resolves (channel:rule:templates) %v, want pager's by crit, ops's by later", got)
	}

	// A record without "rule": the channel's own templates.
	recs = map[string]*Record{}
	old, err := IncidentKind.Encode(Incident{Key: ev.Key, Opened: at(0), Told: []Told{{Channel: "pager", Type: "pagerduty"}}}, at(100))
	if err != nil || strings.Contains(string(old.Data), `"rule"`) {
		t.Fatalf("%s, %v", old.Data, err)
	}
	recs[IncidentID(ev.Key)] = old
	res, _ = Apply(Input{Event: &rm, Decision: &engine.Decision{}, Now: at(3)}, recs)
	if len(res.Send) != 1 {
		t.Fatalf("an old incident's resolve sends %+v, want one", res.Send)
	}
	if res.Send[0].Rule != "resolve" || res.Send[0].Templates() != "" {
		t.Errorf("an old incident's resolve %+v (templates %q)", res.Send, res.Send[0].Templates())
	}
}
