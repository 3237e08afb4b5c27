package engine

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"notifier/engine/event"
	"notifier/engine/policy"

	"github.com/expr-lang/expr/vm"
)

// Delivery actions, as explain and history show them.
const (
	DeliverTrigger = "trigger" // opens/updates an incident (PagerDuty)
	DeliverResolve = "resolve" // closes it
	DeliverMessage = "message" // a plain notification (Slack, syslog)
)

// Decision is what the policy says about one event.
type Decision struct {
	// Hits are the matching rules that tell someone, with what the state
	// needs to decide suppression and escalation (see engine/state).
	Hits       []Hit        `json:"-"`
	Key        string       `json:"key"`
	Rules      []RuleResult `json:"rules"`
	Dropped    bool         `json:"dropped"`
	Deliveries []Delivery   `json:"deliveries"`
	// Muted lists deliveries that a matching rule would have made but a
	// time window silenced.
	Muted []Delivery `json:"muted,omitempty"`
	// Inhibits are the policy's inhibit entries as they bear on the event
	// (every entry: a resolve must find what its problem registered).
	Inhibits []InhibitHit `json:"-"`
	// MutedUntil is, when Muted is not empty, when the first of its
	// windows stops muting them (zero: not known within a week): the
	// incident is notified then if still open.
	MutedUntil time.Time `json:"-"`
	// FlapTracked says the policy damps flapping: the state keeps the
	// event key's changes.
	FlapTracked bool `json:"-"`
}

// InhibitHit is one inhibit entry's verdict on an event.
type InhibitHit struct {
	Name string
	// Scope names the values of the entry's equal fields in the event:
	// a source inhibits the targets of its own scope.
	Scope          string
	Source, Target bool // the event matches source, target
}

// Hit is a matching rule that notifies: its deliveries (by Delivery.Rule)
// and what state needs to suppress or escalate them.
type Hit struct {
	Rule           string
	SuppressKey    string // "" when the rule does not suppress
	SuppressFor    time.Duration
	EscalateAfter  int // 0 when the rule does not escalate
	EscalateWithin time.Duration
	Escalation     []Delivery // escalate.notify, built like the rule's own
	Muted          string     // why the rule's notifications are muted, or ""
	// Flapping is the rule's flap damping, nil without.
	Flapping *policy.FlappingSpec
	// Group is the rule's grouping of this event, nil without (or when
	// its group.by failed on the event: it is then told on its own).
	Group *GroupHit
}

// GroupHit is the group an event joins.
type GroupHit struct {
	By             string // the group key: group.by's value
	Wait, Interval time.Duration
}

// Matched names the rules that matched, in order (never nil).
func (d *Decision) Matched() []string {
	names := []string{}
	for _, r := range d.Rules {
		if r.Matched {
			names = append(names, r.Name)
		}
	}
	return names
}

// RuleResult is one rule's verdict on the event.
type RuleResult struct {
	Name    string `json:"name"`
	Matched bool   `json:"matched"`
	Error   string `json:"error,omitempty"`
	Muted   string `json:"muted,omitempty"` // why its notifications are muted
}

// Delivery is one channel that must be told.
type Delivery struct {
	Channel string `json:"channel"`
	Type    string `json:"type"`
	Action  string `json:"action"`
	Rule    string `json:"rule"`
	Reason  string `json:"reason,omitempty"`
}

// Evaluate runs the rules in order: the first match decides unless it
// says continue. A rule whose expression fails at run time does not
// match, and the failure is recorded so explain and the audit show it —
// the event still reaches the rules after it, so a broken rule can never
// swallow a page.
func (p *Policy) Evaluate(ev *event.Event) *Decision {
	d := &Decision{Key: ev.Key, Deliveries: []Delivery{}, Rules: make([]RuleResult, 0, len(p.Rules))}
	var machine vm.VM // one VM for every expression: its stack is reused
	steps := meter{left: EventSteps, until: evalUntil()}
	p.rules(ev, d, &machine, &steps)
	d.FlapTracked = p.flaps
	p.inhibits(ev, d, &machine, &steps)
	if len(d.Muted) > 0 && ev.Action != event.ActionRemove {
		d.MutedUntil = p.unmuted(d, ev.Time)
	}
	return d
}

// rules is Evaluate's pass over the rules.
func (p *Policy) rules(ev *event.Event, d *Decision, machine *vm.VM, steps *meter) {
	told := map[string]bool{}
	for _, r := range p.Rules {
		res := RuleResult{Name: r.Name}
		if r.program == nil { // Compile never lets this happen; a panic here would lose the event
			res.Error = "the condition did not compile"
			d.Rules = append(d.Rules, res)
			continue
		}
		out, err := steps.run(machine, r.program, ev, EvalSteps)
		if err != nil {
			res.Error = runtimeError(err)
			d.Rules = append(d.Rules, res)
			continue
		}
		res.Matched, _ = out.(bool)
		if !res.Matched {
			d.Rules = append(d.Rules, res)
			continue
		}
		if r.Drop {
			// Evaluation ends; what earlier rules with continue decided
			// still happens (an audit rule first, noise dropped after).
			d.Rules = append(d.Rules, res)
			d.Dropped = true
			return
		}
		res.Muted = p.muted(r, ev)
		if len(r.Notify) > 0 || r.Escalate != nil {
			// A rule with only escalate tells nobody until the Nth
			// occurrence: it needs its hit to be counted.
			d.Hits = append(d.Hits, p.hit(r, ev, res.Muted, machine, steps))
		}
		d.Rules = append(d.Rules, res)
		for _, name := range r.Notify {
			if told[name] {
				continue
			}
			ch := p.Channels[name]
			del := Delivery{Channel: name, Type: ch.Type, Action: DeliveryAction(ch.Type, ev.Action), Rule: r.Name}
			if res.Muted != "" {
				// A muted rule must not stop a later rule from telling
				// the same channel.
				del.Reason = res.Muted
				d.Muted = append(d.Muted, del)
				continue
			}
			told[name] = true
			d.Deliveries = append(d.Deliveries, del)
		}
		if !r.Continue {
			return
		}
	}
	return
}

// hit collects what state needs about a matching rule.
func (p *Policy) hit(r *Rule, ev *event.Event, muted string, machine *vm.VM, steps *meter) Hit {
	h := Hit{Rule: r.Name, Muted: muted, Flapping: r.Flapping}
	if s := r.Suppress; s != nil {
		h.SuppressKey, h.SuppressFor = ev.Key, s.For
		if r.keyProg != nil {
			// A key expression that fails falls back to the event key:
			// suppressing per event is the safe side of an error.
			if out, err := steps.run(machine, r.keyProg, ev, EvalSteps); err == nil {
				if k, ok := out.(string); ok && k != "" {
					h.SuppressKey = k
				}
			}
		}
	}
	if g := r.Group; g != nil && r.groupProg != nil {
		// A group key that fails or is blank tells the event on its own:
		// one notification too many is the safe side of an error.
		if out, err := steps.run(machine, r.groupProg, ev, EvalSteps); err == nil {
			if by, ok := out.(string); ok && strings.TrimSpace(by) != "" {
				h.Group = &GroupHit{By: by, Wait: policy.DefaultGroupWait, Interval: policy.DefaultGroupInterval}
				if g.Wait != nil {
					h.Group.Wait = *g.Wait
				}
				if g.Interval != nil {
					h.Group.Interval = *g.Interval
				}
			}
		}
	}
	if e := r.Escalate; e != nil {
		h.EscalateAfter, h.EscalateWithin = e.After, e.Within
		for _, name := range e.Notify {
			ch := p.Channels[name]
			h.Escalation = append(h.Escalation, Delivery{Channel: name, Type: ch.Type, Action: DeliveryAction(ch.Type, ev.Action), Rule: r.Name})
		}
	}
	return h
}

// inhibits records how each inhibit entry bears on ev. An expression
// that fails is false: an event wrongly taken as a source or a target
// would hold back pages.
func (p *Policy) inhibits(ev *event.Event, d *Decision, machine *vm.VM, steps *meter) {
	for _, in := range p.Inhibits {
		h := InhibitHit{Name: in.Name, Scope: Scope(ev, in.Equal)}
		if out, err := steps.run(machine, in.source, ev, EvalSteps); err == nil {
			h.Source, _ = out.(bool)
		}
		if out, err := steps.run(machine, in.target, ev, EvalSteps); err == nil {
			h.Target, _ = out.(bool)
		}
		d.Inhibits = append(d.Inhibits, h)
	}
}

// Scope is the values of fields in ev, as one text: the events an inhibit
// entry relates are those of one scope.
func Scope(ev *event.Event, fields []string) string {
	var b strings.Builder
	for i, f := range fields {
		v, _ := ev.Text(f)
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(strconv.Quote(v))
	}
	return b.String()
}

// unmuted is when the first muted rule of d tells its channels again
// after t: the first minute none of its muted_during windows holds and
// one of its active_during windows does. Zero when that is more than a
// week away (a window that always mutes).
func (p *Policy) unmuted(d *Decision, t time.Time) time.Time {
	var first time.Time
	for _, rr := range d.Rules {
		if rr.Muted == "" {
			continue
		}
		if r := p.rule(rr.Name); r != nil {
			if at := p.unmutes.at(r, t, p.unmuteAfter); !at.IsZero() && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	return first
}

// unmuteAfter is the first minute after t at which r's windows no longer
// mute it, within a week and a day; zero when there is none.
func (p *Policy) unmuteAfter(r *Rule, t time.Time) time.Time {
	at := t.Truncate(time.Minute)
	for range 8 * 24 * 60 {
		at = at.Add(time.Minute)
		if p.muted(r, &event.Event{Time: at}) == "" {
			return at
		}
	}
	return time.Time{}
}

// unmuteMemo remembers unmuteAfter by rule and minute: a storm during a
// maintenance window asks the same question for every event, and each
// answer walks up to a week of minutes. Safe for concurrent use (the
// engine's decisions share a policy); nil remembers nothing.
type unmuteMemo struct {
	mu sync.Mutex
	m  map[unmuteKey]time.Time
}

type unmuteKey struct {
	rule   *Rule
	minute int64
}

// at is unmuteAfter(r, t), remembered.
func (c *unmuteMemo) at(r *Rule, t time.Time, compute func(*Rule, time.Time) time.Time) time.Time {
	if c == nil {
		return compute(r, t)
	}
	k := unmuteKey{r, t.Unix() / 60}
	c.mu.Lock()
	at, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return at
	}
	at = compute(r, t)
	c.mu.Lock()
	if len(c.m) >= 1024 {
		clear(c.m)
	}
	c.m[k] = at
	c.mu.Unlock()
	return at
}

// rule is the rule called name, or nil.
func (p *Policy) rule(name string) *Rule {
	for _, r := range p.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// runtimeError describes a rule's failure at run time on one line.
func runtimeError(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// muted says why r's notifications are muted at the event's time, or "".
// Like Alertmanager's time intervals, a muted rule still matches (it
// stops evaluation unless it continues); it just tells nobody.
func (p *Policy) muted(r *Rule, ev *event.Event) string {
	for _, name := range r.MutedDuring {
		if p.Windows[name].Contains(ev.Time) {
			return fmt.Sprintf("muted during window %q", name)
		}
	}
	if len(r.ActiveDuring) == 0 {
		return ""
	}
	for _, name := range r.ActiveDuring {
		if p.Windows[name].Contains(ev.Time) {
			return ""
		}
	}
	return fmt.Sprintf("outside active windows %s", strings.Join(r.ActiveDuring, ", "))
}

// DeliveryAction names what a channel of type chType does with an event
// of the given action: only PagerDuty keeps incidents that a trigger
// opens; every channel is told when a problem clears.
func DeliveryAction(chType, action string) string {
	switch {
	case action == event.ActionRemove:
		return DeliverResolve
	case chType == "pagerduty":
		return DeliverTrigger
	}
	return DeliverMessage
}
