// Package registry is the list of channel types a policy may use. Adding
// a channel is one package under channels/ and one line in Types.
package registry

import (
	"slices"

	"notifier/channels"
	"notifier/channels/email"
	"notifier/channels/msteams"
	"notifier/channels/pagerduty"
	"notifier/channels/slack"
	"notifier/channels/syslog"
	"notifier/channels/webhook"
)

// Types are the channel types, sorted by name.
var Types = []channels.Type{
	email.Type,
	msteams.Type,
	pagerduty.Type,
	slack.Type,
	syslog.Type,
	webhook.Type,
}

// Lookup returns the type a policy calls name.
func Lookup(name string) (channels.Type, bool) {
	for _, t := range Types {
		if t.Name == name {
			return t, true
		}
	}
	return channels.Type{}, false
}

// Names are the types' names, sorted, for error messages.
func Names() []string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = t.Name
	}
	slices.Sort(names)
	return names
}
