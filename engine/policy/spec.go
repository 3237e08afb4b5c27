package policy

import (
	"time"

	"notifier/engine/event"

	"go.yaml.in/yaml/v3"
)

// DefaultDeadline bounds a whole run: below Pacemaker's default 30 s alert
// timeout, after which it SIGKILLs the agent's process group.
const DefaultDeadline = 20 * time.Second

// Settings are the run-wide knobs, as a policy gives them (defaults
// filled in, relative paths made the policy file's).
type Settings struct {
	Deadline time.Duration
	Cluster  event.ClusterDefaults
	// StatePath is the embedded store's file (state.DefaultBoltPath
	// when empty).
	StatePath string
	// RedisURL, when set, names the store shared by several nodes.
	RedisURL string
	// RedisPasswordFile, when set, holds the password for RedisURL, so
	// it need not be written in the URL (and so in the policy).
	RedisPasswordFile string
	// AuditLog, when set, gets one JSON line per decision.
	AuditLog string
	// DedupWindow is settings.dedup_window (DefaultDedupWindow unless
	// given); 0 turns cross-node dedup off.
	DedupWindow time.Duration
	// Metrics is settings.metrics.
	Metrics MetricsSettings
	// SelfAlert is settings.self_alert; nil when the policy gives none.
	SelfAlert *SelfAlertSettings
}

// MetricsSettings are where notifier's own metrics go.
type MetricsSettings struct {
	// Listen is where `notifier serve` serves /metrics: "" off (the default);
	// "unix:/path" a unix socket; else host:port. A bare port "9464" or ":9464"
	// is made "127.0.0.1:9464" (never all interfaces unless written: 0.0.0.0:9464 or [::]:9464).
	Listen string
	// Textfile is the node_exporter textfile that in-process runs and `notifier flush` update
	// ("" off); a relative path is made the policy file's, as audit_log is.
	Textfile string
}

// SelfAlertSettings: a problem of notifier's own (dead letters, a stuck
// outbox or spool, a last good policy deciding, the state failing open)
// that has lasted After is told to the channels Notify.
type SelfAlertSettings struct {
	Notify []string      // channel names, at least one
	After  time.Duration // DefaultSelfAlertAfter (5m) when not given
}

// DefaultSelfAlertAfter is settings.self_alert.after when a policy gives
// none.
const DefaultSelfAlertAfter = 5 * time.Minute

// SettingsSpec is the `settings` section as written.
type SettingsSpec struct {
	Deadline time.Duration `yaml:"deadline"`
	Cluster  struct {
		ID   int    `yaml:"id"`
		Name string `yaml:"name"`
	} `yaml:"cluster"`
	State struct {
		Path  string `yaml:"path"`
		Redis struct {
			URL          string `yaml:"url"`
			PasswordFile string `yaml:"password_file"`
		} `yaml:"redis"`
	} `yaml:"state"`
	AuditLog string `yaml:"audit_log"`
	// DedupWindow is how far apart, in event time, the copies of one
	// Pacemaker node or fencing alert that several nodes report are
	// still one occurrence; nil: the default, DefaultDedupWindow.
	DedupWindow *time.Duration `yaml:"dedup_window"`
	// Metrics is settings.metrics; nil when not given (or empty).
	Metrics *MetricsSpec `yaml:"metrics"`
	// SelfAlert is settings.self_alert; nil when not given (or empty).
	SelfAlert *SelfAlertSpec `yaml:"self_alert"`
}

// MetricsSpec is settings.metrics as written (MetricsSettings).
type MetricsSpec struct {
	Listen   string `yaml:"listen"`
	Textfile string `yaml:"textfile"`
}

// SelfAlertSpec is settings.self_alert as written (SelfAlertSettings);
// After is nil when not given.
type SelfAlertSpec struct {
	Notify []string       `yaml:"notify"`
	After  *time.Duration `yaml:"after"`
}

// DefaultDedupWindow is settings.dedup_window when a policy gives none:
// every node of a cluster reports a node loss or a fencing within
// moments of the others.
const DefaultDedupWindow = 2 * time.Minute

// ChannelSpec is one entry of `channels`: its type and the raw YAML of its
// options. This package never interprets the options: the caller decodes
// them into the concrete channel's config (Options.CheckChannel), so no
// channel package is imported here.
type ChannelSpec struct {
	Name string
	Type string
	File string
	Data []byte     // the file's text, to place what is inside a scalar (a template)
	Node *yaml.Node // the channel's mapping, `type` included
	// Rate is the channel's rate cap (`rate`, any channel type), nil
	// without.
	Rate *RateSpec
}

// RateSpec caps a channel: at most Max notifications per Per; what is
// over is held and sent as one digest when the window allows.
type RateSpec struct {
	Max int           `yaml:"max"`
	Per time.Duration `yaml:"per"`
}

// ChannelKeys are the keys every channel has besides its type's
// options.
var ChannelKeys = []string{"type", "rate"}

// RuleSpec is one entry of `rules` as written.
type RuleSpec struct {
	Name         string        `yaml:"name"`
	When         string        `yaml:"when"`
	Notify       []string      `yaml:"notify"`
	Drop         bool          `yaml:"drop"`
	Continue     bool          `yaml:"continue"`
	ActiveDuring []string      `yaml:"active_during"`
	MutedDuring  []string      `yaml:"muted_during"`
	Suppress     *SuppressSpec `yaml:"suppress"`
	Escalate     *EscalateSpec `yaml:"escalate"`
	Flapping     *FlappingSpec `yaml:"flapping"`
	Group        *GroupSpec    `yaml:"group"`
}

// GroupSpec: the rule's notifications about events with the same group
// key (By, an expression giving a string) within Wait of the group's
// first are one digest; members that join or clear later are sent as one
// update at most every Interval.
type GroupSpec struct {
	By       string         `yaml:"by"`
	Wait     *time.Duration `yaml:"wait"`
	Interval *time.Duration `yaml:"interval"`
}

// Group defaults, as Alertmanager's group_wait and group_interval.
const (
	DefaultGroupWait     = 30 * time.Second
	DefaultGroupInterval = 5 * time.Minute
)

// FlappingSpec: a key whose state changes (raised <-> cleared) Changes
// times within Within is flapping: one notification says so, then its
// raises and clears are held until it has stayed in one state for Quiet,
// and that final state is notified.
type FlappingSpec struct {
	Changes int           `yaml:"changes"`
	Within  time.Duration `yaml:"within"`
	Quiet   time.Duration `yaml:"quiet"`
}

// InhibitSpec is one entry of the top-level `inhibit` list: while an
// incident opened by an event matching Source is open, events matching
// Target whose Equal fields have the same values are held.
type InhibitSpec struct {
	Name   string   `yaml:"name"`
	Source string   `yaml:"source"`
	Target string   `yaml:"target"`
	Equal  []string `yaml:"equal"`
}

// SuppressSpec: after a rule notified about a key, repeats within For are
// suppressed (and counted). Key is an expression giving the suppression
// key; by default the event's key.
type SuppressSpec struct {
	For time.Duration `yaml:"for"`
	Key string        `yaml:"key"`
}

// EscalateSpec: the After-th occurrence of a key within Within also tells
// Notify, once per window. Suppressed occurrences count.
type EscalateSpec struct {
	After  int           `yaml:"after"`
	Within time.Duration `yaml:"within"`
	Notify []string      `yaml:"notify"`
}

// WindowSpec is a named time window as written in the policy.
type WindowSpec struct {
	Timezone string   `yaml:"timezone"`
	Weekdays []string `yaml:"weekdays"`
	Times    []string `yaml:"times"`
}
