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
}

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
}

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
}

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
