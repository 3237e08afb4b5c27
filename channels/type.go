package channels

import (
	"fmt"
	"path/filepath"
	"time"
)

// Type is one kind of channel, the `type:` of a channel in a policy. A
// channel package exports one (pagerduty.Type); channels/registry lists
// them all. Everything a caller needs is here, so nothing about a
// channel is found by reflection or type assertion.
type Type struct {
	// Name is what a policy writes as `type:`.
	Name string
	// Doc says what the type is, and Options what each option (by YAML
	// key) means: the hover text of `notifier schema`. Every key of the
	// config has one.
	Doc     string
	Options map[string]string
	// NewConfig returns an empty config, a pointer the policy loader
	// decodes the channel's options into (strictly: its yaml keys are the
	// options) and `notifier schema` describes.
	NewConfig func() Config
	// New builds the channel from a config NewConfig returned and
	// Validate passed: it reads secret files and applies defaults. It
	// does no network I/O.
	New func(Config) (Channel, error)
}

// Config is a channel's options as written in the policy.
type Config interface {
	// Validate reports every problem at once (errors.Join, one line
	// each, naming its option first, after an optional "<type>: ") without
	// touching the file system, so lint can run it where the secrets are
	// not. Empty options are valid when they have a default; Validate
	// changes nothing: defaults are New's job. No error holds a secret.
	Validate() error
	// Lint reports what Validate lets through but lint should say:
	// errors lint fails on though a run still loads the policy, and
	// warnings (*Advice). Joined, like Validate's; nil for nothing.
	Lint() error
	// Secrets declares the secrets the config takes, so lint can warn
	// about one written inline and check the files holding them.
	Secrets() []Secret
	// Files lists every option that names a file, secret or not, in the
	// order lint reports them.
	Files() []File
	// Templates lists every option that holds a message template (see
	// Template), written or not, in a stable order; nil for none.
	Templates() []Template
}

// Secret is one secret a config takes: inline in one option (lint warns:
// it ends up in the repository) or, better, in a file another option
// names. Either may be "" when the config has no such option.
type Secret struct {
	Inline string // "routing_key"
	File   string // "routing_key_file"
}

// File is one option naming a file.
type File struct {
	// Option is the YAML key.
	Option string
	// Path points at the config's field, so that a relative path can be
	// made relative to the policy file (ResolveFiles).
	Path *string
	// Check validates the content as the channel uses it (a secret
	// trimmed, as ReadSecret reads it); nil checks nothing. Its error
	// never holds the content.
	Check func(content string) error
}

// Advice is a lint warning about one option: lint reports it, and fails
// on it only with --strict. Config.Lint returns it among its errors.
type Advice struct {
	Option  string // the YAML key it is about
	Check   string // the name lint shows in brackets: "timeout"
	Message string // what is wrong, without the option's name
}

func (a *Advice) Error() string { return a.Option + ": " + a.Message }

// LintTimeout is the advice about a timeout under a second (20ms for
// 20s): every attempt would time out, the page waits in the queue for a
// flush that times out again, and nothing fails loudly. nil when d is 0
// (the default) or a second or more.
func LintTimeout(option string, d time.Duration) error {
	if d <= 0 || d >= time.Second {
		return nil
	}
	return &Advice{Option: option, Check: "timeout",
		Message: fmt.Sprintf("%s is under a second: deliveries would time out and wait in the queue (20ms for 20s?)", d)}
}

// ResolveFiles makes every relative file option of c relative to dir
// (the policy file's directory), not to the working directory:
// Pacemaker runs agents in /var/lib/pacemaker/cores.
func ResolveFiles(c Config, dir string) {
	for _, f := range c.Files() {
		if *f.Path != "" && !filepath.IsAbs(*f.Path) {
			*f.Path = filepath.Join(dir, *f.Path)
		}
	}
}

// IsSecretFile reports whether the file option holds one of c's secrets.
func IsSecretFile(c Config, option string) bool {
	for _, s := range c.Secrets() {
		if s.File == option {
			return true
		}
	}
	return false
}

// NewType makes the Type of a channel package from its config type C
// (whose pointer is the Config) and its constructor, so that New is
// called only with the config NewConfig made.
func NewType[C any, PC interface {
	*C
	Config
}, N Channel](name, doc string, options map[string]string, newFn func(C) (N, error)) Type {
	return Type{
		Name:      name,
		Doc:       doc,
		Options:   options,
		NewConfig: func() Config { return PC(new(C)) },
		New: func(c Config) (Channel, error) {
			pc, ok := c.(PC)
			if !ok || pc == nil {
				return nil, fmt.Errorf("%s: config is %T, not %T", name, c, pc)
			}
			ch, err := newFn(*pc)
			if err != nil {
				return nil, err
			}
			return ch, nil
		},
	}
}
