// Package policytest runs policy unit tests: YAML files naming a policy,
// a start time and, per test, a sequence of events at offsets from it
// with what each must cause — deliveries, suppression, drop, silence,
// escalation. It is `notifier test`, in the spirit of promtool's rule
// tests. Each test runs against a fresh in-memory store with a virtual
// clock, through the same decoders, Evaluate and state.Apply as a real
// run, so a one-hour suppression window is tested in microseconds.
package policytest

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// fileSpec is one test file.
//
//	policy: ../default.yaml          # file or directory, relative to this file
//	start: 2026-01-05T03:00:00Z      # the virtual clock at offset 0
//	host: db1                        # the local host name decoders see
//	tests:
//	  - name: a critical alarm pages once
//	    steps:
//	      - at: 0s
//	        cmon_file: ../../examples/events/cmon/alarm-new-critical.json
//	        expect:
//	          deliveries: [{channel: pager, action: trigger}]
//	      - at: 10m
//	        cmon_file: ../../examples/events/cmon/alarm-new-critical.json
//	        expect: {suppressed: [pager]}
type fileSpec struct {
	Policy string     `yaml:"policy"`
	Start  string     `yaml:"start"`
	Host   string     `yaml:"host"`
	Tests  []testSpec `yaml:"tests"`
}

// testSpec is one named test: steps run in order on one store.
type testSpec struct {
	Name  string     `yaml:"name"`
	Steps []stepSpec `yaml:"steps"`
}

// stepSpec is one thing that happens at an offset: an event (exactly one
// of the event keys) or a silence being added.
type stepSpec struct {
	At            time.Duration `yaml:"at"`
	CMONFile      string        `yaml:"cmon_file"`
	PacemakerFile string        `yaml:"pacemaker_file"`
	Silence       *silenceSpec  `yaml:"silence"`
	// Release decides again the held events due at the step's time
	// (silences and mutes that ended, flapping keys gone quiet,
	// inhibitions whose source resolved), as the engine's timer or the
	// next run does; expect is what they cause, together.
	Release bool        `yaml:"release"`
	Expect  *expectSpec `yaml:"expect"`
	// cmon, pacemaker and event are inline documents, taken as nodes.
	cmon, pacemaker, event *yaml.Node
	node                   *yaml.Node
}

// inlineKeys are the step keys holding a raw document, decoded by the
// event's own decoder rather than strictly.
var inlineKeys = []string{"cmon", "pacemaker", "event"}

// silenceSpec adds a silence, as `notifier silence add` would.
type silenceSpec struct {
	Match   string        `yaml:"match"`
	For     time.Duration `yaml:"for"`
	Comment string        `yaml:"comment"`
}

// expectSpec is what one event must cause. It is exact: every delivery
// made must be listed, and a list left out means none (suppressed,
// silenced, muted, escalated), so a test cannot pass while a policy pages
// someone it did not mean to. matched is compared only when given.
type expectSpec struct {
	Deliveries []deliverySpec `yaml:"deliveries"`
	Suppressed []string       `yaml:"suppressed"`
	Silenced   []string       `yaml:"silenced"`
	Muted      []string       `yaml:"muted"`
	Escalated  []string       `yaml:"escalated"`
	Duplicate  []string       `yaml:"duplicate"` // another invocation of the same alert (a second Pacemaker recipient, another node) decided these
	Inhibited  []string       `yaml:"inhibited"` // held by an inhibition
	Flapping   []string       `yaml:"flapping"`  // held while the key flaps
	Grouped    []string       `yaml:"grouped"`   // joined (or cleared in) a group: told with its next notification
	// RateLimited are the channels whose rate cap held the notification
	// (told in the cap's digest).
	RateLimited []string `yaml:"rate_limited"`
	Dropped     bool     `yaml:"dropped"`
	Matched     []string `yaml:"matched"`
}

// deliverySpec is one expected delivery; fields left empty are not
// compared.
type deliverySpec struct {
	Channel string `yaml:"channel"`
	Action  string `yaml:"action"`
	Key     string `yaml:"key"`
	Rule    string `yaml:"rule"`
	Outcome string `yaml:"outcome"`
	// Parts are the texts the channel's templates must render, by
	// option ("summary"); options not named are not compared.
	Parts map[string]string `yaml:"parts"`
	// Members are, for a group's notification, the keys of the alerts
	// it lists (open and cleared), in any order; nil: not compared.
	Members []string `yaml:"members"`
}
