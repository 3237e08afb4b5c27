// Package watch is notifier watching itself (settings.self_alert): a
// dead letter, a delivery stuck in the outbox or an event stuck in the
// spool for longer than `after`, a policy deciding with its last good
// copy, or the state failing open is told once to the self-alert
// channels, and resolved when it clears.
//
// Every process that decides (an in-process run, notifier flush, the
// engine) checks what it saw (Check); the conditions and what was told
// of them are kept in one small file beside the spool, under a lock
// waited for at most a second, so that a condition is told once
// whichever process sees it first. A self-alert never goes through what
// may be failing: not through the outbox or the state (it is sent
// directly), not to a channel that is failing or stuck, and to the
// local syslog when no channel of settings.self_alert.notify is left.
package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"notifier/engine/metrics"
	"notifier/engine/pipeline"
	"notifier/engine/spool"

	"notifier/internal/flock"
	"notifier/internal/safedir"
)

// The conditions (notifier_self_alerts_total's condition label).
const (
	DeadLetter     = "dead_letter"
	OutboxStuck    = "outbox_stuck"
	SpoolStuck     = "spool_stuck"
	PolicyLastGood = "policy_last_good"
	StateFailOpen  = "state_fail_open"
)

// FileName is the record's file in the spool directory; the lock is
// FileName + ".lock".
const FileName = "self-alerts.json"

// LockWait bounds the wait for another process's check.
const LockWait = time.Second

// sendLease is how long a process that took a self-alert to send has
// before another may send it (the first died, say): longer than any
// check's sending (sendBound a channel) and its recording (RecordWait).
const sendLease = 2 * time.Minute

// RecordWait bounds the wait for the lock to record what was told: a
// check that cannot record it would let the lease run out and the
// self-alert be told again, so it waits longer than to look.
const RecordWait = 5 * time.Second

// Observation is what one process saw.
type Observation struct {
	Now    time.Time
	Policy string // the policy's path
	// LastGood: the policy does not load and its last good copy
	// decides; LastGoodErr says why it does not load.
	LastGood    bool
	LastGoodErr string
	// Seen is what the decisions showed of the state.
	Seen
	// State is the state's outbox, dead letters and failure marks, nil
	// when not read.
	State *metrics.StateGauges
	// Spool is the spool's stats, nil when not read.
	Spool *spool.Stats
}

// Seen is what decisions showed of the state: Decided, one used it;
// FailedOpen, one could not (StateErr says why).
type Seen struct {
	Decided, FailedOpen bool
	StateErr            string
}

// Add notes what the decision or flush r showed.
func (s *Seen) Add(r *pipeline.Report) {
	if !r.FailedOpen {
		s.Decided = true
		return
	}
	s.FailedOpen = true
	if r.StateErr != nil {
		s.StateErr = oneLine(r.StateErr.Error())
	}
}

// record is one condition, as kept in the file.
type record struct {
	Condition string    `json:"condition"`
	Subject   string    `json:"subject,omitempty"` // the channel of a dead letter
	Policy    string    `json:"policy,omitempty"`
	Summary   string    `json:"summary"`
	Severity  string    `json:"severity"`
	Exclude   []string  `json:"exclude,omitempty"` // channels it must not go to
	Since     time.Time `json:"since"`
	LastSeen  time.Time `json:"last_seen"`
	// Told are the channels that took the trigger; Cleared says the
	// condition is over and Told get the resolve.
	Told    []string `json:"told,omitempty"`
	Cleared bool     `json:"cleared,omitempty"`
	// Sending: a process took it to send until then.
	Sending time.Time `json:"sending,omitzero"`
}

type file struct {
	Alerts map[string]*record `json:"alerts"`
}

// condition is one condition an observation shows.
type condition struct {
	id string
	record
}

// active are the conditions o shows, and the ids of those it can vouch
// are over (what it read shows them not to hold).
func active(o Observation, after time.Duration) (on []condition, clear func(id string, r *record) bool) {
	tag := policyTag(o.Policy)
	add := func(cond, subject, sev, summary string, exclude ...string) {
		id := tag + cond
		if subject != "" {
			id += "/" + subject
		}
		on = append(on, condition{id: id, record: record{Condition: cond, Subject: subject, Policy: o.Policy,
			Summary: summary, Severity: sev, Exclude: exclude}})
	}
	if o.LastGood {
		add(PolicyLastGood, "", "warning", fmt.Sprintf("the policy %s does not load; its last good copy decides until it is fixed: %s", o.Policy, o.LastGoodErr))
	}
	if o.FailedOpen {
		add(StateFailOpen, "", "critical", fmt.Sprintf("the state is unusable: alerts are delivered without suppression (fail open): %s", o.StateErr))
	}
	if st := o.State; st != nil {
		for _, ch := range slices.Sorted(mapKeys(st.Failing)) {
			f := st.Failing[ch]
			add(DeadLetter, ch, "critical", fmt.Sprintf("channel %s gave up %d delivery(ies) since its last success (dead letters), the last about %s: %s",
				ch, f.Count, f.Key, oneLine(f.Error)), ch)
		}
		if !st.Partial && !st.OutboxOldest.IsZero() && o.Now.Sub(st.OutboxOldest) >= after {
			add(OutboxStuck, "", "critical", fmt.Sprintf("%d delivery(ies) queued in the outbox, the oldest for %v (channels %s): they are not getting through",
				st.Outbox, o.Now.Sub(st.OutboxOldest).Round(time.Second), strings.Join(st.OutboxChannels, ", ")), st.OutboxChannels...)
		}
	}
	if sp := o.Spool; sp != nil && !sp.Oldest.IsZero() && o.Now.Sub(sp.Oldest) >= after {
		add(SpoolStuck, "", "critical", fmt.Sprintf("%d event(s) wait in the spool, the oldest for %v: nothing is deciding them (notifier serve, or the notifier-flush timer)",
			sp.New+sp.Claimed, o.Now.Sub(sp.Oldest).Round(time.Second)))
	}
	clear = func(id string, r *record) bool {
		if r.Policy != "" && r.Policy != o.Policy {
			return false // another policy's: its own checks say
		}
		switch r.Condition {
		case PolicyLastGood:
			return !o.LastGood
		case StateFailOpen:
			// Failing open comes and goes under load: over once
			// decisions have used the state for `after` since the last.
			return o.Decided && !o.FailedOpen && o.Now.Sub(r.LastSeen) >= after
		case DeadLetter:
			return o.State != nil && !o.State.Partial && o.State.Failing[r.Subject].Count == 0
		case OutboxStuck:
			return o.State != nil && !o.State.Partial
		case SpoolStuck:
			return o.Spool != nil
		}
		return false
	}
	return on, clear
}

// policyTag tells apart the conditions of the policies that share a
// spool (an engine serving several, CMON's and Pacemaker's runs with
// their own): a short hash of the policy's path, and "/" ("" for none).
func policyTag(path string) string {
	if path == "" {
		return ""
	}
	h := fnv.New32a()
	h.Write([]byte(path))
	return fmt.Sprintf("%08x/", h.Sum32())
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// load reads the record file; a missing one is empty, one that does
// not decode starts again (noted by the caller).
func load(path string) (*file, error) {
	f := &file{Alerts: map[string]*record{}}
	data, err := safedir.ReadFile(path, 1<<20)
	if err != nil || data == nil {
		return f, err
	}
	if err := json.Unmarshal(data, f); err != nil {
		return &file{Alerts: map[string]*record{}}, fmt.Errorf("%s: %w (started again)", path, err)
	}
	if f.Alerts == nil {
		f.Alerts = map[string]*record{}
	}
	return f, nil
}

func (f *file) save(path string) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Chmod(0o660) // root (CMON) and hacluster (Pacemaker) both write it
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// locked runs fn on the record file under its lock, and saves it when
// fn says it changed it.
func locked(path string, wait time.Duration, fn func(f *file) (changed bool)) error {
	l, err := flock.Lock(path+".lock", wait)
	if err != nil {
		return err
	}
	defer l.Close()
	f, lerr := load(path)
	if lerr != nil && !strings.Contains(lerr.Error(), "started again") {
		return lerr
	}
	if fn(f) || lerr != nil {
		if len(f.Alerts) == 0 {
			// Nothing open: no file, so that a run can tell by a stat
			// that it has nothing to look at (Quiet).
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return errors.Join(lerr, err)
			}
			return lerr
		}
		return errors.Join(lerr, f.save(path))
	}
	return nil
}

// fullEvery is how often the outbox and the spool are looked at for the
// conditions that take them (stuck for after): a tenth of after, at
// most half a minute.
func fullEvery(after time.Duration) time.Duration { return min(after/10, 30*time.Second) }

// checkedPath is the file whose time says when a check of policy last
// looked at the outbox and the spool: one per policy, beside the record.
func (w *Watcher) checkedPath(policy string) string {
	tag := strings.TrimSuffix(policyTag(policy), "/")
	return strings.TrimSuffix(w.Path, ".json") + "." + tag + ".checked"
}

// FullDue says policy's outbox and spool are due to be looked at: the
// last check that did (Checked) is fullEvery old (or in the future: a
// clock set back), or there was none.
func (w *Watcher) FullDue(policy string, now time.Time) bool {
	fi, err := os.Stat(w.checkedPath(policy))
	if err != nil {
		return true
	}
	age := now.Sub(fi.ModTime())
	return age >= fullEvery(w.After) || age < 0
}

// Checked notes that a check of policy looked at the outbox and the
// spool now. The time is set to now by the kernel (UTIME_NOW), which
// any user that may write the file may do, not only its owner (root's
// flush makes it; Pacemaker's hacluster runs touch it too).
func (w *Watcher) Checked(policy string) {
	path := w.checkedPath(policy)
	now := []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, now, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return
	}
	// Not there yet: made, 0660 whatever the umask (at worst the next
	// run looks again).
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o660); err == nil {
		f.Chmod(0o660)
		f.Close()
	}
}

// Quiet says no self-alert is open or being resolved: the record file
// does not exist.
func (w *Watcher) Quiet() bool {
	_, err := os.Lstat(w.Path)
	return errors.Is(err, fs.ErrNotExist)
}
