package channels

import (
	"errors"
	"testing"
	"time"
)

// fakeConfig is a channel config with one secret and one other file.
type fakeConfig struct {
	Key     string        `yaml:"key"`
	KeyFile string        `yaml:"key_file"`
	CAFile  string        `yaml:"ca_file"`
	Timeout time.Duration `yaml:"timeout"`
}

func (c *fakeConfig) Validate() error { return nil }
func (c *fakeConfig) Lint() error     { return LintTimeout("timeout", c.Timeout) }
func (c *fakeConfig) Secrets() []Secret {
	return []Secret{{Inline: "key", File: "key_file"}}
}
func (c *fakeConfig) Templates() []Template { return nil }

func (c *fakeConfig) Files() []File {
	return []File{{Option: "key_file", Path: &c.KeyFile}, {Option: "ca_file", Path: &c.CAFile}}
}

func newFake(c fakeConfig) (*counted, error) {
	if c.Key == "refuse" {
		return nil, errors.New("fake: refused")
	}
	return &counted{}, nil
}

func TestLintTimeout(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Second, ""}, // Validate's problem, not advice
		{time.Second, ""},
		{20 * time.Second, ""},
		{20 * time.Millisecond, "timeout: 20ms is under a second: deliveries would time out and wait in the queue (20ms for 20s?)"},
		{999 * time.Millisecond, "timeout: 999ms is under a second: deliveries would time out and wait in the queue (20ms for 20s?)"},
	} {
		err := LintTimeout("timeout", tt.d)
		got := ""
		if err != nil {
			got = err.Error()
			var a *Advice
			if !errors.As(err, &a) || a.Option != "timeout" || a.Check != "timeout" {
				t.Errorf("%v: %#v is not timeout advice", tt.d, err)
			}
		}
		if got != tt.want {
			t.Errorf("LintTimeout(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestNewType(t *testing.T) {
	typ := NewType("fake", "A fake.", map[string]string{}, newFake)
	c, ok := typ.NewConfig().(*fakeConfig)
	if !ok || c == nil || *c != (fakeConfig{}) {
		t.Fatalf("NewConfig() = %#v, want an empty *fakeConfig", typ.NewConfig())
	}
	if typ.NewConfig() == typ.NewConfig() {
		t.Error("NewConfig shares one config")
	}
	if ch, err := typ.New(c); err != nil || ch == nil {
		t.Errorf("New = %v, %v", ch, err)
	}
	c.Key = "refuse"
	if ch, err := typ.New(c); err == nil || err.Error() != "fake: refused" || ch != nil {
		t.Errorf("New = %v, %v; want nil and the constructor's error", ch, err)
	}
	var nilConfig *fakeConfig
	for _, bad := range []Config{nil, nilConfig, &otherConfig{}} {
		if _, err := typ.New(bad); err == nil {
			t.Errorf("New(%#v) accepted it", bad)
		}
	}
}

type otherConfig struct{ fakeConfig }

func TestResolveFilesAndSecretFiles(t *testing.T) {
	c := &fakeConfig{KeyFile: "keys/k", CAFile: "/etc/ca.pem"}
	ResolveFiles(c, "/srv/policy")
	if c.KeyFile != "/srv/policy/keys/k" || c.CAFile != "/etc/ca.pem" {
		t.Errorf("resolved: %+v", c)
	}
	empty := &fakeConfig{}
	ResolveFiles(empty, "/srv/policy")
	if *empty != (fakeConfig{}) {
		t.Errorf("an unset file became %+v", empty)
	}
	if !IsSecretFile(c, "key_file") || IsSecretFile(c, "ca_file") || IsSecretFile(c, "key") {
		t.Error("IsSecretFile does not follow Secrets()")
	}
}
