package engine

import (
	"time"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// DefaultDeadline bounds a whole run: below Pacemaker's default 30 s alert
// timeout, after which it SIGKILLs the agent's process group.
const DefaultDeadline = 20 * time.Second

// Policy is a loaded, compiled and checked set of policy files. It is
// read-only after Load.
type Policy struct {
	Settings Settings
	Channels map[string]*ChannelSpec
	Windows  map[string]*Window
	Rules    []*Rule
	Files    []string // the files it was loaded from, in order
}

// Settings are the run-wide knobs (DESIGN §4).
type Settings struct {
	Deadline time.Duration
	Cluster  ClusterDefaults
}

// SettingsSpec is the `settings` section as written.
type SettingsSpec struct {
	Deadline time.Duration `yaml:"deadline"`
	Cluster  struct {
		ID   int    `yaml:"id"`
		Name string `yaml:"name"`
	} `yaml:"cluster"`
}

// ChannelSpec is one entry of `channels`: its type and the raw YAML of its
// options. The engine never interprets the options: the caller decodes
// them into the concrete channel's config (LoadOptions.CheckChannel), so
// the engine imports no channel package.
type ChannelSpec struct {
	Name string
	Type string
	File string
	Node *yaml.Node // the channel's mapping, `type` included
}

// RuleSpec is one entry of `rules` as written.
type RuleSpec struct {
	Name         string   `yaml:"name"`
	When         string   `yaml:"when"`
	Notify       []string `yaml:"notify"`
	Drop         bool     `yaml:"drop"`
	Continue     bool     `yaml:"continue"`
	ActiveDuring []string `yaml:"active_during"`
	MutedDuring  []string `yaml:"muted_during"`
}

// Rule is a compiled rule.
type Rule struct {
	RuleSpec
	File      string
	Line, Col int
	program   *vm.Program
}
