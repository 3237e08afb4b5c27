package watch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"notifier/channels"
	"notifier/channels/syslog"
	"notifier/engine/metrics"
	"notifier/internal/flock"
)

// FallbackName stands for the local syslog in what a self-alert was
// told to, when no channel of settings.self_alert.notify could take it.
const FallbackName = "(local syslog)"

// forgetAfter: a record of another policy not seen for this long is
// dropped (the policies that run refresh theirs every hour at least).
const forgetAfter = 24 * time.Hour

// sendBound bounds each self-alert delivery.
const sendBound = 10 * time.Second

// Watcher checks what its process saw against the record file.
type Watcher struct {
	// Path is the record file (filepath.Join(spool dir, FileName)).
	Path string
	// Notify and After are settings.self_alert's.
	Notify []string
	After  time.Duration
	// Host names this host in the self-alerts.
	Host string
	// Channel builds the policy's channel called name.
	Channel func(name string) (channels.Channel, error)
	// Fallback is the local syslog (nil: syslog.New with its defaults).
	Fallback func() (channels.Channel, error)
	// Note gets each line an operator must read; nil discards.
	Note func(line string)
	// Metrics, when set, counts what was sent and shows what is open.
	Metrics metrics.Sink
}

type job struct {
	id      string
	r       record
	resolve bool
	told    []string // the channels that took it
}

// Check records what o shows, and tells what must be told: a condition
// not told yet, a told one that is over. Nothing is waited for beyond
// LockWait for the file and sendBound a delivery (within ctx).
func (w *Watcher) Check(ctx context.Context, o Observation) error {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	on, over := active(o, w.After)
	var jobs []*job
	var open []string
	err := locked(w.Path, flock.Within(ctx, LockWait), func(f *file) bool {
		changed := false
		seen := map[string]bool{}
		for _, c := range on {
			seen[c.id] = true
			r := f.Alerts[c.id]
			switch {
			case r == nil:
				r = &c.record
				r.Since, r.LastSeen = o.Now, o.Now
				f.Alerts[c.id] = r
				changed = true
			case r.Cleared:
				r.Cleared, r.LastSeen = false, o.Now // back before its resolve went out
				changed = true
			case c.Condition == StateFailOpen:
				r.LastSeen, r.Summary = o.Now, c.Summary
				changed = true
			case o.Now.Sub(r.LastSeen) >= time.Hour:
				r.LastSeen = o.Now // seen, at most a write an hour
				changed = true
			}
		}
		for id, r := range f.Alerts {
			if r.Policy != o.Policy && o.Now.Sub(r.LastSeen) > forgetAfter {
				// Its policy no longer runs here (removed, renamed):
				// nothing of it could say it is over.
				w.note("self-alert %s of policy %s not seen for %v: forgotten (resolve it by hand where it was told: %s)",
					id, r.Policy, forgetAfter, strings.Join(r.Told, ", "))
				delete(f.Alerts, id)
				changed = true
				continue
			}
			if !r.Cleared && !seen[id] && over(id, r) {
				r.Cleared, changed = true, true
			}
			if r.Cleared && len(r.Told) == 0 && !o.Now.Before(r.Sending) {
				delete(f.Alerts, id) // never told (or all resolved): nothing to say
				changed = true
				continue
			}
			if o.Now.Before(r.Sending) {
				continue // another process is telling it
			}
			if !r.Cleared && len(r.Told) == 0 || r.Cleared && len(r.Told) > 0 {
				r.Sending = o.Now.Add(sendLease)
				jobs = append(jobs, &job{id: id, r: *r, resolve: r.Cleared})
				changed = true
			}
		}
		open = openConditions(f)
		return changed
	})
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		w.gauges(open)
		return nil
	}
	var failing map[string]bool
	if o.State != nil {
		failing = map[string]bool{}
		for ch := range o.State.Failing {
			failing[ch] = true
		}
	}
	for _, j := range jobs {
		w.send(ctx, j, failing)
	}
	// At least a second even past ctx's end: not recording what was
	// told would tell it again once the lease runs out.
	err = locked(w.Path, max(flock.Within(ctx, RecordWait), time.Second), func(f *file) bool {
		for _, j := range jobs {
			r := f.Alerts[j.id]
			if r == nil {
				continue
			}
			r.Sending = time.Time{}
			if j.resolve {
				r.Told = slices.DeleteFunc(r.Told, func(ch string) bool { return slices.Contains(j.told, ch) })
				if r.Cleared && len(r.Told) == 0 {
					delete(f.Alerts, j.id)
				}
			} else {
				for _, ch := range j.told {
					if !slices.Contains(r.Told, ch) {
						r.Told = append(r.Told, ch)
					}
				}
			}
		}
		open = openConditions(f)
		return true
	})
	w.gauges(open)
	return err
}

// openConditions are the conditions of f's records not over, each once.
func openConditions(f *file) []string {
	var out []string
	for _, r := range f.Alerts {
		if !r.Cleared && !slices.Contains(out, r.Condition) {
			out = append(out, r.Condition)
		}
	}
	return out
}

func (w *Watcher) gauges(open []string) {
	if w.Metrics == nil {
		return
	}
	for _, c := range []string{DeadLetter, OutboxStuck, SpoolStuck, PolicyLastGood, StateFailOpen} {
		v := 0.0
		if slices.Contains(open, c) {
			v = 1
		}
		w.Metrics.Set(metrics.SelfAlertOpen, v, c)
	}
}

// send tells j: a trigger to the self-alert channels that are not
// failing and not what the condition is about, else (none left, or
// none took it) the local syslog; a resolve to those told.
func (w *Watcher) send(ctx context.Context, j *job, failing map[string]bool) {
	m := w.message(j)
	var targets []string
	if j.resolve {
		targets = j.r.Told
	} else {
		for _, ch := range w.Notify {
			if !slices.Contains(j.r.Exclude, ch) && !failing[ch] {
				targets = append(targets, ch)
			}
		}
	}
	for _, name := range targets {
		if w.deliver(ctx, name, m) {
			j.told = append(j.told, name)
		}
	}
	if !j.resolve && len(j.told) == 0 && w.deliver(ctx, FallbackName, m) {
		j.told = append(j.told, FallbackName)
	}
	if len(j.told) > 0 && w.Metrics != nil {
		action := "trigger"
		if j.resolve {
			action = "resolve"
		}
		w.Metrics.Add(metrics.SelfAlerts, 1, j.r.Condition, action)
	}
	if len(j.told) == 0 {
		w.note("self-alert %s: no channel took it (tried %s): tried again at the next check", j.id, strings.Join(append(targets, FallbackName), ", "))
	}
}

func (w *Watcher) deliver(ctx context.Context, name string, m *channels.Message) bool {
	var ch channels.Channel
	var err error
	if name == FallbackName {
		if w.Fallback != nil {
			ch, err = w.Fallback()
		} else {
			ch, err = syslog.New(syslog.Config{})
		}
		if err == nil {
			defer ch.Close()
		}
	} else {
		ch, err = w.Channel(name)
	}
	if err == nil {
		dctx, cancel := context.WithTimeout(ctx, sendBound)
		msg := *m
		_, err = channels.Deliver(dctx, ch, &msg, channels.DefaultBackoff)
		cancel()
	}
	if err != nil {
		w.note("self-alert to %s: %v", name, err)
		return false
	}
	return true
}

// message is what a self-alert says.
func (w *Watcher) message(j *job) *channels.Message {
	host := w.Host
	if host == "" {
		host = "localhost"
	}
	m := &channels.Message{Key: "notifier-self/" + host + "/" + j.id, Action: channels.Trigger, Severity: j.r.Severity,
		Summary: "notifier on " + host + ": " + j.r.Summary, Rule: "self-alert", Source: "notifier", Kind: "self",
		EventType: "notifier_" + j.r.Condition, Node: host, Controller: host, Text: j.r.Summary, Count: 1, Time: j.r.Since}
	if j.resolve {
		m.Action = channels.Resolve
		m.Summary = "notifier on " + host + ": over: " + j.r.Summary
	}
	return m
}

func (w *Watcher) note(format string, args ...any) {
	if w.Note != nil {
		w.Note(fmt.Sprintf(format, args...))
	}
}
