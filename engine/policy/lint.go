package policy

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Lint returns lint's findings that need no compiled expression: what is
// allowed but likely wrong (warnings), and the errors that a policy which
// uses them still runs with. A run never calls it, so no check added here
// can stop a policy that is running. Only a policy that loads (loadFailed
// false) is judged for what nothing uses: with errors, that is mostly
// their echo (a misspelt notify, a rule that did not parse). inWindow
// holds the windows expressions name through in_window.
func (p *Parsed) Lint(inWindow map[string]bool, loadFailed bool) Problems {
	ps := slices.Clone(p.lint)
	if s := p.settings; s != nil {
		s.lint(&ps)
	}
	for _, r := range p.Rules {
		ps = append(ps, r.Lint()...)
	}
	if !loadFailed {
		ps = append(ps, p.unused(inWindow)...)
	}
	return ps
}

// lint checks the settings' values that work, but badly.
func (s *settingsAt) lint(ps *Problems) {
	sink := s.sink
	sink.List = ps
	v, spec := s.node, s.spec
	if spec.Deadline > 0 && spec.Deadline < time.Second {
		// 20ms for 20s: every run would time out before the state is
		// written or a page is queued.
		n := MappingValue(v, "deadline")
		sink.Errorf(n.Line, n.Column, "deadline", "settings.deadline: %s is too short to record and deliver anything; want 1s or more (default %s)", spec.Deadline, DefaultDeadline)
	}
	if spec.Deadline >= 30e9 {
		n := MappingValue(v, "deadline")
		sink.Warnf(n.Line, n.Column, "deadline", "settings.deadline: %s is not below Pacemaker's default 30s alert timeout; Pacemaker kills the agent at its timeout", spec.Deadline)
	}
	redis := MappingValue(MappingValue(v, "state"), "redis")
	if redisURLHasPassword(spec.State.Redis.URL) {
		n := MappingValue(redis, "url")
		sink.Warnf(n.Line, n.Column, "inline-secret", "settings.state.redis.url: password given inline: it is in the policy file and every copy of it; use settings.state.redis.password_file (mode 0640)")
	}
}

// Lint returns the rule's warnings that need no compiled expression.
func (r *Rule) Lint() Problems {
	var ps Problems
	if !r.Mapping {
		return nil
	}
	sink, label := r.Sink, r.Label()
	sink.List = &ps
	if e := r.Escalate; e != nil && e.Within > 0 && e.Within < time.Minute && e.After >= 2 {
		at := MappingValue(r.At("escalate"), "within")
		sink.Warnf(at.Line, at.Column, "escalate-within", "rule %q: escalate.within is %s: %d occurrences so close together are rare, so this may never escalate (30s for 30m?)", label, e.Within, e.After)
	}
	if r.Drop && r.Continue {
		n := r.At("continue")
		sink.Warnf(n.Line, n.Column, "drop-continue", "rule %q: continue has no effect with drop: a drop ends evaluation", label)
	}
	if !r.Drop && len(r.Notify) == 0 && r.Escalate == nil && !r.broken {
		if n, written := r.keys["notify"]; written {
			// notify: [] — the list is there, and empty: say so there.
			sink.Warnf(n.Line, n.Column, "notifies-nobody", "rule %q: notify is empty: name at least one channel, or drop: true", label)
		} else {
			sink.Warnf(r.Node.Line, r.Node.Column, "notifies-nobody", "rule %q notifies nobody: add notify, or drop: true", label)
		}
	}
	return ps
}

// unused warns about channels and windows no rule refers to (nor, for a
// channel, settings.self_alert): often a rule meant to use them names
// something else.
func (p *Parsed) unused(inWindow map[string]bool) Problems {
	var ps Problems
	used := map[string]bool{}
	for _, r := range p.Rules {
		for _, ch := range r.Notify {
			used["channels."+ch] = true
		}
		if r.Escalate != nil {
			for _, ch := range r.Escalate.Notify {
				used["channels."+ch] = true
			}
		}
		for _, w := range slices.Concat(r.ActiveDuring, r.MutedDuring) {
			used["windows."+w] = true
		}
	}
	for w := range inWindow {
		used["windows."+w] = true
	}
	if s := p.settings; s != nil && s.spec.SelfAlert != nil {
		for _, ch := range s.spec.SelfAlert.Notify {
			used["channels."+ch] = true
		}
	}
	for _, d := range p.defs {
		if !used[d.section+"."+d.key.Value] {
			what := strings.TrimSuffix(d.section, "s")
			sink := d.sink
			sink.List = &ps
			sink.Warnf(d.key.Line, d.key.Column, "unused-"+what, "%s.%s: no rule uses this %s", d.section, d.key.Value, what)
		}
	}
	return ps
}

// Acknowledged is lint's final list: ps without the warnings the ignore
// directives cover, with what is wrong with the directives, in order
// (Sorted). loadFailed is as for Lint.
func (p *Parsed) Acknowledged(ps Problems, loadFailed bool) Problems {
	return p.Sorted(applyIgnores(p.ignores, ps, loadFailed))
}

// Sorted orders problems by file (in load order), line and column, so an
// operator reads them top to bottom, and says once a problem found twice
// (a node reached through two aliases is checked twice).
func (p *Parsed) Sorted(ps Problems) Problems {
	order := make(map[string]int, len(p.Files))
	for i, f := range p.Files {
		order[f] = i
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return slices.CompactFunc(ps, func(a, b Problem) bool { return a == b })
}
