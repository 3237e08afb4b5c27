package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"notifier/engine/pacemaker"
)

// defaultConfig is where CMON's and Pacemaker's invocations find the
// policy when nothing says otherwise: CMON runs plugins with no arguments.
const defaultConfig = "/etc/notifier/notifier.yaml"

// app is one invocation: its I/O and environment are parameters so tests
// run commands in-process exactly as the binary does.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            map[string]string
	start          time.Time
	// obs is what run and flush tell about themselves (observe.go); nil
	// for the other commands.
	obs *observer
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, env: pacemaker.EnvMap(environ), start: time.Now()}
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return nil
		case "-v", "-version", "--version":
			return a.versionCmd(args[1:])
		}
	}
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	return a.command(cmd, args)
}

// command runs one command by name.
func (a *app) command(cmd string, args []string) error {
	switch cmd {
	case "run":
		return a.runCmd(args)
	case "explain":
		return a.explainCmd(args)
	case "version":
		return a.versionCmd(args)
	case "flush":
		return a.flushCmd(args)
	case "serve":
		return a.serveCmd(args)
	case "silence":
		return a.silenceCmd(args)
	case "history":
		return a.historyCmd(args)
	case "status":
		return a.statusCmd(args)
	case "lint":
		return a.lintCmd(args)
	case "test":
		return a.testCmd(args)
	case "schema":
		return a.schemaCmd(args)
	case "help":
		// help CMD is CMD -h: the same text, on stdout, exit 0.
		if len(args) > 0 && args[0] != "help" {
			return a.command(args[0], []string{"-h"})
		}
		fmt.Fprint(a.stdout, usage)
		return nil
	}
	fmt.Fprint(a.stderr, usage)
	return usageErr("unknown command %q", cmd)
}

const usage = `usage: notifier [command] [flags]

commands:
  run       (default) decide and deliver one event from Pacemaker's environment or stdin
  explain   show what would happen to one event, without delivering
  lint      check policy files: every problem at its file:line:col
  test      run policy unit tests (events at virtual times, expected deliveries)
  schema    print the JSON Schema of the policy format
  flush     deliver what the outbox holds
  serve     run the resident engine: decide what the drops spool (foreground)
  silence   add, list or expire silences
  history   recent decisions, deliveries, queued and given-up deliveries
  status    is notifier healthy: engine, spool, outbox, dead letters, policy, state
  version   print version information (also: notifier --version)
  help      this list, or a command's help: notifier help COMMAND

Run 'notifier help COMMAND' or 'notifier COMMAND -h' for a command's flags.
`

// newFlags makes a command's flag set; parse errors become usage errors.
// configUsage is how every command's --config flag is described.
const configUsage = "policy file or directory (default $NOTIFIER_CONFIG, else " + defaultConfig + ")"

func (a *app) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("notifier "+name, flag.ContinueOnError)
	fs.SetOutput(&flagOutput{stdout: a.stdout, stderr: a.stderr})
	return fs
}

// flagOutput holds what a flag set prints while parsing: its help, asked
// for with -h, goes to stdout (exit 0); with a parse error, the usage
// goes to stderr beside the error (exit 2).
type flagOutput struct {
	bytes.Buffer
	stdout, stderr io.Writer
}

// flush sends what was printed to stdout for help, else to stderr.
func flushFlagOutput(fs *flag.FlagSet, help bool) {
	fo, ok := fs.Output().(*flagOutput)
	if !ok {
		return
	}
	if help {
		fo.WriteTo(fo.stdout)
	} else {
		fo.WriteTo(fo.stderr)
	}
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseFlagsArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErr("%s: unexpected argument %q", fs.Name(), rest[0])
	}
	return nil
}

// parseFlagsArgs parses flags that may come before, between or after the
// positional arguments (`notifier lint policies/ --strict`), and returns
// the positional ones; after "--" everything is positional.
func parseFlagsArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		err := fs.Parse(args)
		flushFlagOutput(fs, errors.Is(err, flag.ErrHelp))
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &exitError{code: exitOK}
			}
			return nil, &exitError{code: exitUsage}
		}
		left := fs.Args()
		if consumed := len(args) - len(left); len(left) == 0 || (consumed > 0 && args[consumed-1] == "--") {
			return append(rest, left...), nil
		}
		rest, args = append(rest, left[0]), left[1:]
	}
}

// configPath resolves --config, then $NOTIFIER_CONFIG, then the default.
func (a *app) configPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if p := a.env["NOTIFIER_CONFIG"]; p != "" {
		return p
	}
	return defaultConfig
}

// policyMissing says, when err is that the policy at path does not exist,
// how to name another: CMON and Pacemaker run notifier with no flags, so
// the default path is what a new user meets first.
func policyMissing(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (give the policy file or directory with --config PATH or $NOTIFIER_CONFIG)", err)
	}
	return err
}

// lintReadError is policyMissing for lint, which takes the policy as
// PATH arguments (no --config): said only when no PATH was given.
func (a *app) lintReadError(path string, err error, defaulted bool) string {
	if !defaulted || policyMissing(path, err) == err {
		return err.Error()
	}
	return fmt.Sprintf("%v (give the policy file or directory as PATH, or set $NOTIFIER_CONFIG)", err)
}

// defaultCacheDir holds the last good policy of each user
// (engine/lastgood); the packages create /var/lib/notifier
// group-writable for haclient.
const defaultCacheDir = "/var/lib/notifier/cache"

// cacheDir is $NOTIFIER_CACHE_DIR, else the default; "off" keeps no last
// good policy.
func (a *app) cacheDir() string {
	switch d := a.env["NOTIFIER_CACHE_DIR"]; d {
	case "":
		return defaultCacheDir
	case "off":
		return ""
	default:
		return d
	}
}
