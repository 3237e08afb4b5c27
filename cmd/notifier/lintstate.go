package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"notifier/engine"
	"notifier/engine/policy"
)

// stateDirProblems says when the directory of the state file the policy
// would use does not exist or is not writable by this user: every run
// would then fail open (deliver without suppression, exit 1) until it is
// made. It is a warning, not an error: the policy itself is fine, and
// lint in CI runs on another machine, so lint makes this check only
// where the policy runs — with --check-secrets, or on the installed
// policy (no PATH) — as for the secret files.
//
// The finding is at settings.state.path when the policy sets it, else
// at the file's settings (or its top) naming the default.
func (a *app) stateDirProblems(srcs []policy.Source, p *engine.Policy) policy.Problems {
	if p == nil || p.Settings.RedisURL != "" && p.Settings.StatePath == "" {
		return nil
	}
	path := a.statePath(p)
	dir := filepath.Dir(path)
	var why string
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		why = "does not exist"
	case err != nil:
		why = "cannot be read: " + err.Error()
	case !st.IsDir():
		why = "is not a directory"
	case unix.Access(dir, unix.W_OK) != nil:
		why = fmt.Sprintf("is not writable by this user (uid %d)", os.Getuid())
	default:
		return nil
	}
	file, line, col, what := stateSetting(srcs, p.Settings.StatePath != "")
	if p.Settings.StatePath == "" {
		what = "the default state file " + path
		if a.env["NOTIFIER_STATE_PATH"] != "" {
			what = "the state file " + path + " ($NOTIFIER_STATE_PATH)"
		}
	}
	return policy.Problems{{File: file, Line: line, Col: col, Severity: "warning", Check: "state-dir",
		Message: fmt.Sprintf("%s: directory %s %s; every run would deliver without suppression and exit 1 (create it writable by root and hacluster: install -d -m 2770 -g haclient %s)", what, dir, why, dir)}}
}

// stateSetting finds where the state is set (explicit) or where settings
// are (else the first file's top), for the finding's position.
func stateSetting(srcs []policy.Source, explicit bool) (file string, line, col int, what string) {
	for _, src := range srcs {
		var doc yaml.Node
		if yaml.Unmarshal(src.Data, &doc) != nil || len(doc.Content) == 0 {
			continue
		}
		settings := policy.MappingValue(doc.Content[0], "settings")
		if settings == doc.Content[0] {
			continue
		}
		if n := policy.MappingValue(policy.MappingValue(settings, "state"), "path"); explicit && n.Kind == yaml.ScalarNode {
			return src.Name, n.Line, n.Column, "settings.state.path"
		}
		return src.Name, settings.Line, settings.Column, "settings"
	}
	if len(srcs) == 0 {
		return "", 0, 0, ""
	}
	return srcs[0].Name, 1, 1, ""
}
