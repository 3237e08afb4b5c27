package engine

import (
	"notifier/engine/policy"

	"github.com/expr-lang/expr/vm"
)

// Policy is a loaded, compiled and checked set of policy files. It is
// read-only after Load.
type Policy struct {
	Settings policy.Settings
	Channels map[string]*policy.ChannelSpec
	Windows  map[string]*Window
	Rules    []*Rule
	// Rates are the channels' rate caps (`rate`), by channel.
	Rates map[string]policy.RateSpec
	// Inhibits are the `inhibit` entries, in order.
	Inhibits []*Inhibit
	flaps    bool // a rule has flapping
	groups   bool // a rule has group
	unmutes  *unmuteMemo
	Files    []string // the files it was loaded from, in order
	// LastGood says the policy files did not load and this is the last
	// policy from them that did (see engine/lastgood).
	LastGood bool
}

// Rule is a compiled rule.
type Rule struct {
	policy.RuleSpec
	File      string
	Line, Col int
	program   *vm.Program
	keyProg   *vm.Program // suppress.key, when given
	groupProg *vm.Program // group.by, when given
}

// MayGroup says what the policy decides may make a key a member of a
// group — a rule's group, or a channel's rate cap — whose clear must then
// read the group first.
func (p *Policy) MayGroup() bool { return p.groups || len(p.Rates) > 0 }

// Inhibit is a compiled `inhibit` entry.
type Inhibit struct {
	policy.InhibitSpec
	File           string
	Line, Col      int
	source, target *vm.Program
}
