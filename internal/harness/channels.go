package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"notifier/internal/apitest"
)

// endpointOptions are, by channel type, the options that say where a
// channel delivers and with which secret: the harness replaces them with
// its local endpoint's and keeps every other option (timeouts, tags,
// headers, from/to/cc, templates), so that what arrives is what the
// policy makes.
var endpointOptions = map[string][]string{
	"pagerduty": {"routing_key", "routing_key_file", "events_url"},
	"slack":     {"webhook_url", "webhook_url_file", "token", "token_file", "channel", "api_url"},
	"syslog":    {"address", "ca_file"},
	"webhook":   {"url", "url_file"},
	"msteams":   {"webhook_url", "webhook_url_file"},
	"email":     {"host", "port", "tls", "ca_file", "username", "username_file", "password", "password_file"},
}

// secretFiles are the files, in the harness's directory, that hold the
// local endpoints' secrets (the URLs of the webhooks are secrets too).
type secretFiles struct {
	routingKey, slackURL, slackToken, webhookURL, teamsURL, smtpPassword string
}

// writeSecrets writes the secret files the local channels name.
func (h *Harness) writeSecrets() (secretFiles, error) {
	f := secretFiles{
		routingKey:   filepath.Join(h.Dir, "pagerduty.key"),
		slackURL:     filepath.Join(h.Dir, "slack.url"),
		slackToken:   filepath.Join(h.Dir, "slack.token"),
		webhookURL:   filepath.Join(h.Dir, "webhook.url"),
		teamsURL:     filepath.Join(h.Dir, "msteams.url"),
		smtpPassword: filepath.Join(h.Dir, "smtp.password"),
	}
	for path, text := range map[string]string{
		f.routingKey:   RoutingKey,
		f.slackURL:     h.Slack.WebhookURL(),
		f.slackToken:   h.Slack.Token(),
		f.webhookURL:   h.Webhook.URL() + WebhookPath,
		f.teamsURL:     h.Teams.URL(),
		f.smtpPassword: SMTPPassword,
	} {
		if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// localChannel points the channel spec n at the harness's endpoint for
// its type, starting the mailpit for the first email channel.
func (h *Harness) localChannel(n *yaml.Node, f secretFiles) error {
	var spec struct{ Type string }
	if err := n.Decode(&spec); err != nil {
		return err
	}
	var local [][2]string
	switch spec.Type {
	case "pagerduty":
		local = [][2]string{{"routing_key_file", f.routingKey}, {"events_url", h.PagerDuty.URL()}}
	case "slack":
		local = [][2]string{{"webhook_url_file", f.slackURL}}
		if policyHas(n, "token", "token_file") {
			// The Web API, as the policy says: messages can be updated
			// in place (a resolve, a group's update).
			local = [][2]string{{"token_file", f.slackToken}, {"channel", "#" + apitest.SlackChannelName}, {"api_url", h.Slack.APIURL()}}
		}
	case "syslog":
		local = [][2]string{{"address", h.Syslog.Address()}}
	case "webhook":
		local = [][2]string{{"url_file", f.webhookURL}}
	case "msteams":
		local = [][2]string{{"webhook_url_file", f.teamsURL}}
	case "email":
		if h.Mail == nil {
			mp, err := apitest.NewMailpit(apitest.MailpitOptions{TLS: apitest.MailpitSTARTTLS, Auth: SMTPUser + ":" + SMTPPassword})
			if err != nil {
				return fmt.Errorf("the local SMTP server: %w", err)
			}
			h.Mail = mp
		}
		local = [][2]string{{"host", h.Mail.Host()}, {"port", strconv.Itoa(h.Mail.Port())}, {"tls", "starttls"},
			{"ca_file", h.Mail.CAFile()}, {"username", SMTPUser}, {"password_file", f.smtpPassword}}
	default:
		return fmt.Errorf("channel type %q has no local endpoint", spec.Type)
	}
	drop := endpointOptions[spec.Type]
	kept := n.Content[:0]
	for k := 0; k+1 < len(n.Content); k += 2 {
		if !slices.Contains(drop, n.Content[k].Value) {
			kept = append(kept, n.Content[k], n.Content[k+1])
		}
	}
	n.Content = kept
	for _, kv := range local {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: kv[0]}, &yaml.Node{Kind: yaml.ScalarNode, Value: kv[1]})
	}
	seen := map[string]bool{}
	for _, kv := range local {
		seen[kv[1]] = true // the local endpoint's own files
	}
	return h.localSecretFiles(n, seen)
}

// policyHas says the mapping n has one of keys.
func policyHas(n *yaml.Node, keys ...string) bool {
	for k := 0; k+1 < len(n.Content); k += 2 {
		if slices.Contains(keys, n.Content[k].Value) {
			return true
		}
	}
	return false
}

// localSecretFiles points every other file option left in n (a webhook's
// header_files entries and hmac_secret_file: `file` or `*_file` keys, at
// any depth) at a file of the harness's directory holding a made-up
// secret, so a policy naming /etc/notifier/... runs as written here.
func (h *Harness) localSecretFiles(n *yaml.Node, seen map[string]bool) error {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if err := h.localSecretFiles(c, seen); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for k := 0; k+1 < len(n.Content); k += 2 {
			key, val := n.Content[k].Value, n.Content[k+1]
			if val.Kind != yaml.ScalarNode {
				if err := h.localSecretFiles(val, seen); err != nil {
					return err
				}
				continue
			}
			if key != "file" && !strings.HasSuffix(key, "_file") || seen[val.Value] {
				continue
			}
			local := filepath.Join(h.Dir, "secret-"+strconv.Itoa(len(seen)))
			if err := os.WriteFile(local, []byte("harness-secret-"+strconv.Itoa(len(seen))+"\n"), 0o600); err != nil {
				return err
			}
			seen[local] = true
			val.Value = local
		}
	}
	return nil
}
