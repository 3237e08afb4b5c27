package slack

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"notifier/channels"
)

// Defaults applied by New when the config leaves them out.
const (
	// DefaultAPIURL is Slack's Web API base; method names are appended.
	DefaultAPIURL = "https://slack.com/api/"
	// DefaultTimeout bounds one HTTP attempt. The run's deadline (below
	// Pacemaker's 30 s alert timeout) still bounds all attempts together.
	DefaultTimeout = 10 * time.Second
)

// Config is one Slack channel in a policy file. It takes either an
// incoming webhook (which posts to the channel it was created for) or a
// bot token with a channel for the Web API's chat.postMessage.
type Config struct {
	WebhookURL     string        `yaml:"webhook_url"`      // inline (lint warns): the URL is the secret
	WebhookURLFile string        `yaml:"webhook_url_file"` // file holding the webhook URL
	Token          string        `yaml:"token"`            // inline bot token (lint warns)
	TokenFile      string        `yaml:"token_file"`       // file holding the bot token
	Channel        string        `yaml:"channel"`          // channel ID or name; required with a token
	APIURL         string        `yaml:"api_url"`          // Web API base; default DefaultAPIURL
	Timeout        time.Duration `yaml:"timeout"`          // per HTTP attempt; default DefaultTimeout

	// The templates (see channels.Template and BuildMessage): each
	// replaces one built-in text; "" keeps it.
	Title  string            `yaml:"title"`  // the header line, the message's top-level text; must not render blank
	Text   string            `yaml:"text"`   // the attachment's text (the event's message)
	Footer string            `yaml:"footer"` // the attachment's footer (key, rule, source)
	Fields map[string]string `yaml:"fields"` // attachment fields by title: replaced or added; blank removes
}

// Validate checks the config without touching the file system, so lint
// can run it anywhere, and reports every problem at once. It never quotes
// a webhook URL or token: they are secrets.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	hook := c.WebhookURL != "" || c.WebhookURLFile != ""
	token := c.Token != "" || c.TokenFile != ""
	switch {
	case hook && token:
		add("webhook_url and token are mutually exclusive: a webhook posts to its own channel, a token posts to channel")
	case !hook && !token:
		add("one of webhook_url_file or token_file (with channel) is required")
	}
	if c.WebhookURL != "" && c.WebhookURLFile != "" {
		add("webhook_url and webhook_url_file are mutually exclusive")
	}
	if c.Token != "" && c.TokenFile != "" {
		add("token and token_file are mutually exclusive")
	}
	if c.WebhookURL != "" {
		// The value is secret: CheckHTTPURL never quotes it.
		if err := channels.CheckHTTPURL("webhook_url", c.WebhookURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Token != "" {
		if err := channels.CheckToken("token", c.Token); err != nil {
			errs = append(errs, err)
		}
	}
	if hook && !token {
		if c.Channel != "" {
			add("channel: not used with a webhook, which posts to the channel it was created for")
		}
		if c.APIURL != "" {
			add("api_url: only used with token")
		}
	}
	if token && strings.TrimSpace(c.Channel) == "" {
		add("channel: required with token")
	}
	if c.APIURL != "" {
		if err := channels.CheckHTTPURL("api_url", c.APIURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Timeout < 0 {
		add("timeout: must not be negative, got %s", c.Timeout)
	}
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.Fields)) {
		fold := strings.ToLower(name)
		switch {
		case strings.TrimSpace(name) == "":
			add("fields: a title is blank")
		case strings.Contains(name, "."):
			add("fields.%s: a title must not contain '.'", name)
		case seen[fold] != "":
			// Both would replace the same field: which one shows
			// would depend on the order of the names.
			add("fields.%s: the same title as fields.%s (titles match in any case)", name, seen[fold])
		}
		seen[fold] = name
	}
	return errors.Join(errs...)
}

// Lint warns about a timeout under a second.
func (c *Config) Lint() error {
	return errors.Join(channels.LintTimeout("timeout", c.Timeout), channels.CheckCleartext("webhook_url", c.WebhookURL),
		channels.CheckCleartext("api_url", c.APIURL))
}

// Secrets declares the webhook URL and the bot token: each inline (lint
// warns) or in a file.
func (c *Config) Secrets() []channels.Secret {
	return []channels.Secret{
		{Inline: "webhook_url", File: "webhook_url_file"},
		{Inline: "token", File: "token_file"},
	}
}

// Files lists the secret files, each checked as New checks what it
// holds, so lint --check-secrets and a run agree on what is usable. No
// check quotes the secret.
func (c *Config) Files() []channels.File {
	return []channels.File{
		{Option: "webhook_url_file", Path: &c.WebhookURLFile,
			Check: func(secret string) error {
				return errors.Join(channels.CheckHTTPURL("webhook URL", secret), channels.CheckCleartext("webhook URL", secret))
			}},
		{Option: "token_file", Path: &c.TokenFile,
			Check: func(secret string) error { return checkToken("token", secret) }},
	}
}

// checkToken refuses a bot token that cannot work: white space or a
// control character inside (Go's HTTP client refuses the header), or
// not a Slack token at all (they start "xox": xoxb- for a bot, xoxp-
// for a user; a webhook URL or an app-level xapp- token in the token
// file is the usual mistake).
func checkToken(field, tok string) error {
	if err := channels.CheckToken(field, tok); err != nil {
		return err
	}
	if !strings.HasPrefix(tok, "xox") {
		return fmt.Errorf("%s: not a Slack bot or user token (those start xoxb- or xoxp-)", field)
	}
	return nil
}

// fieldsOption is the map option whose templates are read back with
// PartsUnder.
const fieldsOption = "fields"

// Templates lists title, text, footer and each field by title. A
// field's Text points at a copy: a map's values cannot be pointed at.
func (c *Config) Templates() []channels.Template {
	return channels.MapTemplates([]channels.Template{
		{Option: "title", Text: &c.Title, Required: true},
		{Option: "text", Text: &c.Text},
		{Option: "footer", Text: &c.Footer},
	}, fieldsOption, c.Fields)
}
