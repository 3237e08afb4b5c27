package msteams

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"notifier/channels"
)

// DefaultTimeout bounds one HTTP attempt. The run's deadline (below
// Pacemaker's 30 s alert timeout) still bounds all attempts together.
const DefaultTimeout = 10 * time.Second

// maxFactNameLen bounds a fact's name as written in the policy: a label,
// not a text.
const maxFactNameLen = 256

// Config is one Microsoft Teams channel in a policy file: a Workflows
// webhook ("Post to a channel when a webhook request is received"),
// whose URL carries its own signature (sig=) and so is the secret.
type Config struct {
	WebhookURL     string        `yaml:"webhook_url"`      // inline (lint warns): the URL is the secret
	WebhookURLFile string        `yaml:"webhook_url_file"` // file holding the webhook URL
	Timeout        time.Duration `yaml:"timeout"`          // per HTTP attempt; default DefaultTimeout

	// Title, Text and Facts are message templates (channels.Template):
	// the card's heading, its text, and facts added to the built-in ones
	// or replacing the one of the same name. Empty means the built-in.
	Title string            `yaml:"title"`
	Text  string            `yaml:"text"`
	Facts map[string]string `yaml:"facts"`
}

// Validate checks the config without touching the file system, so lint
// can run it anywhere, and reports every problem at once. It never quotes
// the webhook URL: it is the secret.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case c.WebhookURL != "" && c.WebhookURLFile != "":
		add("webhook_url and webhook_url_file are both set: keep only webhook_url_file")
	case c.WebhookURL == "" && c.WebhookURLFile == "":
		add("webhook_url_file: required (the URL of a Teams Workflows webhook)")
	case c.WebhookURL != "":
		if err := checkURL("webhook_url", c.WebhookURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Timeout < 0 {
		add("timeout: must not be negative, got %s", c.Timeout)
	}
	if c.Title != "" && strings.TrimSpace(c.Title) == "" {
		add("title: blank; leave it out for the built-in title")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Facts)) {
		switch {
		case strings.TrimSpace(name) == "":
			add("facts: a fact has a blank name")
		case strings.Contains(name, "."):
			// The name is part of the option's dotted path (facts.NAME),
			// which must lead back to the template.
			add("facts.%s: a fact's name cannot hold a dot", name)
		case len(name) > maxFactNameLen:
			add("facts.%.40s…: a fact's name is longer than %d bytes", name, maxFactNameLen)
		case c.Facts[name] == "":
			add(`facts.%s: no template; to leave out the built-in fact of that name, write one that renders blank: "{{ \"\" }}"`, name)
		}
	}
	return errors.Join(errs...)
}

// Lint warns about a timeout under a second.
func (c *Config) Lint() error {
	return errors.Join(channels.LintTimeout("timeout", c.Timeout), channels.CheckCleartext("webhook_url", c.WebhookURL))
}

// Secrets declares the webhook URL: inline (lint warns) or in a file.
func (c *Config) Secrets() []channels.Secret {
	return []channels.Secret{{Inline: "webhook_url", File: "webhook_url_file"}}
}

// Files lists webhook_url_file, checked as New checks the URL it holds,
// so lint --check-secrets and a run agree on what is usable.
func (c *Config) Files() []channels.File {
	return []channels.File{{Option: "webhook_url_file", Path: &c.WebhookURLFile,
		Check: func(secret string) error {
			return errors.Join(checkURL("webhook URL", secret), channels.CheckCleartext("webhook URL", secret))
		}}}
}

// Templates lists title (which must not render blank), text and each
// fact, by name. A fact's Text points at a copy: a map's values cannot
// be pointed at.
func (c *Config) Templates() []channels.Template {
	return channels.MapTemplates([]channels.Template{
		{Option: "title", Text: &c.Title, Required: true},
		{Option: "text", Text: &c.Text},
	}, "facts", c.Facts)
}

// checkURL refuses what cannot be a webhook URL: not http(s), or white
// space inside (a file holding two lines). Neither error quotes it.
func checkURL(field, u string) error {
	if err := channels.CheckToken(field, u); err != nil {
		return err
	}
	return channels.CheckHTTPURL(field, u)
}
