// Package tmplfake is a channel type with template options, for tests of
// how templates are compiled, overridden, rendered and kept, while the
// real channels' own template options are tested in their packages. Its
// Notify appends each message, as JSON, to the file its `record` option
// names.
package tmplfake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"

	"notifier/channels"
)

// Name is the type's name in a policy.
const Name = "tmplfake"

// Link is one entry of the `links` option.
type Link struct {
	Href string `yaml:"href"`
	Text string `yaml:"text"`
}

// Config has template options of every kind: a required one (summary),
// a JSON one (body), an optional one (footer), a list of them
// (links.N.href, links.N.text) and a map of them (details.KEY); record
// is not a template.
type Config struct {
	Summary string            `yaml:"summary"`
	Body    string            `yaml:"body"`
	Footer  string            `yaml:"footer"`
	Links   []Link            `yaml:"links"`
	Details map[string]string `yaml:"details"`
	Record  string            `yaml:"record"`
}

// Validate accepts everything.
func (c *Config) Validate() error { return nil }

// Lint says nothing.
func (c *Config) Lint() error { return nil }

// Secrets declares none.
func (c *Config) Secrets() []channels.Secret { return nil }

// Files declares none.
func (c *Config) Files() []channels.File { return nil }

// Templates lists summary, body, footer, each link's href and text, and
// each detail (by key, sorted).
func (c *Config) Templates() []channels.Template {
	out := []channels.Template{
		{Option: "summary", Text: &c.Summary, Required: true},
		{Option: "body", Text: &c.Body, JSON: true},
		{Option: "footer", Text: &c.Footer},
	}
	for i := range c.Links {
		n := strconv.Itoa(i)
		out = append(out, channels.Template{Option: "links." + n + ".href", Text: &c.Links[i].Href},
			channels.Template{Option: "links." + n + ".text", Text: &c.Links[i].Text})
	}
	for _, k := range slices.Sorted(maps.Keys(c.Details)) {
		text := c.Details[k] // a map's value has no address: the template is read, never written
		out = append(out, channels.Template{Option: "details." + k, Text: &text})
	}
	return out
}

type channel struct {
	path string
	mu   sync.Mutex
}

func (ch *channel) Notify(_ context.Context, m *channels.Message) error {
	if ch.path == "" {
		return errors.New("record: no file")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	f, err := os.OpenFile(ch.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (ch *channel) Close() error { return nil }

// Type is the channel type.
var Type = channels.NewType(Name, "A test channel with template options.", map[string]string{
	"summary": "A required template.", "body": "A JSON template.", "footer": "A template.",
	"links": "Templates in a list.", "links.href": "A template.", "links.text": "A template.", "details": "Templates by name.",
	"record": "The file each message is appended to, as JSON.",
}, func(c Config) (*channel, error) { return &channel{path: c.Record}, nil })

// Recorded reads the messages appended to path.
func Recorded(path string) ([]channels.Message, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []channels.Message
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var m channels.Message
		if err := dec.Decode(&m); err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}
