package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"notifier/channels"
	"notifier/channels/registry"
	"notifier/engine"
	"notifier/engine/event"
	"notifier/engine/policy"
)

// lintCmd checks policies the way a run loads them — the same loader,
// compiler and channel checks — and prints every problem at once:
// `file:line:col: severity: message [check]`. Exit 0 without errors
// (warnings too, unless --strict), 1 with errors, 2 for usage.
func (a *app) lintCmd(args []string) error {
	fs := a.newFlags("lint")
	format := fs.String("format", "text", "output format: text, json (an array of findings) or github (workflow annotations)")
	strict := fs.Bool("strict", false, "warnings fail the lint too (exit 1)")
	checkSecrets := fs.Bool("check-secrets", false, "also check that secret files exist and are not readable by others (run where the secrets are)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: notifier lint [--format text|json|github] [--strict] [--check-secrets] [PATH...]\n\nPATH is a policy file or directory; default $NOTIFIER_CONFIG, else %s.\n\n", defaultConfig)
		fs.PrintDefaults()
	}
	paths, err := parseFlagsArgs(fs, args)
	if err != nil {
		return err
	}
	switch *format {
	case "text", "json", "github":
	default:
		return usageErr("lint: --format %q: want text, json or github", *format)
	}
	defaulted := len(paths) == 0 // the installed policy: check this machine too
	if defaulted {
		paths = []string{a.configPath("")}
	}
	var all policy.Problems
	files, unreadable := 0, 0
	for _, path := range paths {
		srcs, err := policy.ReadSources(path)
		if err != nil {
			// Said as a finding, so the other paths' findings still come
			// (and --format json stays JSON); the exit status is 2.
			all = append(all, policy.Problem{File: path, Severity: "error", Check: "read", Message: a.lintReadError(path, err, defaulted)})
			unreadable++
			continue
		}
		files += len(srcs)
		opts, w := lintOptions(*checkSecrets)
		p, ps := engine.Lint(srcs, opts)
		all = append(all, ps...)
		var cluster event.ClusterDefaults
		if p != nil {
			cluster = p.Settings.Cluster
		}
		// Every template that compiled, rendered as a run would.
		samples, err := templateSamples(cluster)
		if err != nil {
			return err
		}
		all = append(all, w.w.Templates().Lint(p, samples)...)
		if *checkSecrets || defaulted {
			all = append(all, a.stateDirProblems(srcs, p)...)
		}
	}
	if err := printProblems(a.stdout, *format, all); err != nil {
		return err
	}
	errs := len(all.Errors())
	warns := len(all) - errs
	if *format == "text" {
		fmt.Fprintf(a.stderr, "lint: %d %s checked: %d %s, %d %s\n", files, plural(files, "file"), errs, plural(errs, "error"), warns, plural(warns, "warning"))
	}
	if unreadable > 0 {
		return &exitError{code: exitUsage}
	}
	if errs > 0 || (*strict && warns > 0) {
		return problemsFound()
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// lintOptions are the run's channel and template checks plus the checks
// that only lint makes: inline secrets always, the config's own advice
// (Lint) for a valid channel, and files with --check-secrets. The
// wiring has the templates the load compiled.
func lintOptions(checkFiles bool) (policy.Options, *wiring) {
	w := newWiring()
	load := w.loadOptions()
	check := load.CheckChannel
	opts := policy.Options{CheckTemplates: load.CheckTemplates, CheckChannel: func(spec *policy.ChannelSpec) policy.Problems {
		ps := check(spec)
		if t, ok := registry.Lookup(spec.Type); ok {
			ps = append(ps, inlineSecrets(spec, t.NewConfig())...)
		}
		if cfg, ok := w.w.Config(spec.Name); ok {
			ps = append(ps, lintProblems(spec, cfg.Lint())...)
			if checkFiles {
				ps = append(ps, secretFiles(spec, cfg)...)
			}
		}
		return ps
	}}
	if checkFiles {
		// A Redis password file is read as a channel's secret is.
		opts.CheckSecretFile = func(path string) []string { return channels.SecretFileProblems(path, nil) }
	}
	return opts, w
}

// inlineSecrets warns about every secret the config declares that is
// written into the policy itself, where it ends up in the repository and
// every copy — whether or not the rest of the channel is valid. It never
// quotes the secret.
func inlineSecrets(spec *policy.ChannelSpec, cfg channels.Config) policy.Problems {
	var ps policy.Problems
	for _, s := range cfg.Secrets() {
		key := s.Inline
		n := policy.MappingValue(spec.Node, key)
		if key == "" || n == spec.Node || n.Value == "" {
			continue
		}
		ps = append(ps, policy.Problem{File: spec.File, Line: n.Line, Col: n.Column, Severity: "warning", Check: "inline-secret",
			Message: fmt.Sprintf("channels.%s.%s: secret given inline: it is in the policy file and every copy of it; use %s_file (mode 0640)", spec.Name, key, key)})
	}
	return ps
}

// lintProblems turns a config's Lint error into problems: each
// *channels.Advice a warning at its option (a timeout under a second),
// anything else an error, placed as Validate's errors are.
func lintProblems(spec *policy.ChannelSpec, err error) policy.Problems {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var ps policy.Problems
	for _, err := range errs {
		var a *channels.Advice
		if !errors.As(err, &a) {
			ps = append(ps, validationProblems(spec, err)...)
			continue
		}
		n := policy.MappingValue(spec.Node, a.Option)
		ps = append(ps, policy.Problem{File: spec.File, Line: n.Line, Col: n.Column, Severity: "warning", Check: a.Check,
			Message: fmt.Sprintf("channels.%s.%s: %s", spec.Name, a.Option, a.Message)})
	}
	return ps
}

// secretFiles checks a channel's files where they are read from, with
// the channel's own reading and content checks (File.Check), so that
// lint passes only what the run can use: a secret file (one the config
// declares in Secrets) missing, unreadable, not a regular file, readable
// by every user, a link to another user's file, or holding what the
// channel cannot use (a routing key of the wrong length or with a line
// break, a webhook URL that does not parse), or any other file option
// missing or unusable (a ca_file without a certificate), is an error. No
// message holds the content.
func secretFiles(spec *policy.ChannelSpec, cfg channels.Config) policy.Problems {
	var ps policy.Problems
	add := func(key, severity, msg string) {
		n := policy.MappingValue(spec.Node, key)
		ps = append(ps, policy.Problem{File: spec.File, Line: n.Line, Col: n.Column, Severity: severity, Check: "secret-file",
			Message: fmt.Sprintf("channels.%s.%s: %s", spec.Name, key, msg)})
	}
	for _, f := range cfg.Files() {
		path := *f.Path
		if path == "" {
			continue
		}
		check := func(content string) error {
			if f.Check == nil {
				return nil
			}
			return f.Check(content)
		}
		if channels.IsSecretFile(cfg, f.Option) {
			for _, e := range channels.SecretFileProblems(path, check) {
				add(f.Option, "error", e)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			add(f.Option, "error", strings.TrimPrefix(err.Error(), "open "))
		} else if err := check(string(b)); err != nil {
			add(f.Option, "error", fmt.Sprintf("%s: %v", path, err))
		}
	}
	return ps
}

// printProblems writes findings in one of lint's formats.
func printProblems(w io.Writer, format string, ps policy.Problems) error {
	switch format {
	case "json":
		if ps == nil {
			ps = policy.Problems{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ps)
	case "github":
		for _, p := range ps {
			where := "file=" + ghProperty(p.File)
			if p.Line > 0 { // a file that could not be read has no line
				where += fmt.Sprintf(",line=%d,col=%d", p.Line, p.Col)
			}
			fmt.Fprintf(w, "::%s %s,title=%s::%s\n", p.Severity, where, ghProperty("notifier lint: "+p.Check), ghMessage(p.Message))
		}
	default:
		for _, p := range ps {
			fmt.Fprintln(w, lintLine(p))
		}
	}
	return nil
}

// lintLine is a finding as text: file:line:col: severity: message [check].
func lintLine(p policy.Problem) string {
	pos := p.File
	if p.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
	return fmt.Sprintf("%s: %s: %s [%s]", pos, p.Severity, p.Message, p.Check)
}

// GitHub workflow commands escape %, CR and LF in messages, and also :
// and , in properties.
var (
	ghMessageEscaper  = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	ghPropertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func ghMessage(s string) string  { return ghMessageEscaper.Replace(s) }
func ghProperty(s string) string { return ghPropertyEscaper.Replace(s) }
