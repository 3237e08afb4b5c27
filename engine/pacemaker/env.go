package pacemaker

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"notifier/internal/hint"
)

// inheritedEnv lists what the agent inherits from pacemakerd, systemd and
// the login environment rather than from the alert: it stays out of
// Event.Fields so fields hold only the alert and its instance attributes.
// A trailing '*' matches a prefix.
var inheritedEnv = []string{
	"PATH", "PWD", "OLDPWD", "HOME", "SHELL", "USER", "LOGNAME", "MAIL", "SHLVL", "_",
	"TERM", "LANG", "LC_*", "TZ",
	"HA_*", "PCMK_*", "OCF_*", "VALGRIND_OPTS", // pacemakerd's own settings
	"NOTIFY_SOCKET", "INVOCATION_ID", "JOURNAL_STREAM", "SYSTEMD_*", "LISTEN_*", // systemd
	"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "all_proxy",
}

// variables are the names Pacemaker gives an alert's variables after
// CRM_alert_ (or CRM_notify_), in 1.1.15 to 3.0.
var variables = []string{
	"kind", "version", "recipient", "node_sequence", "timestamp", "timestamp_epoch", "timestamp_usec",
	"node", "nodeid", "rsc", "task", "interval", "desc", "status", "target_rc", "rc", "exec_time",
	"attribute_name", "attribute_value", "select_kind", "select_attribute_name",
}

// CheckVariable rejects a name with Pacemaker's prefix that Pacemaker
// never sets — a typo in a hand-written alert (a policy test), which
// would otherwise quietly read as unset. Other names are instance
// attributes, and any name is one.
func CheckVariable(name string) error {
	for _, prefix := range []string{alertPrefix, notifyPrefix} {
		if rest, ok := strings.CutPrefix(name, prefix); ok && !slices.Contains(variables, rest) {
			names := make([]string, len(variables))
			for i, v := range variables {
				names[i] = prefix + v
			}
			return fmt.Errorf("%s is not a variable Pacemaker sets%s", name, hint.Suggest(name, names))
		}
	}
	return nil
}

// sensitiveWords mark a variable whose value must not travel: fields go
// to PagerDuty's custom_details and explain's output, and an instance
// attribute or an inherited variable may well be a password.
var sensitiveWords = []string{"PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL", "AUTH", "COOKIE", "SESSION", "PRIVATE"}

// redacted is what a sensitive value becomes in fields.
const redacted = "<redacted>"

// sensitive reports whether a variable's value must be redacted: its name
// says it is a secret, or it is a URL with credentials in it.
func sensitive(name, value string) bool {
	if strings.HasPrefix(name, alertPrefix) || strings.HasPrefix(name, notifyPrefix) {
		return false // Pacemaker's own variables: never secrets
	}
	upper := strings.ToUpper(name)
	for _, w := range sensitiveWords {
		if strings.Contains(upper, w) {
			return true
		}
	}
	if _, rest, ok := strings.Cut(value, "://"); ok {
		host, _, _ := strings.Cut(rest, "/")
		return strings.Contains(host, "@")
	}
	return false
}

func inherited(name string) bool {
	for _, p := range inheritedEnv {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// fields keeps every raw variable of the alert under its full name plus
// the instance attributes. The CRM_notify_* twins are dropped when
// CRM_alert_* is the source: they repeat the same values.
func fields(env map[string]string, prefix string) map[string]string {
	out := make(map[string]string, len(env))
	for k, val := range env {
		if inherited(k) || (prefix == alertPrefix && strings.HasPrefix(k, notifyPrefix)) {
			continue
		}
		if sensitive(k, val) {
			val = redacted
		}
		out[k] = val
	}
	return out
}

// ParseEnvFile parses the .env format of the samples (for explain --event
// FILE, tests and the demo): one KEY=VALUE per line, split at the first
// '=' with the value kept verbatim (values contain spaces and '='), '#'
// comment lines and blank lines ignored, a trailing CR dropped. A line
// without '=', an empty name or a name given twice is an error with its
// line number; the line itself is not quoted, since instance attributes
// may hold secrets.
func ParseEnvFile(data []byte) (map[string]string, error) {
	env := make(map[string]string)
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		s := strings.TrimSuffix(string(line), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, val, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: missing '=' (want KEY=VALUE)", n)
		}
		if k == "" {
			return nil, fmt.Errorf("line %d: empty variable name", n)
		}
		if _, dup := env[k]; dup {
			return nil, fmt.Errorf("line %d: variable %q set twice", n, k)
		}
		env[k] = val
	}
	return env, nil
}

// EnvMap turns os.Environ()-style "K=V" slices into a map. As with
// os.Getenv, the first of duplicate names wins; entries without a name
// (Windows' "=C:=C:\" entries) or without '=' are skipped.
func EnvMap(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, seen := env[k]; !seen {
			env[k] = val
		}
	}
	return env
}
