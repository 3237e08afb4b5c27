package pagerduty

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"notifier/channels"
)

// Defaults applied by New when the configuration leaves a field empty.
const (
	// DefaultEventsURL is PagerDuty's US service region. Accounts in the EU
	// region use https://events.eu.pagerduty.com.
	DefaultEventsURL = "https://events.pagerduty.com"
	// DefaultTimeout bounds one request: the whole run has a deadline
	// well under Pacemaker's 30 s, and a retry must still fit in it.
	DefaultTimeout = 10 * time.Second
	// DefaultClient is the "client" PagerDuty shows as the event's origin.
	DefaultClient = "notifier"
)

// enqueuePath is what go-pagerduty appends to the events URL. Users often
// paste the full endpoint from PagerDuty's docs; it is accepted and
// trimmed so the request does not go to /v2/enqueue/v2/enqueue.
const enqueuePath = "/v2/enqueue"

// Config is one PagerDuty channel as written in the policy file's
// channels section. The loader decodes strictly into it, so every field
// here is a key users may write.
type Config struct {
	// RoutingKey is the Events API v2 integration key given inline. Lint
	// warns about it: prefer RoutingKeyFile, which keeps the secret out of
	// the policy repository.
	RoutingKey string `yaml:"routing_key"`
	// RoutingKeyFile is a file holding the integration key (surrounding
	// whitespace ignored).
	RoutingKeyFile string `yaml:"routing_key_file"`
	// EventsURL is the Events API base URL: DefaultEventsURL, the EU
	// region, or a test server. A trailing /v2/enqueue is tolerated.
	EventsURL string `yaml:"events_url"`
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// Client names the sender in PagerDuty's UI; default DefaultClient.
	Client string `yaml:"client"`
	// ClientURL is the link PagerDuty shows next to Client, e.g. the
	// ClusterControl UI.
	ClientURL string `yaml:"client_url"`

	// The templates (see channels.Template): each replaces one built-in
	// text of a trigger (BuildEvent); "" keeps the built-in one. A
	// resolve carries only the key, so they are not used for it.

	// Summary is payload.summary, the line PagerDuty pages with; it must
	// not render blank.
	Summary string `yaml:"summary"`
	// Source is payload.source, the affected host; it must not render
	// blank (PagerDuty refuses an event without one).
	Source string `yaml:"source"`
	// Component, Group and Class are payload.component, .group and
	// .class; blank leaves the field out.
	Component string `yaml:"component"`
	Group     string `yaml:"group"`
	Class     string `yaml:"class"`
	// CustomDetails are entries of payload.custom_details by name,
	// added to the built-in ones or replacing the one of the same name;
	// an entry that renders blank is left out.
	CustomDetails map[string]string `yaml:"custom_details"`
	// Links are the event's links (the Events API's links: href and
	// text), in order; one whose href renders blank is left out.
	Links []Link `yaml:"links"`
}

// Link is one link of a PagerDuty event, both parts templates.
type Link struct {
	Href string `yaml:"href"` // the URL; required
	Text string `yaml:"text"` // what PagerDuty shows for it; default the URL
}

// Validate checks the configuration without touching the file system,
// so lint can run it on a machine that lacks the secret files. Errors
// name the field; none of them contains the routing key.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.RoutingKey != "" && c.RoutingKeyFile != "":
		errs = append(errs, errors.New("routing_key and routing_key_file are both set: keep only routing_key_file"))
	case c.RoutingKey == "" && c.RoutingKeyFile == "":
		errs = append(errs, errors.New("routing_key_file: required (the Events API v2 integration key)"))
	case c.RoutingKey != "":
		if err := checkRoutingKey("routing_key", c.RoutingKey); err != nil {
			errs = append(errs, err)
		}
	}
	if c.EventsURL != "" {
		if err := channels.CheckHTTPURL("events_url", c.EventsURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ClientURL != "" {
		if err := channels.CheckHTTPURL("client_url", c.ClientURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %q: must not be negative", c.Timeout.String()))
	}
	for _, name := range slices.Sorted(maps.Keys(c.CustomDetails)) {
		if err := checkDetailName(name); err != nil {
			errs = append(errs, err)
		}
	}
	for i, l := range c.Links {
		if strings.TrimSpace(l.Href) == "" {
			errs = append(errs, fmt.Errorf("links[%d].href: required (the link's URL, a template)", i))
		}
	}
	return errors.Join(errs...)
}

// checkDetailName refuses a custom_details name that cannot be told
// apart in the option's dotted path (custom_details.NAME, how lint and
// Message.Parts name the template).
func checkDetailName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("custom_details: a name is blank")
	case strings.Contains(name, "."):
		return fmt.Errorf("custom_details.%s: a name must not contain '.'", name)
	}
	return nil
}

// Lint reports what Validate lets through because policies running in
// production may have it — lint fails on it, a run still loads it — and
// a timeout under a second (a warning).
func (c *Config) Lint() error {
	var errs []error
	if err := channels.LintTimeout("timeout", c.Timeout); err != nil {
		errs = append(errs, err)
	}
	if base := strings.TrimSuffix(strings.TrimRight(c.EventsURL, "/"), enqueuePath); strings.HasSuffix(base, "/v2") || strings.HasSuffix(base, "/enqueue") {
		// .../v2 posts to .../v2/v2/enqueue: a 404, every time.
		errs = append(errs, fmt.Errorf("events_url: give the base URL, like %s; %s is appended", DefaultEventsURL, enqueuePath))
	}
	return errors.Join(errs...)
}

// Secrets declares the routing key: inline (lint warns) or in a file.
func (c *Config) Secrets() []channels.Secret {
	return []channels.Secret{{Inline: "routing_key", File: "routing_key_file"}}
}

// Files lists routing_key_file, checked as New checks the key it holds,
// so lint --check-secrets and a run agree on what is usable.
func (c *Config) Files() []channels.File {
	return []channels.File{{Option: "routing_key_file", Path: &c.RoutingKeyFile,
		Check: func(secret string) error { return checkRoutingKey("routing key", secret) }}}
}

// checkRoutingKey rejects a key PagerDuty would refuse anyway, so the
// mistake shows at lint time instead of at 3 a.m. The key itself is
// never quoted.
func checkRoutingKey(field, key string) error {
	if len(key) != routingKeyLen {
		return fmt.Errorf("%s: must be %d characters (an Events API v2 integration key), got %d", field, routingKeyLen, len(key))
	}
	// 32 bytes with a line break inside passes the length check and is
	// refused by PagerDuty at the first page.
	return channels.CheckToken(field, key)
}

// withDefaults returns c with every empty field given its default and the
// events URL reduced to the base go-pagerduty expects.
func (c Config) withDefaults() Config {
	if c.EventsURL == "" {
		c.EventsURL = DefaultEventsURL
	}
	c.EventsURL = strings.TrimSuffix(strings.TrimRight(c.EventsURL, "/"), enqueuePath)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Client == "" {
		c.Client = DefaultClient
	}
	return c
}

// Templates lists summary, source, component, group, class, each
// custom_details entry by name, and each link's href and text. A
// custom_details entry's Text points at a copy: a map's values cannot
// be pointed at.
func (c *Config) Templates() []channels.Template {
	ts := []channels.Template{
		{Option: "summary", Text: &c.Summary, Required: true},
		{Option: "source", Text: &c.Source, Required: true},
		{Option: "component", Text: &c.Component},
		{Option: "group", Text: &c.Group},
		{Option: "class", Text: &c.Class},
	}
	ts = channels.MapTemplates(ts, detailsOption, c.CustomDetails)
	for i := range c.Links {
		ts = append(ts,
			channels.Template{Option: fmt.Sprintf("%s.%d.href", linksOption, i), Text: &c.Links[i].Href},
			channels.Template{Option: fmt.Sprintf("%s.%d.text", linksOption, i), Text: &c.Links[i].Text})
	}
	return ts
}

// The options whose templates are read back with PartsUnder.
const (
	detailsOption = "custom_details"
	linksOption   = "links"
)
