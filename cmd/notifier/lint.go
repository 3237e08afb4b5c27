package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"notifier/channels"
	"notifier/engine"
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
	var all engine.Problems
	files, unreadable := 0, 0
	for _, path := range paths {
		srcs, err := engine.ReadSources(path)
		if err != nil {
			// Said as a finding, so the other paths' findings still come
			// (and --format json stays JSON); the exit status is 2.
			all = append(all, engine.Problem{File: path, Severity: "error", Check: "read", Message: a.lintReadError(path, err, defaulted)})
			unreadable++
			continue
		}
		files += len(srcs)
		p, ps := engine.Compile(srcs, lintOptions(*checkSecrets))
		all = append(all, ps...)
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

// lintOptions are the run's channel checks plus the secret checks that
// only lint makes: inline secrets always, files with --check-secrets.
func lintOptions(checkFiles bool) engine.LoadOptions {
	w := newWiring()
	check := w.loadOptions().CheckChannel
	opts := engine.LoadOptions{CheckChannel: func(spec *engine.ChannelSpec) engine.Problems {
		ps := check(spec)
		if ct, ok := channelTypes[spec.Type]; ok {
			ps = append(ps, inlineSecrets(spec, ct.config)...)
		}
		if cfg, ok := w.configs[spec.Name]; ok {
			ps = append(ps, shortTimeouts(spec, cfg)...)
			if l, ok := cfg.(interface{ Lint() error }); ok {
				if err := l.Lint(); err != nil {
					ps = append(ps, validationProblems(spec, err)...)
				}
			}
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
	return opts
}

// inlineSecrets warns about every secret (tag secret:"inline") written
// into the policy itself, where it ends up in the repository and every
// copy — whether or not the rest of the channel is valid. It never quotes
// the secret.
func inlineSecrets(spec *engine.ChannelSpec, config reflect.Type) engine.Problems {
	var ps engine.Problems
	for i := range config.NumField() {
		f := config.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		n := engine.MappingValue(spec.Node, key)
		if f.Tag.Get("secret") != "inline" || n == spec.Node || n.Value == "" {
			continue
		}
		ps = append(ps, engine.Problem{File: spec.File, Line: n.Line, Col: n.Column, Severity: "warning", Check: "inline-secret",
			Message: fmt.Sprintf("channels.%s.%s: secret given inline: it is in the policy file and every copy of it; use %s_file (mode 0640)", spec.Name, key, key)})
	}
	return ps
}

// shortTimeouts warns about a channel timeout under a second (20ms for
// 20s): every attempt would time out, the page waits in the queue for a
// flush that times out again, and nothing fails loudly.
func shortTimeouts(spec *engine.ChannelSpec, cfg any) engine.Problems {
	var ps engine.Problems
	v := reflect.ValueOf(cfg)
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		d, ok := v.Field(i).Interface().(time.Duration)
		if !ok || d <= 0 || d >= time.Second {
			continue
		}
		n := engine.MappingValue(spec.Node, key)
		ps = append(ps, engine.Problem{File: spec.File, Line: n.Line, Col: n.Column, Severity: "warning", Check: "timeout",
			Message: fmt.Sprintf("channels.%s.%s: %s is under a second: deliveries would time out and wait in the queue (20ms for 20s?)", spec.Name, key, d)})
	}
	return ps
}

// secretFiles checks a channel's files where they are read from, with
// the channel's own reading and content checks (CheckFile), so that lint
// passes only what the run can use: a secret file (tag secret:"file")
// missing, unreadable, not a regular file, readable by every user, a
// link to another user's file, or holding what the channel cannot use
// (a routing key of the wrong length or with a line break, a webhook URL
// that does not parse), or any other *_file missing or unusable (a
// ca_file without a certificate), is an error. No message holds the
// content.
func secretFiles(spec *engine.ChannelSpec, cfg any) engine.Problems {
	var ps engine.Problems
	add := func(key, severity, msg string) {
		n := engine.MappingValue(spec.Node, key)
		ps = append(ps, engine.Problem{File: spec.File, Line: n.Line, Col: n.Column, Severity: severity, Check: "secret-file",
			Message: fmt.Sprintf("channels.%s.%s: %s", spec.Name, key, msg)})
	}
	checker, _ := cfg.(interface {
		CheckFile(key, content string) error
	})
	v := reflect.ValueOf(cfg)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		path, ok := v.Field(i).Interface().(string)
		if !ok || path == "" || !strings.HasSuffix(key, "_file") {
			continue
		}
		check := func(content string) error {
			if checker == nil {
				return nil
			}
			return checker.CheckFile(key, content)
		}
		if f.Tag.Get("secret") == "file" {
			for _, e := range channels.SecretFileProblems(path, check) {
				add(key, "error", e)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			add(key, "error", strings.TrimPrefix(err.Error(), "open "))
		} else if err := check(string(b)); err != nil {
			add(key, "error", fmt.Sprintf("%s: %v", path, err))
		}
	}
	return ps
}

// printProblems writes findings in one of lint's formats.
func printProblems(w io.Writer, format string, ps engine.Problems) error {
	switch format {
	case "json":
		if ps == nil {
			ps = engine.Problems{}
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
func lintLine(p engine.Problem) string {
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
